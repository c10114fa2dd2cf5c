"""Claims of file ranges in the ingest ledger, two catalog transactions at once.

Entering a run's ranges checks that no other run entered a range of the same file since
the run planned, then inserts; two transactions doing that at once must not both find
nothing (PostgreSQL's READ COMMITTED shows neither the other's uncommitted rows). The
table's row is locked first, so the second waits for the first: here it is told not to
wait (``lock_timeout``, ``busy_timeout`` 0) and must fail to claim while the first is
open, and be refused once the first committed.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from catalog.catalog import Catalog
from catalog.exceptions import ClaimsOfEndedRuns, FileBeingIngested
from catalog.ledger import PendingFile, add_pending_files, ingested_files
from lake.core.names import TableName
from tests.boots import earlier_boot

URI = "file:///logs/app.log"


def _range(known: int, end: int = 100) -> PendingFile:
    return PendingFile(URI, "ab" * 32, 0, end, 10, 10, known_ranges=known)


def _no_wait(connection, dialect: str) -> None:
    if dialect == "postgresql":
        connection.execute(text("SET LOCAL lock_timeout = '1ms'"))
    else:
        connection.exec_driver_sql("PRAGMA busy_timeout = 0")


@pytest.fixture
def catalog(backend):
    connected = Catalog(backend.catalog_url)
    yield connected
    connected.close()


def _table(catalog: Catalog):
    return catalog.create_table(
        TableName.parse("claims.events"), kind="logs", location="file:///nowhere", exist_ok=True
    )


def test_a_second_claim_of_a_file_waits_for_the_first_and_is_then_refused(catalog):
    table = _table(catalog)
    first = catalog.start_run(kind="ingest_logs", job="a", parameters={})
    second = catalog.start_run(kind="ingest_logs", job="b", parameters={})
    engine, dialect = catalog.engine, catalog.dialect
    with engine.connect() as a, engine.connect() as b:
        with a.begin():
            add_pending_files(a, table.id, first, [_range(0)])
            # The first's claim is not committed: the second cannot claim meanwhile.
            with pytest.raises(OperationalError), b.begin():
                _no_wait(b, dialect)
                add_pending_files(b, table.id, second, [_range(0)])
        # Committed (pending, its run alive): the second is refused, naming the first.
        with pytest.raises(FileBeingIngested, match=f"is being ingested .* by run {first}"):
            with b.begin():
                add_pending_files(b, table.id, second, [_range(0)])
    catalog.finish_run(first, status="failed")
    # Its run ended without a commit: its range stands in the way until let go.
    with pytest.raises(ClaimsOfEndedRuns) as ended:
        catalog.core_transaction(lambda c: add_pending_files(c, table.id, second, [_range(0)]))
    assert ended.value.run_ids == (first,)
    catalog.abandon_claims(table, [first])
    catalog.core_transaction(lambda c: add_pending_files(c, table.id, second, [_range(0)]))


def test_a_range_committed_after_the_plan_refuses_the_claim_and_one_read_by_it_does_not(
    catalog,
):
    from catalog.ledger import commit_pending_files

    table = _table(catalog)
    first = catalog.start_run(kind="ingest_logs", job="a", parameters={})
    catalog.core_transaction(lambda c: add_pending_files(c, table.id, first, [_range(0)]))
    catalog.core_transaction(lambda c: commit_pending_files(c, first, 1))
    late = catalog.start_run(kind="ingest_logs", job="b", parameters={})
    with pytest.raises(FileBeingIngested, match=f"by run {first} \\(version 1\\)"):
        catalog.core_transaction(lambda c: add_pending_files(c, table.id, late, [_range(0, 50)]))
    # A run that planned on that range (it read it) claims the rest of the grown file.
    grown = PendingFile(URI, "cd" * 32, 100, 200, 20, 10, known_ranges=1)
    catalog.core_transaction(lambda c: add_pending_files(c, table.id, late, [grown]))
    assert [f.end_offset for f in ingested_files(catalog, table)] == [100]


@pytest.mark.parametrize(("hours", "blocks"), [(1, True), (25, False)])
def test_a_claim_of_another_hosts_run_holds_until_it_expires(catalog, hours, blocks):
    """Whether another host's process lives cannot be asked: its claim holds for
    CLAIM_EXPIRY_S from its run's start, then it is let go and the run is failed."""
    import uuid
    from datetime import UTC, datetime, timedelta

    from catalog.definitions import RUNS
    from catalog.ledger import CLAIM_EXPIRY_S

    assert CLAIM_EXPIRY_S == 24 * 3600
    table = _table(catalog)
    away = catalog.start_run(kind="ingest_logs", job="a", parameters={})
    catalog.core_transaction(lambda c: add_pending_files(c, table.id, away, [_range(0)]))
    started = datetime.now(UTC) - timedelta(hours=hours)
    # Another machine: another host name, machine id and boot (the process record names
    # this process otherwise, which lives).
    stats = {
        **catalog.get_run(away).stats,
        "host": "elsewhere",
        "machine_id": uuid.uuid4().hex,
        "boot_id": str(uuid.uuid4()),
    }
    catalog.core_transaction(
        lambda c: c.execute(
            RUNS.update()
            .where(RUNS.c.id == away)
            .values(host="elsewhere", started_at=started, stats=stats)
        )
    )
    here = catalog.start_run(kind="ingest_logs", job="b", parameters={})
    claim = lambda c: add_pending_files(c, table.id, here, [_range(0)])  # noqa: E731
    if blocks:
        with pytest.raises(FileBeingIngested, match=f"by run {away}"):
            catalog.core_transaction(claim)
        return
    with pytest.raises(ClaimsOfEndedRuns):
        catalog.core_transaction(claim)
    catalog.abandon_claims(table, [away])
    catalog.core_transaction(claim)
    run = catalog.get_run(away)
    assert run.status == "failed" and "more than 24 hours" in run.error


