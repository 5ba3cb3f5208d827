import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_no_unused_imports_undefined_names_or_syntax_errors():
    ruff = Path(sys.executable).parent / "ruff"
    result = subprocess.run([str(ruff), "check", "--select", "F,E9", "--no-cache", "services", "layers", "src", "tests", "bench", "scripts"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
