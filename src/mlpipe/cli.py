"""mlpipe: run the pipeline's chain on a CSV, follow it stage by stage, and look back at runs."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from .event_cmd import add_parser as add_event_parser
from .home import CLOUD_RECORD, history_dir, home

PROBLEM_TYPES = ["binary", "multiclass", "regression"]


def lazy(name: str):
    """The command ``module:function``, imported when it runs: each command loads only its own libraries
    (boto3 alone takes half a second to import)."""
    module, function = name.split(":")

    def run(args: argparse.Namespace) -> int:
        return getattr(importlib.import_module(f".{module}", __package__), function)(args)

    run.__qualname__ = name
    return run


def _offline_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="change a Parameter of the offline stack, e.g. --param NumRound=50; kept for later commands (repeatable)")
    faults = parser.add_argument_group("fault injection (offline cloud)")
    faults.add_argument("--duplicate-events", action="store_true", help="deliver every event twice, at the same moment")
    faults.add_argument("--fail", action="append", default=[], choices=["processing", "train", "transform"],
                        help="make that SageMaker job end Failed with a reason (repeatable)")
    faults.add_argument("--throttle", type=int, default=0, metavar="N", help="answer the first N SageMaker calls with ThrottlingException")
    parser.set_defaults(offline_cloud=True)


def _run_parser(sub) -> None:
    run = sub.add_parser("run", help="run the whole chain on FILE and follow it (offline, or on a deployed stack)")
    run.add_argument("file", help="a CSV: Titanic-shaped for the default dataset, or any table with --target or --spec")
    dataset = run.add_argument_group("dataset (default: the stack's default dataset, Titanic)")
    dataset.add_argument("--target", help="the column to predict; without --spec, a spec is inferred from the file and saved with the run")
    dataset.add_argument("--problem", choices=PROBLEM_TYPES, help="the problem type (inferred from the target when absent)")
    dataset.add_argument("--dataset", help="the dataset's name (default with --target or --spec: the file's stem)")
    dataset.add_argument("--spec", help="a dataset spec (YAML) to run with; uploaded to the dataset's key")
    run.add_argument("--out", help="mirror the bucket's objects into this folder")
    run.add_argument("--timeout", type=float, default=600, help="seconds to wait for the run to end (default 600)")
    run.add_argument("--stack", help="run on this deployed stack (its bucket from the stack's Outputs) instead of offline")
    run.add_argument("--region", help="the stack's region (default: your AWS configuration)")
    _offline_arguments(run)
    run.set_defaults(func=lazy("run_cmd:cmd_run"))


def _where(parser: argparse.ArgumentParser, offline_flags: bool = False) -> None:
    parser.add_argument("--stack", help="act on this deployed stack instead of the offline account (MLPIPE_HOME)")
    parser.add_argument("--region", help="the stack's region")
    parser.set_defaults(offline_cloud=True)
    if not offline_flags:  # the commands with _offline_arguments have --param already
        parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                            help="change a Parameter of the offline stack, kept for later commands (e.g. EnableEndpoint=true)")


def _model_parsers(sub) -> None:
    models = sub.add_parser("models", help="a dataset's model versions: status, gate metric, run, creation time")
    models.add_argument("--dataset", help="the dataset (default: the stack's default dataset)")
    models.add_argument("--json", action="store_true", help="print a JSON list of versions")
    _where(models)
    models.set_defaults(func=lazy("registry_cmd:cmd_models"))
    for name, func, verb in (("approve", lazy("registry_cmd:cmd_approve"), "approve"), ("reject", lazy("registry_cmd:cmd_reject"), "reject")):
        decide = sub.add_parser(name, help=f"{verb} a model version (manual approval mode, or to override the gate)")
        decide.add_argument("version", type=int, help="the version number, as `mlpipe models` lists it")
        decide.add_argument("--dataset", help="the dataset (default: the stack's default dataset)")
        decide.add_argument("--note", help="why (kept as the version's approval description)")
        _where(decide)
        decide.set_defaults(func=func)

    score = sub.add_parser("score", help="score FILE with its dataset's approved version, follow it, fetch the predictions")
    score.add_argument("file", help="a CSV with the dataset's columns (the target may be absent)")
    score.add_argument("--dataset", help="the dataset (default: the stack's default dataset)")
    score.add_argument("--out", help="copy predictions/<dataset>/<run>/ into this folder")
    score.add_argument("--timeout", type=float, default=600)
    _where(score, offline_flags=True)
    _offline_arguments(score)
    score.set_defaults(func=lazy("score_cmd:cmd_score"))

    predict = sub.add_parser("predict", help="predict rows with the dataset's real-time endpoint (EnableEndpoint=true)")
    predict.add_argument("rows", metavar="ROWS_JSON", help='a JSON list of rows, e.g. \'[{"Sex": "female", "Age": 30, ...}]\', or @file.json')
    predict.add_argument("--dataset", help="the dataset (default: the stack's default dataset)")
    _where(predict)
    predict.set_defaults(func=lazy("predict_cmd:cmd_predict"))

    reset = sub.add_parser("reset", help="forget the offline account in MLPIPE_HOME (bucket, registry, endpoints, parameters)")
    reset.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    reset.set_defaults(func=lazy("cloud_cmd:cmd_reset"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlpipe", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _run_parser(sub)
    _model_parsers(sub)

    spec = sub.add_parser("spec", help="dataset specs").add_subparsers(dest="spec_command", required=True)
    infer = spec.add_parser("infer", help="draft a spec from a CSV: types, cardinality, missing rates, columns to drop")
    infer.add_argument("file")
    infer.add_argument("--target", required=True, help="the column to predict")
    infer.add_argument("--problem", choices=PROBLEM_TYPES, help="the problem type (inferred from the target when absent)")
    infer.add_argument("--dataset", help="the dataset's name (default: the file's stem)")
    infer.add_argument("--out", help="write the draft here instead of printing it")
    infer.set_defaults(func=lazy("spec_cmd:cmd_spec_infer"))

    cloud = sub.add_parser("cloud", help="keep an offline cloud running and print the environment that reaches it")
    _offline_arguments(cloud)
    cloud.set_defaults(func=lazy("cloud_cmd:cmd_cloud"))
    add_event_parser(sub)

    empty = sub.add_parser("empty", help="delete every object version of a deployed stack's bucket (before `sam delete`)")
    empty.add_argument("--stack", required=True)
    empty.add_argument("--region")
    empty.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    empty.set_defaults(func=lazy("cloud_cmd:cmd_empty"))

    runs_cmd = sub.add_parser("runs", help="list runs with dataset, status, start, duration and headline metric")
    show = sub.add_parser("show", help="print a run's status, timeline, failure, warnings and metrics")
    show.add_argument("run", help="run id")
    for command in (runs_cmd, show):
        where = command.add_mutually_exclusive_group()
        where.add_argument("--dir", help=f"a folder mirroring a bucket (default {history_dir()})")
        where.add_argument("--stack", help="read the runs of this deployed stack")
        command.add_argument("--region", help="the stack's region")
    runs_cmd.set_defaults(func=lazy("history:cmd_runs"))
    show.set_defaults(func=lazy("history:cmd_show"))
    return parser


def _early_moto(args: argparse.Namespace):
    """moto's server for a command that will start an offline cloud (no --stack, no `mlpipe cloud` running), started
    before the command imports boto3 and the cloud's code, so the two imports overlap; the cloud adopts it."""
    if not getattr(args, "offline_cloud", False) or getattr(args, "stack", None) or (home() / CLOUD_RECORD).exists():
        return None
    from .offline.moto_process import MotoProcess

    return MotoProcess()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.moto = _early_moto(args)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    finally:
        if args.moto is not None:
            args.moto.stop()  # the cloud stopped it already, or the command ended before starting one


def entry() -> None:
    """Console script: exit without tearing down the interpreter, which takes longer than a run's last stage."""
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
