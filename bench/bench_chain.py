"""`make bench`: `mlpipe run` against the floor at 891, 100,000 and 1,000,000 rows, side by side in one run.

Each measurement is a fresh process from start to exit, as a user meets it: `mlpipe run FILE`
with a new offline account (MLPIPE_HOME), and the floor (bench/floor.py: the five steps with pandas
and xgboost only, in the floor environment `make bench` installs). Reported per size: median wall
time, peak resident memory of the largest process of the command's process tree, and the ratio;
then the preprocess function's own time against pandas reading and writing the same file, and how
long an S3 write takes to reach its function offline. "on mlpipe cloud" is the same command while `mlpipe cloud`
runs for the account (started once per size, untimed, as a deployed stack is), as a user iterating meets it. ``--before DIR`` times another checkout's
`mlpipe run` (its own .venv) in the same run, interleaved, for before/after numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
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
SERVED = "on mlpipe cloud"
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


ROLES = (("moto_server", "moto"), ("xgboost_container", "XGBoost container"), ("lambda_runtime", "Lambda environment"),
         ("processing_container", "Processing job"), ("mlpipe", "mlpipe command"), ("floor.py", "floor"))


def _role(pid: int) -> str:
    """What a process of the offline cloud is, from its command line."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            command = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "?"
    return next((role for marker, role in ROLES if marker in command), command[:40])


class PeakSampler:
    """Every 100 ms, the peak resident memory (VmHWM, a high-water mark that outlives the moment) of each process
    descending from ``root``; keeps the largest, and the largest of each kind of process (``by_role``). Sampling more
    often costs the measured commands CPU on 2 cores."""

    def __init__(self, *roots: int):
        self.roots, self.peak_kb, self._stop = roots, 0, threading.Event()
        self.by_role: dict[str, int] = {}
        self._roles: dict[int, str] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            tree, pending = _children(), list(self.roots)
            while pending:
                pid = pending.pop()
                hwm = _hwm_kb(pid)
                self.peak_kb = max(self.peak_kb, hwm)
                role = self._roles.setdefault(pid, _role(pid))
                self.by_role[role] = max(self.by_role.get(role, 0), hwm)
                pending += tree.get(pid, [])
            self._stop.wait(0.1)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak_kb


def measure(cmd: list[str], env: dict[str, str] | None = None, check: bool = True, also: tuple[int, ...] = (),
            peaks: dict[str, int] | None = None) -> tuple[float, int, str]:
    """Wall seconds, peak MB of the largest process of the tree (and of the trees of ``also``), and stdout of one
    fresh process; ``peaks`` is given the peak MB of each kind of process."""
    started = time.perf_counter()
    process = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    sampler = PeakSampler(process.pid, *also)
    out, err = process.communicate()
    elapsed = time.perf_counter() - started
    peak = sampler.stop()
    if peaks is not None:
        peaks.update({role: kb // 1024 for role, kb in sampler.by_role.items() if kb})
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
        self.peaks: dict[str, int] = {}  # of the last run: peak MB of each kind of process

    def __call__(self, path: Path) -> tuple[float, int, dict]:
        home = Path(tempfile.mkdtemp(dir=self.scratch))
        try:
            return self._run(path, home)
        finally:
            shutil.rmtree(home, ignore_errors=True)

    def _run(self, path: Path, home: Path, also: tuple[int, ...] = ()) -> tuple[float, int, dict]:
        env = {**os.environ, "MLPIPE_HOME": str(home)}
        out_dir = Path(tempfile.mkdtemp(dir=self.scratch))
        try:
            self.peaks = {}
            seconds, peak, out = measure([str(self.binary), "run", str(path), "--out", str(out_dir), *self.options], env, self.check,
                                         also, self.peaks)
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)
        if not self.check and "FAILED" in out:
            print(out[-2000:], file=sys.stderr)
        found = re.search(r"-> run (\S+)", out)
        return seconds, peak, self._stages(home, found.group(1)) if found else {}

    @staticmethod
    def _stages(home: Path, run_id: str) -> dict:
        """The run's status and stages, and its headline metrics, from the offline account the command left."""
        status = home / "bucket" / "runs" / run_id / "status.json"
        if not status.is_file():
            return {}
        doc = json.loads(status.read_text())
        metrics = home / "bucket" / "evaluation" / run_id / "metrics.json"
        return {"preprocess": doc["stages"]["preprocess"]["seconds"], "status": doc["status"], "stages": doc["stages"],
                "accuracy": json.loads(metrics.read_text()).get("accuracy") if metrics.is_file() else None}


class ServedRun(MlpipeRun):
    """`mlpipe run FILE` while `mlpipe cloud` runs for the account, as a user iterates: the cloud starts once per size
    (not timed, as deploying a stack is not part of a run on AWS), then each run is a fresh `mlpipe run` process that
    uses it. The first WARMUP runs meet cold execution environments and containers and the first champion; they are
    timed and reported apart (``warmup``), not in the median. The peak memory counts the cloud's processes too (their
    high-water marks, from this size's runs)."""

    WARMUP = 2

    def begin(self, size: int) -> None:
        self.home = Path(tempfile.mkdtemp(dir=self.scratch))
        self.log = (self.scratch / f"cloud-{size}.log").open("w")
        self.cloud = subprocess.Popen([str(self.binary), "cloud"], cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
                                      env={**os.environ, "MLPIPE_HOME": str(self.home)})
        deadline = time.monotonic() + 120
        while not (self.home / "cloud.json").is_file():
            if self.cloud.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"mlpipe cloud did not start: {(self.scratch / f'cloud-{size}.log').read_text()[-3000:]}")
            time.sleep(0.1)

    def end(self) -> None:
        self.cloud.send_signal(signal.SIGTERM)  # it keeps the account, as on Ctrl-C
        self.cloud.wait(timeout=300)
        self.log.close()
        shutil.rmtree(self.home, ignore_errors=True)

    def __call__(self, path: Path) -> tuple[float, int, dict]:
        return self._run(path, self.home, also=(self.cloud.pid,))