def test_a_claim_of_a_run_interrupted_by_a_reboot_of_this_machine_is_let_go_at_once(catalog):
    """A power cut an hour into an ingest: its claim held for 24 hours (another boot was
    unknown); the run's process is provably gone, its claim is let go and the run failed."""
    from datetime import UTC, datetime, timedelta

    from catalog.definitions import RUNS
    from lake.core.processes import INITIAL_PID_NAMESPACE, this_process

    here = this_process()
    if here["pid_namespace"] != INITIAL_PID_NAMESPACE or here["machine_id"] is None:
        pytest.skip("not a process of the machine itself, or no /etc/machine-id")
    table = _table(catalog)
    away = catalog.start_run(kind="ingest_logs", job="a", parameters={})
    catalog.core_transaction(lambda c: add_pending_files(c, table.id, away, [_range(0)]))
    stats = {**catalog.get_run(away).stats, **earlier_boot(here)}
    started = datetime.now(UTC) - timedelta(hours=1)
    catalog.core_transaction(
        lambda c: c.execute(
            RUNS.update().where(RUNS.c.id == away).values(started_at=started, stats=stats)
        )
    )
    here_run = catalog.start_run(kind="ingest_logs", job="b", parameters={})
    claim = lambda c: add_pending_files(c, table.id, here_run, [_range(0)])  # noqa: E731
    with pytest.raises(ClaimsOfEndedRuns):
        catalog.core_transaction(claim)
    catalog.abandon_claims(table, [away])
    catalog.core_transaction(claim)
    run = catalog.get_run(away)
    assert run.status == "failed" and "the machine restarted" in run.error


def test_a_claim_without_rivals_looks_at_the_ledger_once(catalog):
    # The table row's lock, the insert, and one look at the other runs' ranges: of the
    # claimed file, and of copies of it (a fresh file read whole); the look for copies
    # was a statement of its own on every log ingest.
    from sqlalchemy import event

    table = _table(catalog)
    run = catalog.start_run(kind="ingest_logs", job="a", parameters={})
    fresh = PendingFile(URI, "cd" * 32, 0, 100, 10, 10, known_ranges=0, skip_copies=True)
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    event.listen(catalog.engine, "before_cursor_execute", count)
    try:
        catalog.core_transaction(lambda c: add_pending_files(c, table.id, run, [fresh]))
    finally:
        event.remove(catalog.engine, "before_cursor_execute", count)
    looks = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    assert len(looks) == 2, seen  # the lock (SQLite's: a plain read), then the look
    if catalog.dialect == "postgresql":
        assert "FOR NO KEY UPDATE" in looks[0].upper()


def test_a_copy_entered_by_another_run_since_the_plan_refuses_a_fresh_claim(catalog):
    table = _table(catalog)
    first = catalog.start_run(kind="ingest_logs", job="a", parameters={})
    second = catalog.start_run(kind="ingest_logs", job="b", parameters={})
    copy = PendingFile("file:///logs/copy.log", "cd" * 32, 0, 100, 10, 10, known_ranges=0)
    catalog.core_transaction(lambda c: add_pending_files(c, table.id, first, [copy]))
    fresh = PendingFile(URI, "cd" * 32, 0, 100, 10, 10, known_ranges=0, skip_copies=True)
    with pytest.raises(FileBeingIngested, match=f"by run {first}"):
        catalog.core_transaction(lambda c: add_pending_files(c, table.id, second, [fresh]))
    # Not the same content (another end): no copy, claimed.
    other = PendingFile(URI, "cd" * 32, 0, 99, 10, 10, known_ranges=0, skip_copies=True)
    catalog.core_transaction(lambda c: add_pending_files(c, table.id, second, [other]))


