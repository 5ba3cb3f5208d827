"""What git tracks: source, never a link, a virtual environment or anything .gitignore says to leave out.

A fresh clone must set itself up with `make`; a tracked link to a folder of the machine that
made it, or a committed venv, hides a missing install step until someone else clones.
"""

from __future__ import annotations

import subprocess


from tests.conftest import ROOT

# Files that only a virtual environment or an installed package has.
VENV_MARKERS = ("pyvenv.cfg", "bin/activate", "site-packages/", "dist-packages/", "__pycache__/", ".pyc")


def git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    # the project is always used from a clone (CI clones it too): no git means these checks cannot be made
    assert result.returncode == 0, f"git {' '.join(args)} failed: {result.stderr.strip()}"
    return result.stdout


def tracked_entries() -> list[tuple[str, str]]:
    """(mode, path) of every entry in the index."""
    entries = []
    for line in git("ls-files", "-s", "-z").split("\0"):
        if line:
            meta, path = line.split("\t", 1)
            entries.append((meta.split()[0], path))
    return entries


def test_git_tracks_no_symbolic_link():
    links = [path for mode, path in tracked_entries() if mode == "120000"]
    assert links == [], f"symbolic links are tracked (a path of one machine, not an install step): {links}"


def test_git_tracks_no_virtual_environment_or_build_output():
    offenders = [path for _, path in tracked_entries() if any(marker in path for marker in VENV_MARKERS)]
    assert offenders == [], f"a virtual environment or build output is tracked: {offenders[:10]}"


def test_git_tracks_nothing_that_gitignore_ignores():
    ignored = [p for p in git("ls-files", "--cached", "--ignored", "--exclude-standard", "-z").split("\0") if p]
    assert ignored == [], f"tracked files under ignored paths: {ignored[:10]}"


def test_the_checks_see_what_they_look_for(tmp_path):
    """The three checks are not vacuous: in a scratch repository each one finds its offender."""
    def run(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=tmp_path, capture_output=True, text=True, check=True).stdout

    run("init", "-q")
    (tmp_path / ".gitignore").write_text(".venv/\n")
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (tmp_path / "tool").symlink_to("/tmp/somewhere")
    run("add", ".gitignore", "tool")
    run("add", "-f", ".venv/pyvenv.cfg")
    modes = dict((line.split()[0], line.split("\t")[1]) for line in run("ls-files", "-s").splitlines())
    assert modes["120000"] == "tool"
    assert run("ls-files", "--cached", "--ignored", "--exclude-standard").split() == [".venv/pyvenv.cfg"]
    assert any(marker in ".venv/pyvenv.cfg" for marker in VENV_MARKERS)