def event_latency(samples: int = 21) -> list[float]:
    """Milliseconds from the start of a PutObject call to the moment its event reaches the preprocess function's
    environment (moto delivers the event before it answers the PUT, so the write's own round trip is included).
    The first write follows the cloud's start at once, so its event may wait for the environment's init (a cold
    start); it is reported apart from the others."""
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
    runners = {"mlpipe run": MlpipeRun(ROOT, scratch), SERVED: ServedRun(ROOT, scratch)}
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

            def timed(name: str) -> None:
                seconds, peak, stages = runners[name](path)
                result[name].append(seconds)
                result[f"{name} peak"].append(peak)
                if stages.get("status") != "succeeded":
                    sys.exit(f"{name} did not succeed at {size} rows: {stages}")
                result[f"{name} preprocess"].append(stages["preprocess"])

            for _ in range(args.repeat):  # interleaved, so drift in the machine's load hits every command alike
                seconds, peak, out = measure(floor_cmd(path))
                result["floor"].append(seconds)
                result["floor_peak"].append(peak)
                result["accuracy_floor"] = out.split(";")[0]
                for name in runners:
                    if name != SERVED:
                        timed(name)
                _, _, out = measure(floor_cmd(path, "--io"))
                result["io"].append(float(re.search(r"work ([0-9.]+) s", out).group(1)))
            # on their own: a running `mlpipe cloud` must not share the machine with the other commands
            runners[SERVED].begin(size)
            try:
                result[f"{SERVED} warmup"] = [runners[SERVED](path)[0] for _ in range(ServedRun.WARMUP)]
                for _ in range(args.repeat):
                    timed(SERVED)
            finally:
                runners[SERVED].end()
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
            if name != "before" and r["size"] in TARGETS and ratio > TARGETS[r["size"]]:
                missed.append(f"{name} {ratio:.2f}x at {r['size']:,} rows (target {TARGETS[r['size']]}x)")
        print(f"{r['size']:>10} {r['mb']:>6.1f} {floor:>8.2f} {max(r['floor_peak']):>8} " + " ".join(cells))
    print(f"({SERVED}: the median of {args.repeat} runs after {ServedRun.WARMUP} warm-up runs on a cloud started for them: "
          + "; ".join(f"{r['size']:,} rows {', '.join(f'{t:.2f}' for t in r[SERVED + ' warmup'])} s" for r in rows) + ")")
    print("targets: " + ", ".join(f"{ratio}x at {size:,} rows" for size, ratio in TARGETS.items())
          + (f"; MISSED: {'; '.join(missed)}" if missed else "; met"))
    print(f"\n{'rows':>10} {'pandas read+write s':>20} " + " ".join(f"{n + ' preprocess s':>24} {'ratio':>6}" for n in runners))
    for r in rows:
        io = _median(r["io"])
        print(f"{r['size']:>10} {io:>20.2f} " + " ".join(f"{_median(r[n + ' preprocess']):>24.2f} {_median(r[n + ' preprocess']) / io:>5.2f}x"
                                                         for n in runners))
    cold, warm = latencies[0], latencies[1:]
    print(f"\nS3 write -> function offline: median {_median(warm):.1f} ms, max {max(warm):.1f} ms over {len(warm)} writes to a warm "
          f"environment; the first write, right after the cloud started: {cold:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
