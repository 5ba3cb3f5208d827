"""The preprocess stage's Processing job: `python3 -c BOOTSTRAP --code ... --task ... --data ...` in the container.

It does what the function does for a smaller upload (preprocess_core.prepare_upload) and writes each object
where its ProcessingOutput gathers it; SageMaker uploads them when the job ends. Its split manifest goes to
the staging key. A file that cannot be used ends the job Failed, its reason in /opt/ml/output/message
(the job's ExitMessage), so the run's error record says what is wrong with the file.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from pipeline_common import layout
from pipeline_common.errors import InputRejected
from pipeline_common.models import PreprocessTask

import preprocess_core
import processing_core



def _write(output: Path, key: str, body: bytes | Path) -> None:
    path = output / processing_core.local_output(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(body, Path):
        shutil.move(body, path)
    else:
        path.write_bytes(body)


def run(task_path: Path, data_path: Path, output: Path) -> dict:
    task = PreprocessTask.model_validate_json(task_path.read_bytes())
    # the upload's path, read a slice at a time; the training and test files written to a scratch folder on the
    # job's volume and cut there into parts: neither is ever in memory whole
    with tempfile.TemporaryDirectory(dir=output.parent, prefix="scratch-") as scratch:
        prepared, objects, manifest = preprocess_core.prepare_upload(data_path, task, Path(scratch))
        for key, body, _content_type in objects:
            _write(output, key, body)
    _write(output, layout.RunKeys(task.run_id).staged_split_manifest, manifest.model_dump_json(indent=2).encode())
    return {"rows": prepared.profile["rows"], "n_train": prepared.n_train, "n_test": prepared.n_test,
            "parts": len(manifest.parts("train"))}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--code")
    parser.add_argument("--task", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--message", type=Path, required=True, help="its first KB becomes the job's ExitMessage")
    args = parser.parse_args(argv)
    try:
        summary = run(args.task, args.data, args.output)
    except InputRejected as rejected:
        _message(args.message, {"rejected": rejected.reason, "details": rejected.details})
        print(f"input rejected: {rejected.reason}", file=sys.stderr)
        return 1
    _message(args.message, summary)
    print(json.dumps(summary))
    return 0


def _message(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, default=str)
    path.write_text(text if len(text.encode()) <= 1024 else json.dumps({k: document[k] for k in document if k != "details"}))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
