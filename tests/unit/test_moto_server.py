"""The offline cloud's moto launcher changes what moto costs, not what it answers."""

from __future__ import annotations

import os

import moto
from moto import backends

from mlpipe.offline import moto_server  # noqa: F401 - importing it installs the change


def test_the_module_list_is_moto_s_own_listing():
    folder = os.path.dirname(moto.__file__)
    expected = tuple(sorted(name for name in os.listdir(folder)
                            if os.path.isdir(os.path.join(folder, name)) and not name.startswith("__")))
    assert backends.list_of_moto_modules() == expected
    assert {"s3", "sqs", "events", "dynamodb", "sns"} <= set(expected)
    assert "s3.us-east-1.amazonaws.com" not in backends.list_of_moto_modules()


def test_the_module_list_is_read_once(monkeypatch):
    backends.list_of_moto_modules()
    reads = []
    monkeypatch.setattr(os, "listdir", lambda *args: reads.append(args) or [])
    for _ in range(3):
        assert "s3" in backends.list_of_moto_modules()
    assert reads == []
