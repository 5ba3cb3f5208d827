"""How much memory the preprocess function needs per byte of input: the factor behind MaxInputMegabytes.

Each size runs in the offline cloud's real preprocess function (its own layers, a fresh execution
environment), with its memory limit lifted so nothing is cut short; the environment reports its
peak resident memory as Lambda's REPORT line does. The factor is the slope of peak memory over
input size (a least-squares line through the sizes); the intercept is what the function holds
before it reads a byte. ``python bench/memory_factor.py`` prints the table and the largest input
each allowed MemorySize can take with a 15% margin, the values of the template's rule.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_data import write  # noqa: E402

from mlpipe.offline.cloud import OfflineCloud  # noqa: E402

# A Titanic-shaped CSV has about 83 bytes per row.
SIZES_MB = (5, 20, 50, 100)
MEMORY_OPTIONS_MB = (1024, 2048, 3008, 4096, 6144, 8192, 10240)
MARGIN = 0.85


def measure(sizes_mb: tuple[int, ...], data_dir: Path) -> list[dict]:
    cloud = OfflineCloud(parameter_overrides={"MaxInputMegabytes": "125"})
    spec = cloud.stack.functions["PreprocessFunction"]
    environment = {**spec.environment, "MAX_INPUT_MEGABYTES": str(10 * max(sizes_mb))}
    cloud.stack.functions["PreprocessFunction"] = dataclasses.replace(spec, memory_mb=10240, timeout=900, environment=environment)
    rows = []
    with cloud:
        for size in sizes_mb:
            path = write(int(size * 1024 * 1024 / 83), data_dir / f"titanic-{size}mb.csv")
            body = path.read_bytes()
            cloud.client("s3").put_object(Bucket=cloud.bucket, Key=f"raw/memory-{size}mb.csv", Body=body)
            cloud.settle(900)
            (invocation,) = [inv for inv in cloud.invocations if inv.function == "PreprocessFunction"
                             and f"memory-{size}mb" in json.dumps(inv.event)]
            if not invocation.result.ok:
                raise RuntimeError(f"preprocess failed at {size} MB: {invocation.result.error}")
            rows.append({"input_mb": round(len(body) / 2**20, 1), "peak_mb": round(invocation.result.max_memory_used / 2**20, 1),
                         "seconds": round(invocation.result.seconds, 2)})
            cloud.pools["PreprocessFunction"].stop()  # a fresh environment, so each peak is its own
    return rows


def fit(rows: list[dict]) -> tuple[float, float]:
    slope, intercept = np.polyfit([r["input_mb"] for r in rows], [r["peak_mb"] for r in rows], 1)
    return float(slope), float(intercept)


def largest_inputs(slope: float, intercept: float) -> dict[int, int]:
    return {memory: int((memory * MARGIN - intercept) / slope) for memory in MEMORY_OPTIONS_MB}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES_MB))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = measure(tuple(args.sizes), Path(tmp))
    print(f"{'input MB':>9} {'peak MB':>8} {'seconds':>8}")
    for row in rows:
        print(f"{row['input_mb']:>9} {row['peak_mb']:>8} {row['seconds']:>8}")
    slope, intercept = fit(rows)
    print(f"peak ≈ {intercept:.0f} MB + {slope:.2f} × input")
    for memory, largest in largest_inputs(slope, intercept).items():
        print(f"MemorySize {memory:>5} MB: inputs up to {largest} MB (peak at most {MARGIN:.0%} of memory)")
