"""Leases: one holder at a time, on every catalog backend, and compaction respects them."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pyarrow as pa
import pytest
from sqlalchemy import update

from catalog import models as m
from catalog.exceptions import LeaseHeld
from catalog.leases import give_back, take
from lake.landing.commits import AUTO_COMPACT_SMALL_FILES


def test_a_lease_has_one_holder_until_it_is_given_back_or_expires(lk):
    catalog = lk.catalog
    assert take(catalog, "job", holder="a", seconds=60)
    assert not take(catalog, "job", holder="b", seconds=60)
    assert take(catalog, "job", holder="a", seconds=60)  # the holder may renew it
    give_back(catalog, "job", holder="b")  # not b's to give back
    assert not take(catalog, "job", holder="b", seconds=60)
    give_back(catalog, "job", holder="a")
    assert take(catalog, "job", holder="b", seconds=60)
    # A holder that died keeps it only until it expires.
    catalog.transaction(
        lambda s: s.execute(update(m.Lease).values(expires_at=m.utcnow() - timedelta(seconds=1)))
    )
    assert take(catalog, "job", holder="c", seconds=60)
    with pytest.raises(LeaseHeld, match=r"Another process is already compacting t \(c\)"):
        with catalog.lease("job", seconds=60, what="compacting t"):
            pass


RACE = """
import sys
import lake
from catalog.leases import take
with lake.connect() as lk:
    print(sum(take(lk.catalog, f"race-{i}", holder=sys.argv[1], seconds=600) for i in range(30)))
"""


def test_processes_racing_for_leases_win_each_exactly_once(backend, lk):
    racers = [
        subprocess.Popen([sys.executable, "-c", RACE, f"p{n}"], stdout=subprocess.PIPE, text=True)
        for n in range(4)
    ]
    won = [int(r.communicate(timeout=300)[0]) for r in racers]
    assert all(r.returncode == 0 for r in racers)
    assert sum(won) == 30


def test_auto_compaction_waits_for_the_lease_of_another_rewriter(lk):
    rows = pa.table({"id": pa.array([1], pa.int64())})
    lk.write_table("ml.leased", rows)
    table_id = lk.table("ml.leased").id
    with lk.catalog.lease(f"rewrite:{table_id}", seconds=600, what="rewriting ml.leased"):
        for _ in range(AUTO_COMPACT_SMALL_FILES + 1):
            lk.write_table("ml.leased", rows)
        assert not [v for v in lk.history("ml.leased") if v.operation == "OPTIMIZE"]
    lk.write_table("ml.leased", rows)
    assert [v.operation for v in lk.history("ml.leased")][-1] == "OPTIMIZE"
    assert lk.sql("SELECT count(*) AS n FROM ml.leased").rows() == [
        {"n": AUTO_COMPACT_SMALL_FILES + 3}
    ]
