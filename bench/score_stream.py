"""The score function's rate and memory, which set MaxScoringMegabytes: encode an upload for the model, then join
predictions back to it, both 50,000 rows at a time, as the function does (no AWS: local files stand for S3).

``python bench/score_stream.py [ROWS]`` generates a Titanic-shaped file (bench/make_data.py, 1,000,000 rows by
default), fits the shipped spec's transform on the bundled data, and prints MB/s and the peak traced memory of
each phase. Lambda gives a 1024 MB function about 0.58 of a vCPU: divide the rates by about two for AWS.
"""

from __future__ import annotations

import io
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / p) for p in ("layers/common", "layers/data", "services/score", "bench")]

import numpy as np  # noqa: E402

import score_core  # noqa: E402
from make_data import write  # noqa: E402
from pipeline_common.models import ModelVersion, ScoringManifest, load_spec_text  # noqa: E402
from tabular.csvio import matrix_csv  # noqa: E402
from tabular.prepare import prepare  # noqa: E402
from tabular.score import encode_chunks  # noqa: E402


def measured(phase):
    """Seconds of one run, then the peak traced memory of a second one (tracing slows Python down several times)."""
    started = time.perf_counter()
    result = phase()
    seconds = time.perf_counter() - started
    tracemalloc.start()
    phase()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, seconds, peak


def main() -> int:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    spec = load_spec_text((ROOT / "datasets" / "titanic.yaml").read_text(), "titanic.yaml")
    transform = prepare((ROOT / "data" / "titanic.csv").read_bytes(), spec, 0.2, 42).transform
    with tempfile.TemporaryDirectory() as scratch:
        upload = Path(scratch) / "upload.csv"
        write(rows, upload)
        megabytes = upload.stat().st_size / 1e6

        def encode() -> int:
            count = 0
            with upload.open("rb") as stream, open(Path(scratch) / "encoded.csv", "wb") as out:
                for matrix in encode_chunks(stream, spec, transform, score_core.CHUNK_ROWS):
                    out.write(matrix_csv(matrix))
                    count += len(matrix)
            return count

        encoded, seconds, peak = measured(encode)
        print(f"encode: {encoded} rows, {megabytes:.1f} MB in {seconds:.2f} s = {megabytes / seconds:.1f} MB/s, peak traced {peak / 1e6:.0f} MB")
        answers = Path(scratch) / "answers.out"
        answers.write_bytes(b"".join(f"{p:.6f}\n".encode() for p in np.random.default_rng(1).random(encoded)))
        manifest = ScoringManifest.model_construct(problem_type=transform.problem_type, classes=transform.classes,
                                                   model_version=ModelVersion.model_construct())

        def join() -> int:
            count = 0
            with upload.open("rb") as stream, answers.open("rb") as out, open(Path(scratch) / "joined.csv", "wb") as sink:
                for table in score_core.joined(stream, [out], manifest, 0.5):
                    buffer = io.StringIO()
                    table.to_csv(buffer, index=False, header=not count)
                    sink.write(buffer.getvalue().encode())
                    count += len(table)
            return count

        joined, seconds, peak = measured(join)
        print(f"join:   {joined} rows, {megabytes:.1f} MB in {seconds:.2f} s = {megabytes / seconds:.1f} MB/s, peak traced {peak / 1e6:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
