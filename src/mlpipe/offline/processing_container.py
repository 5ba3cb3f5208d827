"""A Processing container's process: ``python3`` of the image, run the way SageMaker runs ContainerEntrypoint.

Started as ``python -I -S processing_container.py SITE ENTRYPOINT-ARGS...`` with the job's folder as its working
directory: nothing of the development venv, the image's packages (SITE) where site-packages would be, and then
exactly what ``python3 -c CODE ARGS`` or ``python3 SCRIPT ARGS`` does. Standard library only.
"""

from __future__ import annotations

import os
import runpy
import sys


def main() -> None:
    site, *command = sys.argv[1:]
    sys.path.append(site)  # behind the standard library, as site-packages is
    if command[:1] == ["-c"]:
        sys.argv = ["-c", *command[2:]]
        sys.path[0] = ""  # python -c puts the working directory first
        exec(compile(command[1], "<string>", "exec"), {"__name__": "__main__"})  # noqa: S102 - the job's own entrypoint
    else:
        sys.argv = command
        sys.path[0] = os.path.dirname(os.path.abspath(command[0]))
        runpy.run_path(command[0], run_name="__main__")


if __name__ == "__main__":
    main()
