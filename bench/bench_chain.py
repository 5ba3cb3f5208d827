"""`make bench`: `mlpipe run` against the floor at 891, 100,000 and 1,000,000 rows, side by side in one run.

Each measurement is a fresh process from start to exit, as a user meets it: `mlpipe run FILE`
with a new offline account (MLPIPE_HOME), and the floor (bench/floor.py: the five steps with pandas
and xgboost only, in the floor environment `make bench` installs). Reported per size: median wall
time, peak resident memory of the largest process of the command's process tree, and the ratio;
then the preprocess function's own time against pandas reading and writing the same file, and how
long an S3 write takes to reach its function offline. ``--before DIR`` times another checkout's
`mlpipe run` (its own .venv) in the same run, interleaved, for before/after numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_data import write  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(sys.prefix)
FLOOR_SITE = VENV / "bench-floor"
TARGETS = {891: 3.0, 1_000_000: 1.5}
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


# -- peak memory of a process tree -------------------------------------------------------------------------------------
def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as stat:
                    ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _hwm_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class PeakSampler:
    """Every 100 ms, the peak resident memory (VmHWM, a high-water mark that outlives the moment) of each process
    descending from ``root``; keeps the largest. Sampling more often costs the measured commands CPU on 2 cores."""

    def __init__(self, root: int):
        self.root, self.peak_kb, self._stop = root, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            tree, pending = _children(), [self.root]
            while pending:
                pid = pending.pop()
                self.peak_kb = max(self.peak_kb, _hwm_kb(pid))
                pending += tree.get(pid, [])
            self._stop.wait(0.1)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak_kb


def measure(cmd: list[str], env: dict[str, str] | None = None, check: bool = True) -> tuple[float, int, str]:
    """Wall seconds, peak MB of the largest process of the tree, and stdout of one fresh process."""
    started = time.perf_counter()
    process = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    sampler = PeakSampler(process.pid)
    out, err = process.communicate()
    elapsed = time.perf_counter() - started
    peak = sampler.stop()
    if process.returncode != 0 and check:
        sys.exit(f"{' '.join(cmd)} failed ({process.returncode}):\n{out[-3000:]}\n{err[-3000:]}")
    return elapsed, peak // 1024, out


# -- the commands ------------------------------------------------------------------------------------------------------
def floor_cmd(path: Path, *flags: str) -> list[str]:
    # -I -S: the floor environment's packages and the standard library, nothing of the development venv
    code = (f"import sys, runpy; sys.path[:0] = [{str(FLOOR_SITE)!r}]; sys.argv = ['floor.py', {str(path)!r}, *{list(flags)!r}]; "
            f"runpy.run_path({str(ROOT / 'bench' / 'floor.py')!r}, run_name='__main__')")
    return [sys.executable, "-I", "-S", "-c", code]


class MlpipeRun:
    """`mlpipe run FILE` of a checkout, with a new offline account each time."""

    def __init__(self, checkout: Path, scratch: Path, *options: str, check: bool = True):
        self.checkout, self.scratch, self.options, self.check = checkout, scratch, options, check
        self.binary = checkout / ".venv" / "bin" / "mlpipe"

    def __call__(self, path: Path) -> tuple[float, int, dict]:
        home = Path(tempfile.mkdtemp(dir=self.scratch))
        env = {**os.environ, "MLPIPE_HOME": str(home)}
        try:
            seconds, peak, out = measure([str(self.binary), "run", str(path), "--out", str(home / "out"), *self.options], env, self.check)
            if not self.check and "FAILED" in out:
                print(out[-2000:], file=sys.stderr)
            return seconds, peak, self._stages(home)
        finally:
            shutil.rmtree(home, ignore_errors=True)

    @staticmethod
    def _stages(home: Path) -> dict:
        """The run's status and stages, and its headline metrics, from the offline account the command left."""
        for status in home.rglob("runs/*/status.json"):
            doc = json.loads(status.read_text())
            metrics = next(home.rglob(f"evaluation/{doc['run_id']}/metrics.json"), None)
            return {"preprocess": doc["stages"]["preprocess"]["seconds"], "status": doc["status"], "stages": doc["stages"],
                    "accuracy": json.loads(metrics.read_text()).get("accuracy") if metrics else None}
        return {}


