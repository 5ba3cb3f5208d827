"""mlpipe spec infer: draft a dataset spec from a CSV and its target, for a person to edit and keep in git."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline_common.errors import InputRejected

from .display import say


def cmd_spec_infer(args: argparse.Namespace) -> int:
    from tabular.infer import infer

    source = Path(args.file)
    if not source.is_file():
        say(f"mlpipe: {source} is not a file")
        return 2
    try:
        draft = infer(source.read_bytes(), args.target, args.dataset or source.stem, args.problem)
    except InputRejected as err:
        say(f"mlpipe: {err.reason}")
        return 2
    text = draft.yaml(source.name)
    if args.out:
        Path(args.out).write_text(text)
        say(f"wrote the draft spec of dataset {draft.spec.name} ({draft.spec.problem_type} on {draft.spec.target}) to {args.out}")
    else:
        print(text, end="", flush=True)
    return 0
