"""lake.delta.log: the background check for a newer commit, in processes forked from a
parent that used it."""

from __future__ import annotations

import pyarrow as pa
import pytest

from lake.core.names import TableName
from lake.delta import log
from tests.forking import in_a_forked_child


def test_a_process_forked_while_another_thread_started_the_checker_can_check(lk, backend):
    """The checker's lock, held by another thread at the fork (starting the checking
    thread), stayed held for ever in the child: its first check on S3 never returned."""
    if backend.s3 is None:
        pytest.skip("a local check is a stat on the caller's thread: no checking thread")
    lk.write_table("ml.labels", pa.table({"id": [1]}))
    location = lk.catalog.get_table(TableName("ml", "labels")).location
    # log._checker_lock held as another thread inside _checks() holds it at the fork
    answer = in_a_forked_child(
        lambda: (
            log.CommitCheck(lk.storage, location, 0).newer(),
            log.CommitCheck(lk.storage, location, -1).newer(),
        ),
        holding=log._checker_lock,
        bound_s=60,
    )
    assert answer == (False, True)
