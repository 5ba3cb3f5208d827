"""Shared fixtures. Each service's modules have unique names, so all can sit on sys.path at once."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT / "layers" / "common", *sorted((ROOT / "services").iterdir())):
    sys.path.insert(0, str(path))

DATA = ROOT / "data" / "titanic.csv"
EVENTS = ROOT / "events"


@pytest.fixture(scope="session")
def titanic_bytes() -> bytes:
    return DATA.read_bytes()
