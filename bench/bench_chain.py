"""Time `mlpipe run` on the bundled data against the plain in-process script, and print the ratio.

Both are timed as a user meets them: a fresh process from start to exit, imports included.
Target (issue 2): `mlpipe run` takes at most 3x the plain script.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TARGET_RATIO = 3.0


def timed(cmd: list[str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--data", default=str(ROOT / "data" / "titanic.csv"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        commands = {
            "plain script": [str(BIN / "python"), str(ROOT / "bench" / "plain_pipeline.py"), args.data],
            "mlpipe run": [str(BIN / "mlpipe"), "run", args.data, "--out", out],
        }
        timed(commands["plain script"])  # warm the page cache for both
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeat):
            for name, cmd in commands.items():  # interleaved, so drift in machine load hits both
                times[name].append(timed(cmd))
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        print(f"{name:<13} median {medians[name]:.2f}s  min {min(values):.2f}s  max {max(values):.2f}s  (n={len(values)})")
    ratio = medians["mlpipe run"] / medians["plain script"]
    verdict = "within" if ratio <= TARGET_RATIO else "OVER"
    print(f"ratio mlpipe run / plain script = {ratio:.2f}x ({verdict} the {TARGET_RATIO:.0f}x target)")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
