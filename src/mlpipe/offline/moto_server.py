"""moto's server as the offline cloud runs it: moto's own ``main``, without two costs every request paid.

- moto 5.2 asks, for every request (twice), whether the request's host names one of its service modules, by listing
  its package folder and stat-ing each of its ~175 entries: about 2 ms of a 7 ms request here, a quarter of moto's
  CPU in a run. The folder does not change while the server runs, so it is listed once.
- werkzeug formats a log line for every request, which the offline cloud sends to /dev/null; only warnings and
  errors are formatted now.

What moto answers is unchanged. ``python -m mlpipe.offline.moto_server -H HOST -p PORT`` takes moto.server's options.
"""

from __future__ import annotations

import functools
import logging

from moto import backends
from moto.server import main

# A tuple: the answer is iterated and searched with `in`, never consumed as the generator it was.
backends.list_of_moto_modules = functools.cache(lambda list_modules=backends.list_of_moto_modules: tuple(list_modules()))

if __name__ == "__main__":
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    main()
