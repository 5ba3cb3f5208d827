"""Shared fixtures. Each service's modules have unique names, so all can sit on sys.path at once."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Lambda sets a function's environment before its code is imported; Powertools' Metrics reads the
# namespace then. The handler tests import the handlers once, so the template's namespace is set first.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "mlpipe")
# The layers (SpecsLayer included: the shipped specs) and every function folder, as Lambda puts them on the path.
for path in (ROOT / "layers" / "common", ROOT / "layers" / "data", ROOT / "datasets", *sorted((ROOT / "services").iterdir())):
    sys.path.insert(0, str(path))

DATA = ROOT / "data" / "titanic.csv"
EVENTS = ROOT / "events"


@pytest.fixture(scope="session")
def titanic_bytes() -> bytes:
    return DATA.read_bytes()


# Lines the tests want shown after the run (package sizes, cold import times).
REPORT: list[str] = []


def pytest_terminal_summary(terminalreporter):
    if REPORT:
        terminalreporter.section("measured")
        for line in REPORT:
            terminalreporter.write_line(line)
