"""Child processes of the fault-injection suite (run as a script, configured by environment).

python workers.py ingest TABLE FILE...   one ``ingest_logs`` call per file, one line of
                                         JSON (version, run id, records) per ingest
python workers.py read TABLE STOPFILE    ``lake sql "SELECT count(*) ..."`` in a loop until
                                         STOPFILE exists, one count per line
python workers.py catalog-race TABLE SET N   the same table and training set registered
                                         N times, racing the other processes
"""

from __future__ import annotations

import json
import os
import sys


def ingest(table: str, files: list[str]) -> None:
    import lake

    with lake.connect() as lk:
        for path in files:
            report = lk.ingest_logs(table, path)
            print(
                json.dumps(
                    {
                        "version": report.version,
                        "run_id": report.run_id,
                        "records": report.records_read,
                    }
                ),
                flush=True,
            )


def read(table: str, stop_file: str) -> None:
    from typer.testing import CliRunner

    from lake.faces.cli import app

    os.nice(10)  # the writers are what is under test; the reader takes what CPU is left
    runner = CliRunner()
    query = f"SELECT count(*) AS n FROM {table}"
    while True:
        last = os.path.exists(stop_file)  # one more read after the writers are done
        result = runner.invoke(app, ["sql", query, "--output", "json"], catch_exceptions=False)
        if result.exit_code == 0:
            print(json.loads(result.stdout)["rows"][0]["n"], flush=True)
        elif not _before_first_commit(result.stderr):
            print(f"error {result.stderr.strip()}", flush=True)
        if last:
            return


def _before_first_commit(stderr: str) -> bool:
    """The honest answers while the table has no version yet (not registered, or registered
    by a writer whose first commit is still on its way)."""
    return (
        "does not exist" in stderr
        or "not found" in stderr.lower()
        or "has no committed version yet" in stderr
        # no writer has registered the table yet (a reader that starts fast gets here first)
        or "The lake has no tables yet." in stderr
    )


def catalog_race(table: str, training_set: str, rounds: int) -> None:
    """Race other processes on the catalog alone: register the same table, start runs,
    register versions of the same training set; print each version got."""
    import lake
    from catalog.registry import register_training_set
    from lake.core.names import TableName

    with lake.connect() as lk:
        for _ in range(rounds):
            info = lk.catalog.create_table(
                TableName.parse(table), kind="logs", location=f"/nowhere/{table}", exist_ok=True
            )
            run_id = lk.catalog.start_run(
                kind="materialize", job=f"race:{training_set}", parameters={}
            )
            registered = register_training_set(
                lk.catalog,
                name=training_set,
                sql="SELECT 1",
                content_hash="0" * 64,
                row_count=0,
                location=None,
                inputs=[],
                run_id=run_id,
                manifest=lambda version: {"version": version},
            )
            lk.catalog.finish_run(run_id, status="completed")
            print(
                json.dumps({"table_id": info.id, "version": registered.version, "run_id": run_id}),
                flush=True,
            )


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "ingest":
        ingest(args[0], args[1:])
    elif command == "catalog-race":
        catalog_race(args[0], args[1], int(args[2]))
    elif command == "read":
        read(args[0], args[1])
    else:
        raise SystemExit(f"unknown command {command}")
