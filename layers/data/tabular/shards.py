"""Headerless CSV cut into parts at row boundaries, so SageMaker can spread them over instances.

Training with ``ShardedByS3Key`` gives each instance a share of the objects under the channel's prefix,
and AWS asks for at least as many objects as instances; batch transform spreads objects over its
instances. The test features, their labels and the champion's encoding of the same rows are cut at
the same rows, so part i of each holds the same rows in the same order and evaluation joins them
part by part.
"""

from __future__ import annotations

import math

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
