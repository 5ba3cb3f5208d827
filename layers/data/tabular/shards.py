"""Headerless CSV cut into parts at row boundaries, so SageMaker can spread them over instances.

Training with ``ShardedByS3Key`` gives each instance a share of the objects under the channel's prefix,
and AWS asks for at least as many objects as instances; batch transform spreads objects over its
instances. The test features, their labels and the champion's encoding of the same rows are cut at
the same rows, so part i of each holds the same rows in the same order and evaluation joins them
part by part.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np


def part_count(size_bytes: int, rows: int, instances: int, shard_bytes: int) -> int:
    """At least one part per instance and none larger than ``shard_bytes``; never more parts than rows."""
    wanted = max(instances, math.ceil(size_bytes / shard_bytes) if shard_bytes > 0 else 1, 1)
    return max(1, min(wanted, rows))


def row_bounds(rows: int, parts: int) -> list[int]:
    """Where each part starts and the last ends, as row positions: parts differ by at most one row."""
    return [round(index * rows / parts) for index in range(parts + 1)]


def cut(body: bytes, bounds: list[int], header: bool = False) -> list[bytes]:
    """``body`` (one row per line, a header line first if ``header``) cut at the row positions ``bounds``;
    each part repeats the header."""
    ends = np.flatnonzero(np.frombuffer(body, dtype=np.uint8) == ord("\n")) + 1  # the byte after each line
    head = b""
    if header:
        head, ends = body[: ends[0]], ends[1:]
    starts = np.concatenate([[len(head)], ends[:-1]])
    rows = len(ends)
    if bounds[-1] != rows:
        raise ValueError(f"the bounds cover {bounds[-1]} rows, the body holds {rows}")
    return [head + body[starts[a]: ends[b - 1]] if b > a else head for a, b in zip(bounds, bounds[1:])]


def cut_file(source: Path, bounds: list[int], targets: list[Path], header: bool = False, block: int = 1 << 23) -> None:
    """``cut`` of a file on disk into the files ``targets``, ``block`` bytes at a time: memory holds a block, not the file."""
    with open(source, "rb") as file:
        head = file.readline() if header else b""
        lines = _Lines(file, block)
        for target, a, b in zip(targets, bounds, bounds[1:]):
            with open(target, "wb") as out:
                out.write(head)
                if lines.copy(b - a, out) < b - a:
                    raise ValueError(f"the bounds cover {bounds[-1]} rows, the file holds fewer")
        if lines.copy(1, io.BytesIO()):
            raise ValueError(f"the bounds cover {bounds[-1]} rows, the file holds more")


class _Lines:
    """A file's lines copied onwards a number at a time, found a block at a time."""

    def __init__(self, file, block: int):
        self.file, self.block = file, block
        self.data, self.ends, self.start, self.used = b"", np.empty(0, dtype=np.int64), 0, 0

    def _fill(self) -> bool:
        self.data = self.file.read(self.block)
        self.ends = np.flatnonzero(np.frombuffer(self.data, dtype=np.uint8) == ord("\n")) + 1
        self.start = self.used = 0
        return bool(self.data)

    def copy(self, n: int, out) -> int:
        """Copy the next ``n`` lines to ``out``; return how many there were."""
        copied = 0
        while copied < n:
            if self.used == len(self.ends):  # the rest of the block is the start of a line that goes on in the next
                out.write(self.data[self.start:])
                if not self._fill():
                    return copied
                continue
            take = min(n - copied, len(self.ends) - self.used)
            stop = int(self.ends[self.used + take - 1])
            out.write(self.data[self.start:stop])
            self.start, self.used, copied = stop, self.used + take, copied + take
        return copied
