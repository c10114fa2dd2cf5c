"""moto's S3 server, as the tests run it: ``python tests/s3_server.py -H HOST -p PORT``.

moto's own ``python -m moto.server``, with two costs of every request removed, which
nothing the tests check depends on (the server's CPU is most of an S3 test's): it listed
moto's package folder on disk to route each request (12% of its CPU), and it formatted a log
line per request for a stderr the tests discard.

And one fix: a conditional PUT (``If-None-Match: *``, ``If-Match``) is atomic, as on S3.
moto 5.2.5 looks for the key, then stores the object, on one of its request threads: two
writers racing for one Delta log entry could both be told it was theirs, the second
overwriting the first. The commit protocol rests on that PUT (a version is made once), so the
four-process ingest race failed on the server, not on the lake: once in nine runs at load 10,
a version the catalog recorded with one writer's file while the log held the other's.
"""

from __future__ import annotations

import logging
import sys
import threading

import moto.backends
from moto.s3.responses import S3Response
from moto.server import main

_MODULES = tuple(moto.backends.list_of_moto_modules())
moto.backends.list_of_moto_modules = lambda: _MODULES
# ``--log-requests``: a line per request after all, for tests that count requests
if "--log-requests" in sys.argv:
    sys.argv.remove("--log-requests")
else:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

_put_object = S3Response.put_object
_conditional = threading.Lock()


def _put_object_atomically(self: S3Response):  # noqa: ANN202 - moto's response tuple
    if self.headers.get("If-None-Match") or self.headers.get("If-Match"):
        with _conditional:
            return _put_object(self)
    return _put_object(self)


S3Response.put_object = _put_object_atomically

if __name__ == "__main__":
    main(sys.argv[1:])
