"""moto's S3 server, as the tests run it: ``python tests/s3_server.py -H HOST -p PORT``.

moto's own ``python -m moto.server``, with two costs of every request removed, which
nothing the tests check depends on (the server's CPU is most of an S3 test's): it listed
moto's package folder on disk to route each request (12% of its CPU), and it formatted a log
line per request for a stderr the tests discard.
"""

from __future__ import annotations

import logging
import sys

import moto.backends
from moto.server import main

_MODULES = tuple(moto.backends.list_of_moto_modules())
moto.backends.list_of_moto_modules = lambda: _MODULES
logging.getLogger("werkzeug").setLevel(logging.WARNING)

if __name__ == "__main__":
    main(sys.argv[1:])
