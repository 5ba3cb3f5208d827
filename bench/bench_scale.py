"""`make bench-scale`: the large-file path at 1, 3 and 10 million rows, against the in-process floor.

Each size runs `mlpipe run FILE` with the stack's defaults (a file above MaxInputMegabytes goes to a
Processing job) and two training and two transform instances, as a fresh process with a new offline
account; and the floor (bench/floor.py), the same five steps in one process. Reported: wall time,
peak resident memory of the largest process of each command's tree, the ratio, the accuracy of both,
where each stage ran according to the run's own record, and the peak of each kind of process (the
largest of each: moto, the mlpipe command hosting the offline SageMaker, the Processing job, the
XGBoost containers, the Lambda environments). One run per size: the 10-million-row
file alone takes many minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_chain import FLOOR_SITE, ROOT, MlpipeRun, floor_cmd, measure  # noqa: E402
from make_data import write  # noqa: E402

INSTANCES = ("--param", "TrainingInstanceCount=2", "--param", "TransformInstanceCount=2")


def where(stages: dict) -> str:
    pre, train, infer = stages.get("preprocess", {}), stages.get("train", {}), stages.get("infer", {})
    return (f"preprocess: {pre.get('path')} ({pre.get('train_parts')}+{pre.get('test_parts')} parts), "
            f"train: {train.get('instance_count')} x {train.get('instance_type')} {train.get('distribution')}, "
            f"transform: {infer.get('instance_count')} instances")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=[1_000_000, 3_000_000, 10_000_000])
    args = parser.parse_args()
    if not (FLOOR_SITE / "pandas").is_dir():
        sys.exit(f"the floor environment is not installed in {FLOOR_SITE}: run `make bench`")
    scratch = Path(tempfile.mkdtemp(prefix="mlpipe-bench-scale-"))
    run = MlpipeRun(ROOT, scratch, *INSTANCES, check=False)  # a run that fails is reported, not the end of the bench
    rows = []
    try:
        for size in args.sizes:
            path = write(size, scratch / f"titanic-{size}.csv")
            floor_seconds, floor_peak, floor_out = measure(floor_cmd(path))
            seconds, peak, stages = run(path)
            rows.append({"size": size, "mb": path.stat().st_size / 2**20, "floor": floor_seconds, "floor_peak": floor_peak,
                         "floor_accuracy": floor_out.split(";")[0], "seconds": seconds, "peak": peak,
                         "accuracy": stages.get("accuracy"), "where": where(stages.get("stages", {})),
                         "status": stages.get("status"), "by_process": dict(sorted(run.peaks.items(), key=lambda kv: -kv[1]))})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
            path.unlink()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"{'rows':>11} {'MB':>6} {'floor s':>8} {'floor MB':>9} {'mlpipe s':>9} {'mlpipe MB':>10} {'ratio':>6}  accuracy (floor / mlpipe)")
    for r in rows:
        outcome = f"accuracy {r['accuracy']:.4f}" if r["status"] == "succeeded" else f"run {r['status']}: see the command's output"
        print(f"{r['size']:>11,} {r['mb']:>6.0f} {r['floor']:>8.1f} {r['floor_peak']:>9} {r['seconds']:>9.1f} {r['peak']:>10} "
              f"{r['seconds'] / r['floor']:>5.2f}x  {r['floor_accuracy']} / {outcome}")
        print(f"{'':>11} {r['where']}")
        print(f"{'':>11} peak MB by process: {', '.join(f'{role} {mb}' for role, mb in r['by_process'].items())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