def test_a_prepare_adds_pending_to_the_runs_stats_in_one_statement_and_keeps_the_rest(catalog):
    from sqlalchemy import event

    from catalog.recording import PREPARED_KEY
    from lake.core.errors import CatalogError

    table = _table(catalog)
    run = catalog.start_run(kind="ingest_logs", job="a", parameters={})
    before = catalog.get_run(run).stats
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    event.listen(catalog.engine, "before_cursor_execute", count)
    try:
        catalog.prepare_commit(run, table_id=table.id, outcome={"rows_added": 3, "drift": []})
    finally:
        event.remove(catalog.engine, "before_cursor_execute", count)
    assert len(seen) == 1, seen  # the stats were read, then written back: two
    stats = catalog.get_run(run).stats
    # Each prepare names itself in what it stored (a try again after a lost answer skips).
    assert stats["pending"].pop(PREPARED_KEY)
    assert stats == {**before, "pending": {"table_id": table.id, "rows_added": 3, "drift": []}}
    catalog.prepare_commit(run, table_id=table.id, outcome={"rows_added": 4})
    pending = catalog.get_run(run).stats["pending"]
    assert pending.pop(PREPARED_KEY)
    assert pending == {"table_id": table.id, "rows_added": 4}
    with pytest.raises(CatalogError, match="is not in the catalog"):
        catalog.prepare_commit("no-such-run", table_id=table.id, outcome={})


def test_the_claims_of_a_run_whose_commit_is_in_doubt_hold_until_a_sync_settles_it(catalog):
    """Its log entry may still land with the rows: taken for an ended run's and let go, the
    next ingest of the file would commit them again. Settled (not found), they go."""
    from catalog.exceptions import ClaimsInDoubt

    table = _table(catalog)
    doubted = catalog.start_run(kind="ingest_logs", job="a", parameters={})
    catalog.core_transaction(lambda c: add_pending_files(c, table.id, doubted, [_range(0)]))
    catalog.keep_claims_in_doubt(table, doubted, 4)
    catalog.finish_run(doubted, status="failed", error="in doubt")
    later = catalog.start_run(kind="ingest_logs", job="b", parameters={})
    claim = lambda c: add_pending_files(c, table.id, later, [_range(0)])  # noqa: E731
    sentence = (
        f"Run {doubted} may still commit what this write takes from its sources to "
        "claims.events (its commit of version 4 is in doubt); run "
        "`lake catalog sync claims.events` first."
    )
    with pytest.raises(ClaimsInDoubt) as refused:
        catalog.core_transaction(claim)
    assert str(refused.value) == sentence
    assert catalog.settle_claims_in_doubt(table) == [doubted]
    catalog.core_transaction(claim)
    assert catalog.settle_claims_in_doubt(table) == []


def test_a_run_in_doubt_whose_commit_was_recorded_lets_nothing_go_when_settled(catalog):
    from catalog.ledger import commit_pending_files

    table = _table(catalog)
    doubted = catalog.start_run(kind="ingest_logs", job="a", parameters={})
    catalog.core_transaction(lambda c: add_pending_files(c, table.id, doubted, [_range(0)]))
    catalog.keep_claims_in_doubt(table, doubted, 1)
    catalog.finish_run(doubted, status="failed", error="in doubt")
    # Its entry landed and a sync recorded it: the run completed, its range committed.
    catalog.core_transaction(lambda c: commit_pending_files(c, doubted, 1))
    catalog.finish_run(doubted, status="completed")
    assert catalog.settle_claims_in_doubt(table) == []
    later = catalog.start_run(kind="ingest_logs", job="b", parameters={})
    with pytest.raises(FileBeingIngested, match=f"by run {doubted} \\(version 1\\)"):
        catalog.core_transaction(lambda c: add_pending_files(c, table.id, later, [_range(0)]))


def test_the_watermark_claim_of_an_extract_in_doubt_holds_until_a_sync_settles_it(catalog):
    """An appending extract's claim on the rows past the watermark lives with its running
    run: once it ended, another extract read past the same watermark and appended them
    again, while its entry could still land."""
    from catalog.exceptions import ClaimsInDoubt

    table = _table(catalog)
    doubted = catalog.start_run(kind="ingest_db", job="a", parameters={})
    catalog.prepare_commit(doubted, table_id=table.id, outcome={"watermark_from": None})
    catalog.keep_claims_in_doubt(table, doubted, 0)
    catalog.finish_run(doubted, status="failed", error="in doubt")
    later = catalog.start_run(kind="ingest_db", job="b", parameters={})
    with pytest.raises(ClaimsInDoubt, match="`lake catalog sync claims.events` first"):
        catalog.prepare_commit(later, table_id=table.id, outcome={"watermark_from": None})
    assert catalog.settle_claims_in_doubt(table) == [doubted]
    catalog.prepare_commit(later, table_id=table.id, outcome={"watermark_from": None})
