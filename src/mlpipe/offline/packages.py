"""What a function's deployed package and layers contain, installed once by `make venv`, as `sam build` builds them.

`sam build` copies each layer's ContentUri into ``python/`` and installs its ``requirements.txt`` there;
offline, a layer is its source folder plus a folder with its requirements installed
(``<venv>/lambda-packages/<LayerId>``), and a function with requirements of its own gets one too.
Nothing is installed at run time: a missing or outdated folder is an error that says to run `make venv`.
The Makefile installs: ``python -m mlpipe.offline.packages`` only prints what is missing or outdated.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from .template import DEFAULT_TEMPLATE

INSTALL_HOME = Path(sys.prefix) / "lambda-packages"
STAMP = ".requirements-sha256"


class PackagesMissing(RuntimeError):
    pass


def _requirements(folder: Path) -> Path | None:
    path = folder / "requirements.txt"
    lines = [line for line in path.read_text().splitlines() if line.strip() and not line.strip().startswith("#")] if path.is_file() else []
    return path if lines else None


def requirements_digest(requirements: Path) -> str:
    """What an installed folder's stamp says: the requirements file and the Python that installed it."""
    return hashlib.sha256(requirements.read_bytes() + sys.version.encode()).hexdigest()


def is_installed(target: Path, requirements: Path) -> bool:
    stamp = target / STAMP
    return stamp.is_file() and stamp.read_text() == requirements_digest(requirements)


def plan_line(target: Path, requirements: Path) -> str:
    """One install for the Makefile: target folder, requirements file, stamp, tab-separated."""
    return f"{target}\t{requirements}\t{requirements_digest(requirements)}"


def dependency_dir(logical_id: str, source: Path) -> Path | None:
    """The installed requirements of a layer or function, or None when it has none; PackagesMissing when not installed."""
    requirements = _requirements(source)
    if requirements is None:
        return None
    target = INSTALL_HOME / logical_id
    if not is_installed(target, requirements):
        raise PackagesMissing(f"{logical_id}'s requirements ({requirements}) are not installed in {target} or have changed: run `make venv`")
    return target


def _packages(template_path: Path) -> dict[str, Path]:
    from .template import parse_template  # install time only: the cloud never parses the template here

    template = parse_template(template_path.read_text())
    found = {}
    for lid, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::LayerVersion":
            found[lid] = template_path.parent / props["ContentUri"]
        elif resource.get("Type") == "AWS::Serverless::Function":
            found[lid] = template_path.parent / props["CodeUri"]
    return found


def pending(template_path: Path = DEFAULT_TEMPLATE) -> list[str]:
    """The installs `make venv` still owes: every layer's and function's requirements not installed as they are now."""
    lines = []
    for lid, source in _packages(template_path).items():
        requirements = _requirements(source)
        if requirements is not None and not is_installed(INSTALL_HOME / lid, requirements):
            lines.append(plan_line(INSTALL_HOME / lid, requirements))
    return lines


if __name__ == "__main__":
    print("\n".join(pending()))