def event_latency(samples: int = 20) -> list[float]:
    """Milliseconds from the start of a PutObject call to the moment its event reaches the preprocess function's
    environment (moto delivers the event before it answers the PUT, so the write's own round trip is included)."""
    from mlpipe.offline.cloud import OfflineCloud

    latencies = []
    with OfflineCloud() as cloud:
        s3 = cloud.client("s3")
        for i in range(samples):
            before, written = len(cloud.invocations), time.time()
            s3.put_object(Bucket=cloud.bucket, Key=f"raw/latency-{i}.csv", Body=b"PassengerId,Survived\n1,0\n")
            cloud.settle(60, quiet=0.05)
            (invocation,) = [inv for inv in cloud.invocations[before:] if inv.function == "PreprocessFunction"]
            latencies.append((invocation.result.sent_at - written) * 1000)
    return latencies


# -- the report --------------------------------------------------------------------------------------------------------
def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=[891, 100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command per size (the median is reported)")
    parser.add_argument("--before", type=Path, help="a checkout (with its .venv) whose mlpipe run is timed too")
    args = parser.parse_args()
    if not (FLOOR_SITE / "pandas").is_dir():
        sys.exit(f"the floor environment is not installed in {FLOOR_SITE}: run `make bench`")
    scratch = Path(tempfile.mkdtemp(prefix="mlpipe-bench-"))
    runners = {"mlpipe run": MlpipeRun(ROOT, scratch)}
    if args.before:
        runners["before"] = MlpipeRun(args.before.resolve(), scratch)
    rows, missed = [], []
    try:
        for size in args.sizes:
            path = ROOT / "data" / "titanic.csv" if size == 891 else write(size, scratch / f"titanic-{size}.csv")
            result = {"size": size, "mb": path.stat().st_size / 2**20, "floor": [], "floor_peak": [], "io": []}
            for name in runners:
                result[name], result[f"{name} peak"], result[f"{name} preprocess"] = [], [], []
            measure(floor_cmd(path))  # warms the page cache for everyone
            for _ in range(args.repeat):  # interleaved, so drift in the machine's load hits every command alike
                seconds, peak, out = measure(floor_cmd(path))
                result["floor"].append(seconds)
                result["floor_peak"].append(peak)
                result["accuracy_floor"] = out.split(";")[0]
                for name, run in runners.items():
                    seconds, peak, stages = run(path)
                    result[name].append(seconds)
                    result[f"{name} peak"].append(peak)
                    if stages.get("status") != "succeeded":
                        sys.exit(f"{name} did not succeed at {size} rows: {stages}")
                    result[f"{name} preprocess"].append(stages["preprocess"])
                _, _, out = measure(floor_cmd(path, "--io"))
                result["io"].append(float(re.search(r"work ([0-9.]+) s", out).group(1)))
            rows.append(result)
            print(json.dumps({k: v for k, v in result.items()}, default=str), file=sys.stderr)
        latencies = event_latency()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print(f"{'rows':>10} {'MB':>6} {'floor s':>8} {'floor MB':>8} " + " ".join(f"{n + ' s':>13} {n + ' MB':>14} {'ratio':>6}" for n in runners))
    for r in rows:
        floor = _median(r["floor"])
        cells = []
        for name in runners:
            ratio = _median(r[name]) / floor
            cells.append(f"{_median(r[name]):>13.2f} {max(r[name + ' peak']):>14} {ratio:>5.2f}x")
            if name == "mlpipe run" and r["size"] in TARGETS and ratio > TARGETS[r["size"]]:
                missed.append(f"{ratio:.2f}x at {r['size']:,} rows (target {TARGETS[r['size']]}x)")
        print(f"{r['size']:>10} {r['mb']:>6.1f} {floor:>8.2f} {max(r['floor_peak']):>8} " + " ".join(cells))
    print("targets: " + ", ".join(f"{ratio}x at {size:,} rows" for size, ratio in TARGETS.items())
          + (f"; MISSED: {'; '.join(missed)}" if missed else "; met"))
    print(f"\n{'rows':>10} {'pandas read+write s':>20} " + " ".join(f"{n + ' preprocess s':>24} {'ratio':>6}" for n in runners))
    for r in rows:
        io = _median(r["io"])
        print(f"{r['size']:>10} {io:>20.2f} " + " ".join(f"{_median(r[n + ' preprocess']):>24.2f} {_median(r[n + ' preprocess']) / io:>5.2f}x"
                                                         for n in runners))
    print(f"\nS3 write -> function offline: median {_median(latencies):.1f} ms, max {max(latencies):.1f} ms over {len(latencies)} writes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
