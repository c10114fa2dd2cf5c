"""`lake materialize`: pinned inputs, deterministic shards and content hash, manifest, cache,
rebuild; the content hash and the ordering rule as pure functions."""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import uuid
from datetime import UTC
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from catalog.exceptions import TrainingSetNotFound
from lake.core.errors import InvalidName
from queries.content_hash import content_hash
from queries.exceptions import (
    DataFileUnreadable,
    NotReproducible,
    OutputFolderNotEmpty,
    QueryFailed,
    QueryInvalid,
    QueryRefused,
    QuerySyntaxError,
    RebuildMismatch,
    TimeTravelError,
)
from queries.training import plan_order
from tests.backends import unavailable

# -- the content hash (pure) -------------------------------------------------------------------


def _mixed(n: int = 500) -> pa.Table:
    return pa.table(
        {
            "i": pa.array([None if i % 7 == 0 else i for i in range(n)], pa.int64()),
            "f": pa.array(
                [
                    float("nan") if i % 11 == 0 else (None if i % 13 == 0 else i / 3)
                    for i in range(n)
                ]
            ),
            "s": pa.array([None if i % 5 == 0 else "x" * (i % 9) for i in range(n)]),
            "b": pa.array([None if i % 3 == 0 else i % 2 == 0 for i in range(n)]),
            "st": pa.array(
                [None if i % 17 == 0 else {"a": i, "tags": [str(i)] * (i % 3)} for i in range(n)]
            ),
            "m": pa.array(
                [None if i % 6 == 0 else {f"k{i % 3}": i} for i in range(n)],
                pa.map_(pa.string(), pa.int64()),
            ),
            "d": pa.array(
                [None if i % 8 == 0 else Decimal(i) / 100 for i in range(n)], pa.decimal128(10, 2)
            ),
            "ts": pa.array(
                [None if i % 9 == 0 else i * 1000 for i in range(n)], pa.timestamp("us", tz="UTC")
            ),
        }
    )


def test_the_content_hash_does_not_depend_on_how_rows_are_batched():
    table = _mixed()
    whole = content_hash(table.to_batches(), table.schema)
    assert content_hash(table.to_batches(max_chunksize=7), table.schema) == whole
    uneven = [table.slice(0, 3).to_batches()[0], *table.slice(3).to_batches(max_chunksize=101)]
    assert content_hash(uneven, table.schema) == whole
    assert whole[1] == 500 and len(whole[0]) == 64


def test_the_content_hash_does_not_depend_on_the_arrow_layout_of_a_value():
    table = _mixed()
    whole = content_hash(table.to_batches(), table.schema)[0]
    large = table.set_column(2, "s", table.column("s").cast(pa.large_string()))
    dictionary = table.set_column(2, "s", table.column("s").dictionary_encode())
    assert content_hash(large.to_batches(max_chunksize=50), large.schema)[0] == whole
    assert content_hash(dictionary.to_batches(max_chunksize=50), dictionary.schema)[0] == whole


def test_the_content_hash_changes_with_any_value_order_name_or_type():
    table = pa.table({"a": pa.array([1, 2, None], pa.int64()), "b": ["x", "", None]})
    base = content_hash(table.to_batches(), table.schema)[0]
    variants = [
        pa.table({"a": pa.array([1, 2, 0], pa.int64()), "b": ["x", "", None]}),  # null is not 0
        pa.table(
            {"a": pa.array([1, 2, None], pa.int64()), "b": ["x", None, ""]}
        ),  # empty is not null
        pa.table({"a": pa.array([2, 1, None], pa.int64()), "b": ["", "x", None]}),  # order matters
        pa.table({"c": pa.array([1, 2, None], pa.int64()), "b": ["x", "", None]}),  # names matter
        pa.table({"a": pa.array([1, 2, None], pa.int32()), "b": ["x", "", None]}),  # types matter
        pa.table({"a": pa.array([1, 2, None], pa.int64()), "b": ["x", "", None]}).slice(0, 2),
    ]
    hashes = {content_hash(v.to_batches(), v.schema)[0] for v in variants}
    assert base not in hashes and len(hashes) == len(variants)


# -- the ordering rule (pure) ------------------------------------------------------------------


def test_a_query_without_order_by_is_ordered_by_all_its_columns():
    plan = plan_order("SELECT a, b FROM t;  ")
    assert plan.kind == "wrap"
    assert (
        plan.ordered_sql(2)
        == "SELECT * FROM (SELECT a, b FROM t\n) AS lake_training_set ORDER BY ALL"
    )


def test_a_query_order_by_gets_every_column_as_tie_breakers_before_its_limit():
    plan = plan_order("SELECT a, b FROM t ORDER BY b DESC NULLS FIRST LIMIT 10")
    assert plan.kind == "append"
    assert plan.ordered_sql(2) == "SELECT a, b FROM t ORDER BY b DESC NULLS FIRST, 1, 2 LIMIT 10"
    window = plan_order("SELECT a, row_number() OVER (ORDER BY a) AS n FROM t ORDER BY n")
    assert window.ordered_sql(2).endswith("ORDER BY n, 1, 2")
    assert plan_order("SELECT a FROM t ORDER BY ALL DESC").kind == "total"


@pytest.mark.parametrize(
    "sql,match",
    [
        ("SELECT * FROM t LIMIT 5", "LIMIT or OFFSET without ORDER BY"),
        (
            "WITH x AS (SELECT * FROM t LIMIT 5) SELECT * FROM x ORDER BY ALL",
            "LIMIT or OFFSET without ORDER BY",
        ),
        ("SELECT * FROM t USING SAMPLE 10%", "samples rows"),
        ("SELECT random() AS r FROM t", r"calls random\(\)"),
        ("SELECT *, now() AS at FROM t", r"calls now\(\)"),
    ],
)
def test_queries_that_cannot_give_the_same_rows_twice_are_refused(sql, match):
    with pytest.raises(NotReproducible, match=match):
        plan_order(sql)


def test_only_queries_can_be_materialized():
    with pytest.raises(QueryRefused, match="result of a query"):
        plan_order("CREATE TABLE x AS SELECT 1")


# -- materialize on both backend pairs -----------------------------------------------------------


def _events(start: int, n: int) -> pa.Table:
    return pa.table(
        {
            "user_id": pa.array([(start + i) % 7 for i in range(n)], pa.int64()),
            "event": [["view", "click", "buy"][(start + i) % 3] for i in range(n)],
            "amount": pa.array(
                [None if (start + i) % 5 == 0 else float(start + i) for i in range(n)]
            ),
        }
    )


def _read(folder) -> list[dict]:
    """The training set's rows, shard after shard (the folder also holds the manifest)."""
    return pa.concat_tables(
        pq.read_table(p) for p in sorted(folder.glob("part-*.parquet"))
    ).to_pylist()


SQL = (
    "SELECT e.user_id, e.event, e.amount, u.plan "
    "FROM web.events e JOIN shop.users u USING (user_id)"
)


def _fill(lk) -> None:
    lk.write_table("web.events", _events(0, 200))
    lk.write_table(
        "shop.users",
        pa.table(
            {"user_id": pa.array(range(7), pa.int64()), "plan": ["free", "pro"] * 3 + ["team"]}
        ),
    )


def test_a_training_set_pins_its_inputs_and_writes_verifiable_shards_and_a_manifest(lk, tmp_path):
    _fill(lk)
    out = tmp_path / "churn"

    result = lk.materialize("churn", sql=SQL, out=out, shard_rows=70)

    assert (result.status, result.version, result.row_count) == ("materialized", 1, 200)
    manifest = json.loads((out / ".lake" / "manifest.json").read_text())
    assert manifest["name"] == "churn" and manifest["version"] == 1 and manifest["sql"] == SQL
    assert [(i["table"], i["version"]) for i in manifest["inputs"]] == [
        ("shop.users", 0),
        ("web.events", 0),
    ]
    assert all(i["committed_at"] for i in manifest["inputs"])
    assert [c["name"] for c in manifest["schema"]] == ["user_id", "event", "amount", "plan"]
    assert manifest["row_count"] == 200 and manifest["content_hash"] == result.content_hash
    assert [f["rows"] for f in manifest["files"]] == [70, 70, 60]
    for entry in manifest["files"]:
        data = (out / entry["path"]).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (entry["bytes"], entry["sha256"])
    rows = _read(out)
    assert rows == sorted(
        rows,
        key=lambda r: (r["user_id"], r["event"], r["amount"] is None, r["amount"] or 0, r["plan"]),
    )
    registered = lk.training_sets("churn")[0]
    assert (registered.version, registered.content_hash, registered.location) == (
        1,
        result.content_hash,
        str(out),
    )
    run = lk.run(registered.run_id)
    assert (run.kind, run.status) == ("materialize", "completed")
    assert {(p.kind, p.name) for p in lk.pins("web.events")} == {("training_set", "churn@1#v0")}


def test_the_content_hash_is_the_same_however_the_output_is_sharded(lk, tmp_path):
    _fill(lk)
    one = lk.materialize("churn", sql=SQL, out=tmp_path / "one")
    many = lk.materialize("churn", sql=SQL, out=tmp_path / "many", shard_rows=33)
    assert len(one.files) == 1 and len(many.files) == 7
    assert many.content_hash == one.content_hash
    assert many.status == "copied" and many.version == 1  # same SQL, same versions: same version


def test_the_same_sql_over_the_same_versions_is_a_cache_hit(lk, tmp_path):
    _fill(lk)
    out = tmp_path / "churn"
    first = lk.materialize("churn", sql=SQL, out=out)
    written = (out / "part-00000.parquet").stat().st_mtime_ns

    again = lk.materialize("churn", sql=SQL, out=out)

    assert (again.status, again.version, again.content_hash) == ("cached", 1, first.content_hash)
    assert (out / "part-00000.parquet").stat().st_mtime_ns == written
    lk.write_table("web.events", _events(200, 10))
    newer = lk.materialize("churn", sql=SQL, out=tmp_path / "churn-v2")
    assert (newer.status, newer.version, newer.row_count) == ("materialized", 2, 210)
    assert [(i["table"], i["version"]) for i in newer.inputs] == [
        ("shop.users", 0),
        ("web.events", 1),
    ]


def test_a_cache_hit_is_told_from_the_catalog_and_the_folder_without_reading_any_input(
    lk, tmp_path
):
    from datetime import datetime

    from lake.core.names import TableName

    _fill(lk)
    pinned = "SELECT user_id, event FROM web.events VERSION AS OF 0 WHERE user_id > 2"
    then = datetime.now(UTC).isoformat()
    made = {
        "churn": lk.materialize("churn", sql=SQL, out=tmp_path / "churn"),
        "pinned": lk.materialize("pinned", sql=pinned, out=tmp_path / "pinned"),
        "then": lk.materialize("then", sql=SQL, out=tmp_path / "then", as_of=then),
    }
    # Every data file of the inputs gone: a cache hit must not need them.
    for table in ("web.events", "shop.users"):
        snapshot = lk.delta(lk.catalog.get_table(TableName.parse(table))).snapshot()
        fs, base = lk.storage.filesystem_for(snapshot.uri)
        for data_file in snapshot.files:
            fs.delete_file(f"{base.rstrip('/')}/{data_file.path}")

    again = {
        "churn": lk.materialize("churn", sql=SQL, out=tmp_path / "churn"),
        "pinned": lk.materialize("pinned", sql=pinned + ";", out=tmp_path / "pinned"),
        "then": lk.materialize("then", sql=SQL, out=tmp_path / "then", as_of=then),
    }

    for name, result in again.items():
        assert (result.status, result.version, result.content_hash) == (
            "cached",
            1,
            made[name].content_hash,
        ), name
    assert lk.materialize(from_="churn@1", out=tmp_path / "churn").status == "cached"
    # The inputs are really gone (the latest version's files, deleted outside the lake):
    # a miss would fail.
    with pytest.raises(DataFileUnreadable, match="deleted outside the lake"):
        lk.materialize("churn", sql=SQL, out=tmp_path / "elsewhere", shard_rows=10)


def test_a_new_version_never_overwrites_the_files_of_an_old_one(lk, tmp_path):
    _fill(lk)
    out = tmp_path / "churn"
    first = lk.materialize("churn", sql=SQL, out=out)
    lk.register_model("churn-model", training_set="churn@1")
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    lk.write_table("web.events", _events(200, 10))

    with pytest.raises(
        OutputFolderNotEmpty,
        match=r"holds training set churn@1, and the lake never writes over a recorded version.*"
        r"write a new version of churn to a new folder",
    ):
        lk.materialize("churn", sql=SQL, out=out)
    with pytest.raises(OutputFolderNotEmpty, match="holds training set churn@1"):
        lk.materialize("churn", sql="SELECT user_id FROM web.events", out=out)
    second = lk.materialize("churn", sql=SQL, out=tmp_path / "churn-v2")
    with pytest.raises(OutputFolderNotEmpty, match="write churn@2 to a new folder"):
        lk.materialize(from_="churn@2", out=out)

    assert {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert [(s.version, s.location) for s in lk.training_sets("churn")] == [
        (1, str(out)),
        (2, str(tmp_path / "churn-v2")),
    ]
    again = lk.materialize(from_="churn@1", out=out)
    assert (again.status, again.version, again.content_hash) == ("cached", 1, first.content_hash)
    assert second.content_hash != first.content_hash
    assert {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_every_loader_reads_a_training_set_folder_as_it_is(lk, tmp_path):
    _fill(lk)
    out = tmp_path / "churn"
    lk.materialize("churn", sql=SQL, out=out, shard_rows=70)
    expected = _read(out)
    assert sorted(p.name for p in out.iterdir()) == [
        ".lake",
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]

    import duckdb
    import pandas
    import polars
    import pyarrow.dataset as ds

    assert ds.dataset(out).to_table().to_pylist() == expected
    assert pandas.read_parquet(out).replace({float("nan"): None}).to_dict("records") == expected
    # polars 2.1 refuses a bare folder holding any file that is not Parquet, even a hidden one
    assert polars.read_parquet(f"{out}/*.parquet").to_dicts() == expected
    with duckdb.connect() as db:
        assert (
            db.sql(f"SELECT * FROM read_parquet('{out}/*.parquet')").arrow().read_all().to_pylist()
            == expected
        )


def test_hugging_face_datasets_loads_a_training_set_folder(lk, tmp_path, monkeypatch):
    import datasets

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    _fill(lk)
    out = tmp_path / "churn"
    lk.materialize("churn", sql=SQL, out=out, shard_rows=70)

    loaded = datasets.load_dataset("parquet", data_dir=str(out), cache_dir=str(tmp_path / "hf"))

    assert list(loaded) == ["train"]
    assert loaded["train"].to_list() == _read(out)


def test_a_torch_iterable_dataset_streams_a_training_set_folder(lk, tmp_path):
    import pyarrow.dataset as ds
    import torch

    class Batches(torch.utils.data.IterableDataset):
        """The documented loader: pyarrow batches of the folder as tensors."""

        def __init__(self, folder, columns, batch_size):
            self.folder, self.columns, self.batch_size = folder, columns, batch_size

        def __iter__(self):
            for batch in ds.dataset(self.folder).to_batches(
                columns=self.columns, batch_size=self.batch_size
            ):
                yield {
                    c: torch.tensor(batch.column(c).to_numpy(zero_copy_only=False))
                    for c in self.columns
                }

    _fill(lk)
    out = tmp_path / "churn"
    lk.materialize("churn", sql="SELECT user_id, hash(event) % 100 AS e FROM web.events", out=out)

    batches = list(torch.utils.data.DataLoader(Batches(out, ["user_id", "e"], 64), batch_size=None))

    assert sum(len(b["user_id"]) for b in batches) == 200
    assert torch.cat([b["user_id"] for b in batches]).tolist() == [r["user_id"] for r in _read(out)]


def test_a_folder_written_before_the_lake_folder_is_still_read(lk, tmp_path):
    _fill(lk)
    out = tmp_path / "churn"
    first = lk.materialize("churn", sql=SQL, out=out)
    # the layout of earlier releases: the manifest beside the shards
    (out / ".lake" / "manifest.json").rename(out / "lake-manifest.json")
    (out / ".lake").rmdir()

    cached = lk.materialize("churn", sql=SQL, out=out)
    from_file = lk.materialize(from_=str(out / "lake-manifest.json"), out=tmp_path / "a")
    from_folder = lk.materialize(from_=str(out), out=tmp_path / "b")

    assert cached.status == "cached"
    assert {from_file.content_hash, from_folder.content_hash} == {first.content_hash}
    assert (tmp_path / "a" / ".lake" / "manifest.json").exists()
    assert not (tmp_path / "a" / "lake-manifest.json").exists()


def test_a_damaged_output_is_written_again_not_served_from_cache(lk, tmp_path):
    _fill(lk)
    out = tmp_path / "churn"
    first = lk.materialize("churn", sql=SQL, out=out)
    shard = out / "part-00000.parquet"
    damaged = bytearray(shard.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF  # same size, one byte flipped
    shard.write_bytes(bytes(damaged))

    again = lk.materialize("churn", sql=SQL, out=out)

    assert again.status == "copied" and again.version == 1
    assert hashlib.sha256(shard.read_bytes()).hexdigest() == first.files[0].sha256


def test_time_travel_in_every_spelling_pins_the_versions_it_names(lk, tmp_path):
    lk.write_table("web.events", _events(0, 10))
    lk.write_table("web.events", _events(10, 10))
    lk.write_table("web.events", _events(20, 10))
    moment = lk.history("web.events")[1].committed_at.isoformat()
    sql = (
        "SELECT 'a' AS src, count(*) AS n FROM web.events VERSION AS OF 0 "
        f"UNION ALL SELECT 'b', count(*) FROM web.events TIMESTAMP AS OF '{moment}' "
        "UNION ALL SELECT 'c', count(*) FROM web.events AT (VERSION => 2) "
        "UNION ALL SELECT 'd', count(*) FROM web.events"
    )

    result = lk.materialize("counts", sql=sql, out=tmp_path / "counts")

    assert [(i["table"], i["version"]) for i in result.inputs] == [
        ("web.events", v) for v in (0, 1, 2)
    ]
    assert _read(tmp_path / "counts") == [
        {"src": s, "n": n} for s, n in (("a", 10), ("b", 20), ("c", 30), ("d", 30))
    ]
    references = json.loads((tmp_path / "counts" / ".lake" / "manifest.json").read_text())[
        "references"
    ]
    assert [(r["clause"], r["version"]) for r in references] == [
        ("VERSION AS OF 0", 0),
        (f"TIMESTAMP AS OF '{moment}'", 1),
        ("AT (VERSION => 2)", 2),
        (None, 2),
    ]
    with pytest.raises(TimeTravelError, match="Version 9 of web.events does not exist"):
        lk.materialize(
            "counts", sql="SELECT * FROM web.events VERSION AS OF 9", out=tmp_path / "nine"
        )


def test_a_commit_made_while_materializing_is_not_read(lk, tmp_path):
    _fill(lk)
    committed = []

    def ingest_meanwhile(files: int, rows: int, size: int) -> None:
        if not committed:  # the query is running: its versions are already pinned
            committed.append(lk.write_table("web.events", _events(500, 50)).version)

    result = lk.materialize(
        "churn", sql=SQL, out=tmp_path / "churn", shard_rows=50, progress=ingest_meanwhile
    )

    assert committed == [1]
    assert result.row_count == 200
    assert [(i["table"], i["version"]) for i in result.inputs] == [
        ("shop.users", 0),
        ("web.events", 0),
    ]


def test_order_by_with_limit_picks_the_same_rows_every_time(lk, tmp_path):
    _fill(lk)
    sql = "SELECT user_id, event FROM web.events ORDER BY user_id LIMIT 5"  # many ties on user_id
    result = lk.materialize("top", sql=sql, out=tmp_path / "top")
    # the tie-breakers (every column) decide among the 29 rows of user 0: "buy" sorts first
    assert _read(tmp_path / "top") == [{"user_id": 0, "event": "buy"}] * 5
    again = lk.materialize(from_="top@1", out=tmp_path / "again")
    assert (again.content_hash, again.files_identical) == (result.content_hash, True)


def test_a_rebuild_from_the_manifest_is_byte_identical(lk, tmp_path):
    _fill(lk)
    first = lk.materialize("churn", sql=SQL, out=tmp_path / "churn", shard_rows=64)
    lk.write_table("web.events", _events(200, 30))  # the latest version moves on

    from_file = lk.materialize(
        from_=str(tmp_path / "churn" / ".lake" / "manifest.json"), out=tmp_path / "rebuilt"
    )
    from_name = lk.materialize(from_="churn@1", out=tmp_path / "by-name")

    for rebuilt in (from_file, from_name):
        assert (rebuilt.status, rebuilt.version, rebuilt.content_hash) == (
            "rebuilt",
            1,
            first.content_hash,
        )
        assert rebuilt.files_identical is True
        assert [f.sha256 for f in rebuilt.files] == [f.sha256 for f in first.files]
        assert [(i["table"], i["version"]) for i in rebuilt.inputs] == [
            ("shop.users", 0),
            ("web.events", 0),
        ]
    assert lk.run(from_name.run_id).kind == "rebuild"


def test_a_rebuild_that_differs_says_what_differs(lk, tmp_path):
    _fill(lk)
    lk.materialize("churn", sql=SQL, out=tmp_path / "churn")
    manifest_path = tmp_path / "churn" / ".lake" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["row_count"] = 199
    manifest["content_hash"] = "0" * 64
    manifest_path.write_text(json.dumps(manifest))

    with pytest.raises(
        RebuildMismatch, match=r"differs: row count \(199 recorded, 200 now\); content hash"
    ):
        lk.materialize(from_=str(manifest_path), out=tmp_path / "rebuilt")
    assert not (tmp_path / "rebuilt" / ".lake" / "manifest.json").exists()


def test_a_rebuild_whose_manifest_names_other_tables_than_its_sql_is_refused(lk, tmp_path):
    _fill(lk)
    lk.materialize("churn", sql=SQL, out=tmp_path / "churn")
    manifest_path = tmp_path / "churn" / ".lake" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    references = manifest["references"]
    assert [r["table"] for r in references] == ["web.events", "shop.users"]  # text order

    manifest["references"] = references[::-1]
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(
        RebuildMismatch,
        match=r"reference 1 is web.events at line 1, column 50, but the manifest records "
        r"shop.users",
    ):
        lk.materialize(from_=str(manifest_path), out=tmp_path / "rebuilt")

    manifest["references"] = references[:1]
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(RebuildMismatch, match="reads 2 lake table reference.s. but the manifest"):
        lk.materialize(from_=str(manifest_path), out=tmp_path / "rebuilt")


def test_a_set_whose_recorded_sql_reads_a_file_outside_the_lake_says_why_it_cannot_be_rebuilt(
    lk, tmp_path
):
    """Sets made before a training set's query was locked to its pinned files could read any
    file; their manifests record that SQL, and the refusal used to read as if the user had
    just written it."""
    _fill(lk)
    lk.materialize("churn", sql=SQL, out=tmp_path / "churn")
    outside = tmp_path / "outside.parquet"
    pq.write_table(pa.table({"user_id": [1]}), outside)
    manifest_path = tmp_path / "churn" / ".lake" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["sql"] += f" WHERE e.user_id IN (SELECT user_id FROM '{outside}')"
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(
        QueryRefused,
        match=r"^churn@1 cannot be rebuilt: its recorded SQL is refused now \(sets made before "
        r"a training set's query could read only lake tables may read other files.* Read-only "
        r"mode refused this.*outside\.parquet",
    ):
        lk.materialize(from_=str(manifest_path), out=tmp_path / "rebuilt")
    assert not (tmp_path / "rebuilt" / ".lake" / "manifest.json").exists()


def test_the_output_folder_must_hold_nothing_but_a_training_set(lk, tmp_path):
    _fill(lk)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("precious")
    with pytest.raises(
        OutputFolderNotEmpty, match=r"holds files that are not a training set's \(notes.txt\)"
    ):
        lk.materialize("churn", sql=SQL, out=out)
    assert (out / "notes.txt").read_text() == "precious"
    assert lk.training_sets() == []


def test_errors_point_into_the_users_query(lk, tmp_path):
    _fill(lk)
    with pytest.raises(QueryInvalid, match="line 2, column 8"):
        lk.materialize(
            "bad", sql="SELECT user_id,\n       nope FROM web.events", out=tmp_path / "bad"
        )
    with pytest.raises(QuerySyntaxError, match="SQL syntax error at line 1, column 13"):
        lk.materialize("bad", sql="SELECT FROM WHERE", out=tmp_path / "bad")
    # fails while rows stream, in the ordered query: still a position in the user's text
    with pytest.raises(QueryFailed, match="line 1, column 8 while converting a value"):
        lk.materialize(
            "bad", sql="SELECT CAST(event AS INTEGER) AS n FROM web.events", out=tmp_path / "bad"
        )
    with pytest.raises(InvalidName, match="Training set name 'a b'"):
        lk.materialize("a b", sql=SQL, out=tmp_path / "x")
    with pytest.raises(TrainingSetNotFound, match="No training set named 'ghost'"):
        lk.materialize(from_="ghost@1", out=tmp_path / "ghost")


def test_a_column_parquet_cannot_hold_is_refused_in_one_sentence_naming_it(lk, tmp_path):
    """An INTERVAL (or a UNION) column reached pyarrow's Parquet writer and came out as its
    bare ArrowNotImplementedError, a traceback at the command line; it is the query's to
    fix (cast it), and the lake says so before writing anything."""
    _fill(lk)
    with pytest.raises(QueryInvalid, match="'gap' .*INTERVAL.*Parquet.*cast") as raised:
        lk.materialize(
            "gaps",
            sql="SELECT user_id, INTERVAL 1 DAY AS gap FROM web.events",
            out=tmp_path / "gaps",
        )
    assert str(raised.value).count(". ") == 0
    with pytest.raises(QueryInvalid, match="'u' "):
        lk.materialize(
            "unions", sql="SELECT union_value(a := 1) AS u FROM web.events", out=tmp_path / "u"
        )
    assert not list((tmp_path / "gaps").glob("*.parquet"))


def test_the_command_line_materializes_rebuilds_and_reports_a_cache_hit(cli, lk, tmp_path):
    _fill(lk)
    out = str(tmp_path / "churn")
    made = cli("materialize", "churn", "--sql", SQL, "--out", out, "--output", "json")
    assert made.exit_code == 0, made.stderr
    assert made.json()["status"] == "materialized"
    cached = cli("materialize", "churn", "--sql", SQL, "--out", out)
    assert "churn@1: cache hit" in cached.stdout
    rebuilt = cli("materialize", "--from", "churn@1", "--out", str(tmp_path / "again"))
    assert "content hash identical" in rebuilt.stdout
    neither = cli("materialize", "--out", out)
    assert neither.exit_code == 1 and "needs a NAME and --sql" in neither.stderr


def test_a_training_set_on_s3_is_the_one_written_to_disk_and_rebuilds_from_there(
    backend, s3_server, tmp_path, monkeypatch
):
    import uuid

    import lake

    if s3_server is None:
        unavailable("the loopback S3 server (moto) could not start")
    for key, value in s3_server.env().items():  # the outputs' bucket, whatever the warehouse
        monkeypatch.setenv(key, value)
    prefix = f"s3://{s3_server.bucket}/training-{uuid.uuid4().hex[:8]}/churn"
    s3 = s3_server.client()
    with lake.connect() as lk:
        _fill(lk)
        remote = lk.materialize("churn", sql=SQL, out=prefix + "/", shard_rows=70)
        local = lk.materialize("churn", sql=SQL, out=tmp_path / "churn", shard_rows=70)
        cached = lk.materialize("churn", sql=SQL, out=prefix, shard_rows=70)
        rebuilt = lk.materialize(from_=prefix, out=tmp_path / "rebuilt")
        lk.write_table("web.events", _events(200, 10))
        with pytest.raises(OutputFolderNotEmpty, match="holds training set churn@1"):
            lk.materialize("churn", sql=SQL, out=prefix)
        sets = lk.training_sets("churn")

    assert (remote.status, local.status, cached.status) == ("materialized", "copied", "cached")
    assert remote.content_hash == local.content_hash == rebuilt.content_hash
    assert [f.sha256 for f in remote.files] == [f.sha256 for f in local.files]
    assert rebuilt.files_identical is True
    assert [(s.version, s.location) for s in sets] == [(1, prefix)]
    key = prefix.split("/", 3)[3]
    listed = s3.list_objects_v2(Bucket=s3_server.bucket, Prefix=key + "/")["Contents"]
    assert sorted(o["Key"][len(key) + 1 :] for o in listed) == [
        ".lake/manifest.json",
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    manifest = json.loads(
        s3.get_object(Bucket=s3_server.bucket, Key=f"{key}/.lake/manifest.json")["Body"].read()
    )
    assert (manifest["name"], manifest["version"], manifest["content_hash"]) == (
        "churn",
        1,
        remote.content_hash,
    )
    assert remote.manifest == f"{prefix}/.lake/manifest.json"


def test_a_training_set_written_again_on_s3_in_fewer_shards_leaves_no_old_shard_or_folder_marker(
    backend, s3_server, monkeypatch
):
    import uuid

    import lake

    if s3_server is None:
        unavailable("the loopback S3 server (moto) could not start")
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    prefix = f"s3://{s3_server.bucket}/training-{uuid.uuid4().hex[:8]}/churn"
    with lake.connect() as lk:
        _fill(lk)
        first = lk.materialize("churn", sql=SQL, out=prefix, shard_rows=70)
        again = lk.materialize("churn", sql=SQL, out=prefix, shard_rows=1000)

    assert (first.status, len(first.files), len(again.files)) == ("materialized", 3, 1)
    assert again.content_hash == first.content_hash
    key = prefix.split("/", 3)[3]
    listed = s3_server.client().list_objects_v2(Bucket=s3_server.bucket, Prefix=key)["Contents"]
    # pyarrow's S3 delete put an empty "folder" object in place of each file it removed
    assert sorted(o["Key"][len(key) :] for o in listed) == [
        "/.lake/manifest.json",
        "/part-00000.parquet",
    ]
    assert s3_server.folder_markers(prefix) == []


def test_an_s3_prefix_holding_other_objects_is_not_written_over(
    backend, s3_server, tmp_path, monkeypatch
):
    import uuid

    import lake

    if s3_server is None:
        unavailable("the loopback S3 server (moto) could not start")
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    key = f"training-{uuid.uuid4().hex[:8]}/mine"
    s3 = s3_server.client()
    s3.put_object(Bucket=s3_server.bucket, Key=f"{key}/notes.txt", Body=b"precious")
    with lake.connect() as lk:
        _fill(lk)
        with pytest.raises(
            OutputFolderNotEmpty, match=r"holds objects that are not a training set's \(notes.txt\)"
        ):
            lk.materialize("churn", sql=SQL, out=f"s3://{s3_server.bucket}/{key}")
        assert lk.training_sets() == []
    assert (
        s3.get_object(Bucket=s3_server.bucket, Key=f"{key}/notes.txt")["Body"].read() == b"precious"
    )


# -- splits --------------------------------------------------------------------------------------


def test_the_split_rule_is_a_documented_hash_that_never_changes():
    from queries.splits import assign, parse_split, position

    # sha256(b"42")[:8] / 2**64: anyone can check it with sha256sum
    assert position(42) == int.from_bytes(hashlib.sha256(b"42").digest()[:8], "big") / 2**64
    assert (position(42), position("alice"), position(-7)) == (
        0.4503076495696752,
        0.1712650529798836,
        0.6540653200469173,
    )
    rule = parse_split("train=0.5,test=0.5", "k")
    assert assign([42, "alice", -7], rule) == [0, 0, 1]
    assert parse_split(" a=0.25, b=0.75 ", "k").fractions == (("a", 0.25), ("b", 0.75))


def test_the_split_computed_in_duckdb_is_the_documented_rule_key_for_key():
    import random

    from lake.core.duckdb import connect
    from queries.splits import assign, assign_array, parse_split

    rule = parse_split("train=0.8,validation=0.1,test=0.1", "k")
    draw = random.Random(7)
    ints = [draw.randint(-(2**63), 2**63 - 1) for _ in range(20_000)] + [0, -1, 42, 2**63 - 1]
    texts = [
        "".join(draw.choice("aé中\u0000 ") for _ in range(draw.randint(0, 9)))
        for _ in range(20_000)
    ]
    connection = connect(threads=1)
    try:
        for values, kind in [
            (ints, pa.int64()),
            (texts, pa.string()),
            ([t.encode() for t in texts], pa.binary()),
            ([1, 2, 250], pa.uint8()),
        ]:
            vectorized = assign_array(pa.array(values, kind), rule, connection).to_pylist()
            assert vectorized == assign(values, rule), kind
        for refused, why in [(pa.array([1, None]), "NoneType"), (pa.array([1.5]), "double")]:
            with pytest.raises(TypeError, match=why):
                assign_array(refused, rule, connection)
    finally:
        connection.close()


def test_a_split_compares_the_hash_prefix_with_the_exact_point_where_u_reaches_a_bound():
    import random

    from queries.splits import prefix_threshold

    draw = random.Random(11)
    for bound in (0.8, 0.9, 0.1 + 0.2, 1 / 3, 0.5, 1.0, 2**-60, 1.0000000001):
        threshold = prefix_threshold(bound)
        if threshold < 2**64:
            assert threshold / 2**64 >= bound
        if threshold > 0:
            assert (threshold - 1) / 2**64 < bound
        near = [threshold + d for d in range(-3000, 3000) if 0 <= threshold + d < 2**64]
        for n in near + [draw.randrange(2**64) for _ in range(2000)]:
            assert (n < threshold) == (n / 2**64 < bound), (bound, n)


def test_a_whole_hex_hash_compares_with_a_bound_as_its_first_16_digits_do_and_null_stays_null():
    import random

    import duckdb

    from queries.splits import parse_split, split_sql

    draw = random.Random(5)
    threshold = f"{draw.randrange(2**64):016x}"
    prefixes = [threshold, f"{int(threshold, 16) - 1:016x}", f"{int(threshold, 16) + 1:016x}"]
    hashes = [p + f"{draw.randrange(2**192):048x}" for p in prefixes for _ in range(50)]
    hashes += [threshold + "0" * 48, f"{draw.randrange(2**256):064x}"]
    connection = duckdb.connect()
    try:
        for h in hashes:
            reached = connection.execute("SELECT ? >= ?", [h, threshold]).fetchone()[0]
            assert reached == (int(h[:16], 16) >= int(threshold, 16)), h
        for spec in ("a=1", "a=0.5,b=0.5", "train=0.8,validation=0.1,test=0.1"):
            expression = split_sql(parse_split(spec, "k"), "k")
            assert connection.execute(
                f"SELECT {expression} FROM (SELECT NULL::VARCHAR k)"
            ).fetchone() == (None,)
    finally:
        connection.close()


@pytest.mark.parametrize(
    "spec,match",
    [
        ("train=0.8,test=0.1", "add up to 0.9, not 1"),
        ("train=0.8,train=0.2", "names the split 'train' twice"),
        ("train=1.5", "not NAME=FRACTION"),
        ("../x=1", "not NAME=FRACTION"),
        ("train", "not NAME=FRACTION"),
    ],
)
def test_a_split_spec_that_cannot_be_followed_is_refused(spec, match):
    from queries.exceptions import TrainingSetError
    from queries.splits import parse_split

    with pytest.raises(TrainingSetError, match=match):
        parse_split(spec, "k")


def test_a_split_training_set_puts_each_row_in_the_split_its_key_hashes_to(
    lk, tmp_path, monkeypatch
):
    import datasets

    from queries.splits import assign, parse_split

    rule = parse_split("train=0.6,validation=0.2,test=0.2", "row_id")
    sql = "SELECT row_id, event, amount FROM web.items"

    def items(start: int, n: int) -> pa.Table:
        return _events(start, n).append_column("row_id", pa.array(range(start, start + n)))

    lk.write_table("web.items", items(0, 300))
    whole = lk.materialize("plain", sql=sql, out=tmp_path / "plain")
    split = lk.materialize(
        "split",
        sql=sql,
        out=tmp_path / "v1",
        split=",".join(f"{n}={f}" for n, f in rule.fractions),
        split_key="row_id",
        shard_rows=50,
    )

    assert split.content_hash == whole.content_hash  # the same rows, in the same order
    manifest = json.loads((tmp_path / "v1" / ".lake" / "manifest.json").read_text())
    assert manifest["split"]["key"] == "row_id" and manifest["split"]["rule"] == "lake-split/1"
    seen = {}
    for name in ("train", "validation", "test"):
        rows = _read(tmp_path / "v1" / name)
        assert rows and all(assign([r["row_id"]], rule) == [rule.names.index(name)] for r in rows)
        assert manifest["split"]["splits"][name]["rows"] == len(rows)
        table = pa.Table.from_pylist(
            rows, schema=pq.read_schema(next((tmp_path / "v1" / name).glob("*.parquet")))
        )
        assert (
            manifest["split"]["splits"][name]["content_hash"]
            == content_hash(table.to_batches(), table.schema)[0]
        )
        seen.update({r["row_id"]: name for r in rows})
    assert len(seen) == 300
    assert all(f["path"].split("/")[0] in rule.names for f in manifest["files"])

    lk.write_table("web.items", items(300, 100))  # version 2: more rows, none move
    newer = lk.materialize(
        "split",
        sql=sql,
        out=tmp_path / "v2",
        split="train=0.6,validation=0.2,test=0.2",
        split_key="row_id",
        shard_rows=50,
    )
    assert newer.version == 2
    for name in ("train", "validation", "test"):
        for row in _read(tmp_path / "v2" / name):
            assert seen.get(row["row_id"], name) == name

    rebuilt = lk.materialize(from_="split@1", out=tmp_path / "rebuilt")
    assert (rebuilt.content_hash, rebuilt.files_identical) == (split.content_hash, True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loaded = datasets.load_dataset(
        "parquet", data_dir=str(tmp_path / "v1"), cache_dir=str(tmp_path / "hf")
    )
    assert {n: loaded[n].num_rows for n in loaded} == {
        n: manifest["split"]["splits"][n]["rows"] for n in rule.names
    }


def test_a_split_is_the_rule_of_its_key_for_text_bytes_and_integers_in_the_querys_own_order(
    lk, tmp_path
):
    from queries.splits import assign, parse_split

    lk.write_table(
        "web.items", _events(0, 300).append_column("row_id", pa.array(range(300), pa.int64()))
    )
    keys = {
        "name": "'user-' || CAST(row_id AS VARCHAR) || '-é'",
        "blob": "CAST('k' || CAST(row_id AS VARCHAR) AS BLOB)",
        "small": "CAST(row_id - 150 AS SMALLINT)",
    }
    for key, column in keys.items():
        sql = (
            f"SELECT {column} AS {key}, row_id, amount FROM web.items "
            "ORDER BY amount DESC NULLS FIRST LIMIT 250"
        )
        whole_out, split_out = tmp_path / f"whole-{key}", tmp_path / f"split-{key}"
        whole = lk.materialize(f"whole-{key}", sql=sql, out=whole_out)
        split = lk.materialize(
            f"split-{key}",
            sql=sql,
            out=split_out,
            split="a=0.3,b=0.7",
            split_key=key,
            shard_rows=40,
        )

        assert (split.content_hash, split.row_count) == (whole.content_hash, 250), key
        rule = parse_split("a=0.3,b=0.7", key)
        ordered = pa.concat_tables(
            pq.read_table(p) for p in sorted(whole_out.glob("*.parquet"))
        ).to_pylist()
        for index, name in enumerate(rule.names):
            rows = pa.concat_tables(
                pq.read_table(p) for p in sorted((split_out / name).glob("*.parquet"))
            ).to_pylist()
            # same order
            assert rows == [r for r in ordered if assign([r[key]], rule) == [index]], key
        rebuilt = lk.materialize(from_=f"split-{key}@1", out=tmp_path / f"rebuilt-{key}")
        assert (rebuilt.content_hash, rebuilt.files_identical) == (split.content_hash, True), key


def test_a_split_key_that_is_not_a_column_or_is_null_is_refused(lk, tmp_path):
    from queries.exceptions import TrainingSetError

    _fill(lk)
    with pytest.raises(TrainingSetError, match="split key 'nope' is not a column"):
        lk.materialize("s", sql=SQL, out=tmp_path / "a", split="a=0.5,b=0.5", split_key="nope")
    with pytest.raises(TrainingSetError, match="split key 'amount' has a value that is null"):
        lk.materialize(
            "s",
            sql="SELECT CAST(amount AS BIGINT) AS amount FROM web.events",
            out=tmp_path / "b",
            split="a=0.5,b=0.5",
            split_key="amount",
        )
    with pytest.raises(TrainingSetError, match="'amount' has a value that is of type double"):
        lk.materialize("s", sql=SQL, out=tmp_path / "c", split="a=0.5,b=0.5", split_key="amount")
    assert lk.training_sets() == []


# -- labels and point-in-time correctness --------------------------------------------------------


FEATURES_AT_LABEL_TIME = """
SELECT l.user_id, l.label_ts, l.churned, f.ts AS feature_ts, f.visits
  FROM ml.labels l
  ASOF JOIN ml.features f ON l.user_id = f.user_id AND f.ts <= l.label_ts
"""


def _ts(day: int, hour: int = 0):
    from datetime import UTC, datetime

    return datetime(2026, 11, day, hour, tzinfo=UTC)


def test_an_asof_join_gives_each_label_the_features_known_at_its_time_and_no_later(lk, tmp_path):
    lk.write_table(
        "ml.features",
        pa.table(
            {
                "user_id": [1, 1, 1, 2, 2],
                "ts": [_ts(1), _ts(5), _ts(9), _ts(2), _ts(8)],
                "visits": [1, 5, 90, 2, 8],
            }
        ),
    )
    lk.write_table(
        "ml.labels",
        pa.table(
            {"user_id": [1, 2, 1], "label_ts": [_ts(6), _ts(7), _ts(2)], "churned": [1, 0, 0]}
        ),
    )

    result = lk.materialize("churn_pit", sql=FEATURES_AT_LABEL_TIME, out=tmp_path / "pit")

    rows = _read(tmp_path / "pit")
    assert [(r["user_id"], r["label_ts"].day, r["feature_ts"].day, r["visits"]) for r in rows] == [
        (1, 2, 1, 1),  # the label of day 2 sees day 1's features, not day 5's
        (1, 6, 5, 5),  # day 6 sees day 5's, never day 9's (90 visits is the future)
        (2, 7, 2, 2),
    ]
    assert all(r["feature_ts"] <= r["label_ts"] for r in rows)
    assert sorted((i["table"], i["version"]) for i in result.inputs) == [
        ("ml.features", 0),
        ("ml.labels", 0),
    ]


def test_as_of_pins_every_input_to_what_the_lake_knew_then(lk, tmp_path, cli):
    lk.write_table(
        "ml.features", pa.table({"user_id": [1, 2], "ts": [_ts(1), _ts(1)], "visits": [3, 4]})
    )
    lk.write_table("ml.labels", pa.table({"user_id": [1], "label_ts": [_ts(3)], "churned": [1]}))
    known = max(v.committed_at for t in ("ml.features", "ml.labels") for v in lk.history(t))
    late = lk.write_table(  # a label that arrived after the moment asked about
        "ml.labels", pa.table({"user_id": [2], "label_ts": [_ts(3)], "churned": [0]})
    )
    assert lk.history("ml.labels")[-1].committed_at > known

    then = lk.materialize(
        "churn_then", sql=FEATURES_AT_LABEL_TIME, out=tmp_path / "then", as_of=known.isoformat()
    )
    lk.materialize("churn_now", sql=FEATURES_AT_LABEL_TIME, out=tmp_path / "now")

    assert [r["user_id"] for r in _read(tmp_path / "then")] == [1]  # the late label is not in it
    assert [r["user_id"] for r in _read(tmp_path / "now")] == [1, 2]
    assert sorted((i["table"], i["version"]) for i in then.inputs) == [
        ("ml.features", 0),
        ("ml.labels", 0),
    ]
    assert late.version == 1
    manifest = json.loads((tmp_path / "then" / ".lake" / "manifest.json").read_text())
    assert manifest["as_of"] == known.astimezone(UTC).isoformat()
    assert [(r["table"], r["version"]) for r in manifest["references"]] == [
        ("ml.labels", 0),
        ("ml.features", 0),
    ]
    rebuilt = lk.materialize(from_="churn_then@1", out=tmp_path / "again")
    assert rebuilt.content_hash == then.content_hash
    naive = cli(
        "materialize",
        "x",
        "--sql",
        FEATURES_AT_LABEL_TIME,
        "--out",
        str(tmp_path / "x"),
        "--as-of",
        "2026-11-20T10:00:00",
    )
    assert naive.exit_code == 1 and "has no time zone" in naive.stderr


@pytest.mark.parametrize(
    "reads",
    [
        "'{folder}/outside.parquet'",
        "read_parquet('{folder}/outside.parquet')",
        "read_csv('{folder}/outside.csv')",
    ],
)
def test_a_training_set_reads_lake_tables_and_nothing_it_cannot_pin(lk, tmp_path, reads):
    _fill(lk)
    pq.write_table(
        pa.table({"user_id": pa.array([1, 2], pa.int64())}), tmp_path / "outside.parquet"
    )
    (tmp_path / "outside.csv").write_text("user_id\n1\n2\n")
    sql = (
        "SELECT e.user_id, e.event FROM web.events e "
        f"JOIN {reads.format(folder=tmp_path)} o USING (user_id)"
    )

    # A file outside the lake has no version to pin: the set could not be rebuilt, and its
    # audit would not name what fed it.
    with pytest.raises(
        QueryRefused,
        match=r"refused this( at line 1, column \d+)?: it reads lake tables and nothing else",
    ):
        lk.materialize("joined", sql=sql, out=tmp_path / "joined")
    assert lk.training_sets() == []
    made = lk.materialize(
        "ranged",
        sql="SELECT e.user_id, r.n FROM web.events e JOIN range(3) r(n) ON e.user_id = r.n",
        out=tmp_path / "ranged",
    )
    assert made.row_count > 0


def test_a_training_set_holds_positive_zero_where_the_table_holds_negative_zero(lk, tmp_path):
    values = [-0.0, 0.0, 1.5]
    lk.write_table(
        "num.z",
        pa.table(
            {
                "k": [1, 1, 2],
                "x": values,
                "xs": [[v] for v in values],
                "s": [{"v": v} for v in values],
            }
        ),
    )
    kept = lk.sql("SELECT x FROM num.z").rows()
    assert sorted(math.copysign(1, r["x"]) for r in kept) == [-1, 1, 1]

    # Every output column is a sort key (the ordering rule), and DuckDB writes a sort key's
    # normalized value: rows apart only by the sign of a zero tie, and must not decide the
    # bytes by the order they tie in.
    made = lk.materialize(
        "zeros", sql="SELECT k, x, xs, s FROM num.z ORDER BY k", out=tmp_path / "z"
    )
    got = pq.read_table(tmp_path / "z").to_pylist()
    assert [(r["k"], r["x"], r["xs"], r["s"]) for r in got] == [
        (1, 0.0, [0.0], {"v": 0.0}),
        (1, 0.0, [0.0], {"v": 0.0}),
        (2, 1.5, [1.5], {"v": 1.5}),
    ]
    assert all(math.copysign(1, v) == 1 for r in got for v in (r["x"], r["xs"][0], r["s"]["v"]))
    rebuilt = lk.materialize(from_="zeros@1", out=tmp_path / "again")
    assert rebuilt.content_hash == made.content_hash


def _spread(lk, parts: int = 12, rows: int = 400) -> None:
    """Doubles of very different magnitudes in many files: their sum depends on the order
    it adds them in."""
    import random

    rng = random.Random(7)
    for _ in range(parts):
        values = [rng.gauss(0, 1) * 10 ** rng.uniform(-5, 12) for _ in range(rows)]
        lk.write_table("num.spread", pa.table({"g": [i % 3 for i in range(rows)], "x": values}))


def test_training_sets_of_float_aggregates_or_of_rows_met_in_order_rebuild_to_the_same_bytes(
    lk, tmp_path
):
    # DuckDB's threads take a version's files in whichever order they get to them, so the
    # same query over the same pinned files summed them in another order from run to run
    # (2 threads, 16 files: 7 different sums in 20 runs): a set made so could not be rebuilt.
    # A window's sum and DISTINCT ON's first row met depend on that order too. The three
    # queries share one table (12 commits).
    _spread(lk)
    queries = {
        "sums": "SELECT g, sum(x) AS total, avg(x) AS mean, stddev_samp(x) AS spread "
        "FROM num.spread GROUP BY g",
        "window": "SELECT g, x, sum(x) OVER (PARTITION BY g) AS group_total FROM num.spread",
        "distinct-on": "SELECT DISTINCT ON (g) g, x FROM num.spread",  # the first row met of g
    }
    for name, sql in queries.items():
        made = lk.materialize(name, sql=sql, out=tmp_path / name)
        for attempt in range(6):
            again = lk.materialize(from_=f"{name}@1", out=tmp_path / f"{name}-again-{attempt}")
            assert again.content_hash == made.content_hash, f"{name}: rebuild {attempt} differs"


# -- the order of a version's files -------------------------------------------------------------

_CANCELLING = ([1e16], [1.0], [-1e16], [1.0])
"""One double per file whose sum depends on the order of the files: oldest first it is 1.0,
newest first 0.0 (1e16 + 1.0 rounds back to 1e16)."""


def _rebuilt_in_another_process(source: str, out) -> subprocess.CompletedProcess:
    """``lake materialize --from source --out out`` in a process of its own, which keeps
    nothing this one read or wrote of a table (its snapshots, its files' paths)."""
    return subprocess.run(
        [sys.executable, "-m", "lake", "materialize", "--from", source, "--out", str(out)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )


def test_an_order_sensitive_set_rebuilds_after_another_engine_checkpoints_its_input(
    lk, tmp_path, backend
):
    # deltalake hands out a version's files newest commit first when it replays JSON
    # commits, but in the checkpoint's row order once a checkpoint holds them: Spark's (here
    # one written after the protocol, adds in log order) lists them oldest first, so the same
    # version summed to 1.0 before the checkpoint and 0.0 after, and a set recorded before it
    # could not be rebuilt ("content differs").
    from deltalake import write_deltalake

    from tests.delta import external

    options = lk.storage.delta_options()
    if backend.s3 is not None:
        uri = f"s3://{backend.s3.bucket}/spark-{uuid.uuid4().hex[:8]}/order"
    else:
        uri = str(tmp_path / "spark" / "order")
    for values in _CANCELLING:
        write_deltalake(uri, pa.table({"x": values}), mode="append", storage_options=options)
    lk.register_table("ext.order", uri)
    made = lk.materialize("total", sql="SELECT sum(x) AS total FROM ext.order", out=tmp_path / "a")

    external.checkpoint_by_hand(uri, options, 3)

    again = _rebuilt_in_another_process("total@1", tmp_path / "b")
    assert again.returncode == 0, again.stderr
    assert (
        json.loads((tmp_path / "b" / ".lake" / "manifest.json").read_text())["content_hash"]
        == made.content_hash
    )
    assert _read(tmp_path / "b") == _read(tmp_path / "a")


def _recorded_as_before_path_order(lk, name: str, folder) -> None:
    """The set's manifest (file and catalog) as a lake before path order wrote it: without
    ``file_order``, and with a content hash its query gives no more (the files met in
    another order)."""
    from catalog.definitions import TRAINING_SETS

    path = folder / ".lake" / "manifest.json"
    manifest = json.loads(path.read_text())
    del manifest["file_order"]
    manifest["content_hash"] = "0" * 64
    path.write_text(json.dumps(manifest))
    with lk.catalog.engine.begin() as connection:
        connection.execute(
            TRAINING_SETS.update()
            .where(TRAINING_SETS.c.name == name)
            .values(manifest=manifest, content_hash="0" * 64)
        )


def test_a_set_made_before_path_order_that_no_longer_rebuilds_says_why(lk, tmp_path):
    for values in _CANCELLING:
        lk.write_table("num.order", pa.table({"x": values}))
    sql = "SELECT sum(x) AS total FROM num.order"
    made = lk.materialize("total", sql=sql, out=tmp_path / "a")
    assert json.loads((tmp_path / "a" / ".lake" / "manifest.json").read_text())["file_order"] == (
        "path"
    )
    assert lk.materialize(from_="total@1", out=tmp_path / "b").content_hash == made.content_hash

    _recorded_as_before_path_order(lk, "total", tmp_path / "a")

    for source in (str(tmp_path / "a"), "total@1"):
        with pytest.raises(RebuildMismatch, match=r"made before the lake met a version's files"):
            lk.materialize(from_=source, out=tmp_path / "c")
    with pytest.raises(NotReproducible, match=r"materialize it under a new name\.$"):
        lk.materialize("total", sql=sql, out=tmp_path / "d")


def test_the_same_versions_read_by_other_references_are_another_set_not_a_cache_hit(lk, tmp_path):
    """A table read at two versions by explicit clauses and once more without one: pinned
    by --as-of to the first version, or to the latest without it, the query reads the same
    set of versions, {v0, v1}, and gives other rows. A cache hit or a copy keyed by that set
    alone served the --as-of set's rows for the query at the latest version (11 rows where
    the query gives 13), or refused the new version as 'not deterministic'."""
    lk.write_table("ml.a", pa.table({"id": [1, 2, 3]}))
    then = lk.history("ml.a")[-1].committed_at.isoformat()
    lk.write_table("ml.a", pa.table({"id": [4, 5]}))
    sql = (
        "SELECT 1 AS k, id FROM ml.a VERSION AS OF 0 UNION ALL "
        "SELECT 2, id FROM ml.a VERSION AS OF 1 UNION ALL SELECT 3, id FROM ml.a"
    )
    first = lk.materialize("twice", sql=sql, out=tmp_path / "then", as_of=then)
    assert (first.version, first.row_count) == (1, 3 + 5 + 3)
    expected = lk.sql(f"SELECT count(*) AS n FROM ({sql})").table.to_pylist()[0]["n"]
    assert expected == 3 + 5 + 5

    same_folder = lk.materialize("twice", sql=sql, out=tmp_path / "then-again", as_of=then)
    assert (same_folder.status, same_folder.version) == ("copied", 1)
    with pytest.raises(OutputFolderNotEmpty, match="holds training set twice@1"):
        lk.materialize("twice", sql=sql, out=tmp_path / "then")
    latest = lk.materialize("twice", sql=sql, out=tmp_path / "latest")

    assert (latest.status, latest.version, latest.row_count) == ("materialized", 2, expected)
    manifest = json.loads((tmp_path / "latest" / ".lake" / "manifest.json").read_text())
    assert [r["version"] for r in manifest["references"]] == [0, 1, 1]
    assert lk.materialize(from_="twice@2", out=tmp_path / "latest").status == "cached"
    assert lk.materialize(from_="twice@1", out=tmp_path / "rebuilt").row_count == 11


def test_a_time_with_time_zone_is_refused_not_written_without_its_offset(lk, tmp_path):
    """DuckDB hands a TIME WITH TIME ZONE to Arrow as a plain time, its offset dropped:
    10:00+02 and 10:00+05, which DuckDB holds unequal, were both written to the training
    set (and answered by `lake sql`) as 10:00, with no error."""
    lk.write_table("ml.a", pa.table({"id": [1]}))
    sql = "SELECT id, '10:00:00+02'::TIMETZ AS at, '10:00:00+05'::TIMETZ AS other FROM ml.a"
    with pytest.raises(QueryRefused, match=r"column at .*TIME WITH TIME ZONE.*offset"):
        lk.materialize("tz", sql=sql, out=tmp_path / "tz")
    assert lk.training_sets("tz") == []
    with pytest.raises(QueryRefused, match=r"column at .*TIME WITH TIME ZONE"):
        lk.sql(sql)
    cast = "SELECT id, CAST('10:00:00+02'::TIMETZ AS VARCHAR) AS at FROM ml.a"
    assert lk.sql(cast).table.to_pylist() == [{"id": 1, "at": "10:00:00+02"}]


def test_a_bit_string_is_refused_not_written_as_duckdbs_internal_bytes(lk, tmp_path):
    """DuckDB hands a BIT value to Arrow as its internal bytes: '0101' came out of `lake sql`
    as the bytes 04 f5 (base64 'BPU=' in JSON) and was written so to a training set, with no
    error. Refused wherever it sits (a list, a struct, a map), named by its column; a column
    or struct field whose name merely contains the word is not."""
    lk.write_table("ml.a", pa.table({"id": [1]}))
    for column in ("'0101'::BIT", "['1'::BIT]", "{'bits': '01'::BITSTRING}", "MAP {'k': '1'::BIT}"):
        sql = f"SELECT id, {column} AS flags FROM ml.a"
        with pytest.raises(QueryRefused, match=r"column flags is of type .*BIT.*CAST"):
            lk.sql(sql)
        with pytest.raises(QueryRefused, match=r"column flags is of type .*BIT"):
            lk.materialize("bits", sql=sql, out=tmp_path / "bits")
    assert lk.training_sets("bits") == []
    named = "SELECT id AS bit, {'bitrate': 1, 'time with time zone': 2} AS bits FROM ml.a"
    assert lk.sql(named).table.to_pylist() == [
        {"bit": 1, "bits": {"bitrate": 1, "time with time zone": 2}}
    ]
    assert lk.materialize("named", sql=named, out=tmp_path / "named").row_count == 1
    cast = "SELECT CAST('0101'::BIT AS VARCHAR) AS flags FROM ml.a"
    assert lk.sql(cast).table.to_pylist() == [{"flags": "0101"}]


@pytest.mark.parametrize(
    ("expression", "kind"),
    [
        ("'123456789012345678901234567890'::VARINT", "BIGNUM"),
        ("'101'::BIT", "BIT"),
        ("['101'::BIT]", "BIT"),
        ("MAP {'k': 5::VARINT}", "BIGNUM"),
    ],
)
def test_a_bignum_or_bit_is_refused_not_written_as_duckdbs_internal_bytes(
    lk, tmp_path, expression, kind
):
    """DuckDB hands a BIGNUM (VARINT) and a BIT string to Arrow as its own internal bytes:
    123456789012345678901234567890 was answered by `lake sql --output json` as the base64
    text 'gAANAY7pD/bDc+DuTj8K0g==' and bit string 101 as 'Bf0=', and a training set
    stored those bytes as the column's values, with no error."""
    lk.write_table("ml.a", pa.table({"id": [1]}))
    sql = f"SELECT id, {expression} AS v FROM ml.a"
    with pytest.raises(QueryRefused, match=rf"column v is of type .*{kind}.*CAST\(v AS VARCHAR\)"):
        lk.materialize("odd", sql=sql, out=tmp_path / "odd")
    assert lk.training_sets("odd") == []
    with pytest.raises(QueryRefused, match=rf"column v is of type .*{kind}"):
        lk.sql(sql)


def test_a_uhugeint_is_refused_not_answered_negative(lk, tmp_path):
    """DuckDB hands a UHUGEINT to Arrow as a signed 128-bit decimal: its largest value
    340282366920938463463374607431768211455 was answered by lake sql (JSON, CSV, table), the
    service and the Python API as -1, and 2**127 as -2**127, and a training set stored
    them so, with no error."""
    lk.write_table("ml.a", pa.table({"id": [1]}))
    sql = "SELECT id, 340282366920938463463374607431768211455::UHUGEINT AS v FROM ml.a"
    with pytest.raises(QueryRefused, match=r"column v is of type UHUGEINT.*CAST\(v AS VARCHAR\)"):
        lk.sql(sql)
    with pytest.raises(QueryRefused, match=r"column v is of type .*UHUGEINT\[\]"):
        lk.sql("SELECT [2::UHUGEINT] AS v FROM ml.a")
    with pytest.raises(QueryRefused, match=r"column v is of type UHUGEINT"):
        lk.materialize("huge", sql=sql, out=tmp_path / "huge")
    assert lk.training_sets("huge") == []
    cast = "SELECT CAST(340282366920938463463374607431768211455::UHUGEINT AS VARCHAR) AS v"
    assert lk.sql(cast).table.to_pylist() == [{"v": str(2**128 - 1)}]


def test_a_struct_field_named_like_a_refused_type_is_not_refused(lk):
    """Only types are refused, not member names that read like them."""
    lk.write_table("ml.a", pa.table({"id": [1]}))
    sql = """SELECT id, {'bit': 1, 'time with time zone': 2, 'bignum': 3} AS s FROM ml.a"""
    assert lk.sql(sql).table.to_pylist() == [
        {"id": 1, "s": {"bit": 1, "time with time zone": 2, "bignum": 3}}
    ]


def test_a_cache_hit_is_refused_when_a_stray_shard_lies_beside_the_set(
    backend, s3_server, tmp_path, monkeypatch
):
    """A shard the manifest does not list, copied into the folder or prefix: materialize
    said "cached" (200 rows, every listed file intact) while every loader of the folder read
    400 rows."""
    import uuid

    import lake

    if s3_server is None:
        unavailable("the loopback S3 server (moto) could not start")
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    prefix = f"s3://{s3_server.bucket}/training-{uuid.uuid4().hex[:8]}/churn"
    key = prefix.split("/", 3)[3]
    folder = tmp_path / "churn"
    s3 = s3_server.client()
    with lake.connect() as lk:
        _fill(lk)
        made = lk.materialize("churn", sql=SQL, out=prefix)
        lk.materialize("churn", sql=SQL, out=folder)
        shard = s3.get_object(Bucket=s3_server.bucket, Key=f"{key}/part-00000.parquet")
        s3.put_object(
            Bucket=s3_server.bucket, Key=f"{key}/old/part-00000.parquet", Body=shard["Body"].read()
        )
        (folder / "old").mkdir()
        shutil.copy(folder / "part-00000.parquet", folder / "old" / "part-00000.parquet")
        assert pq.read_table(folder).num_rows == 2 * made.row_count  # what a loader reads
        for out in (prefix, folder):
            with pytest.raises(
                OutputFolderNotEmpty, match=r"not a training set's \(old(/part-00000\.parquet)?\)"
            ):
                lk.materialize("churn", sql=SQL, out=out)
        # Loaders skip names starting with '.' or '_': such a file changes nothing.
        (folder / "old" / "part-00000.parquet").rename(folder / "_old.parquet")
        (folder / "old").rmdir()
        assert lk.materialize("churn", sql=SQL, out=folder).status == "cached"


def test_repeated_column_names_are_named_by_one_rule_in_every_output(lk, cli, tmp_path):
    """A query with repeated column names got a, a_2 from `lake sql` (JSON, CSV, Parquet,
    the service's JSON lines, the console) but a, a_1 in its training set (DuckDB names a
    subquery's columns so), and a, a in the terminal table and the service's Arrow answer
    (polars refuses such a stream). One rule now, DuckDB's (``queries.output.unique_names``):
    the same names in every output, the training set's shards and manifest included."""
    import re

    from fastapi.testclient import TestClient

    from lake.faces.service import create_app

    lk.write_table("t.x", pa.table({"a": [1], "b": [2]}))
    sql = 'SELECT x.a, y.a, x.b AS a_1, x.b AS "A" FROM t.x x JOIN t.x y USING (b)'
    names = ["a", "a_1", "a_1_1", "A_2"]

    lk.materialize("dup", sql=sql, out=tmp_path / "dup")
    manifest = json.loads((tmp_path / "dup" / ".lake" / "manifest.json").read_text())
    assert [c["name"] for c in manifest["schema"]] == names
    assert pq.read_table(next((tmp_path / "dup").glob("part-*.parquet"))).column_names == names

    answer = cli("sql", sql, "--output", "json").json()
    assert [c["name"] for c in answer["columns"]] == names and list(answer["rows"][0]) == names
    assert cli("sql", sql, "--output", "csv").stdout.splitlines()[0] == ",".join(
        f'"{n}"' for n in names
    )
    cli("sql", sql, "--output", "parquet", "--out", str(tmp_path / "dup.parquet"))
    assert pq.read_table(tmp_path / "dup.parquet").column_names == names
    header = cli("sql", sql).stdout
    assert all(re.search(rf"\b{n}\b", header) for n in names[1:]), header

    client = TestClient(create_app(lk))
    token = {"Authorization": f"Bearer {lk.create_token(role='read').secret}"}
    lines = client.post("/api/v1/sql", json={"sql": sql}, headers=token)
    assert list(json.loads(lines.text.splitlines()[0])) == names
    arrow = client.post("/api/v1/sql", json={"sql": sql, "format": "arrow"}, headers=token)
    assert pa.ipc.open_stream(arrow.content).read_all().column_names == names

    def csrf(path: str) -> str:
        return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)

    signed = client.post(
        "/sign-in",
        data={"csrf": csrf("/sign-in"), "token": token["Authorization"][7:], "next": "/sql"},
    )
    assert signed.status_code == 200, signed.text
    page = client.post("/sql", data={"csrf": csrf("/sql"), "sql": sql}).text
    assert re.findall(r'<th title="[^"]*">([^<]*)<br>', page) == names


def test_a_set_made_with_repeated_names_before_the_rule_still_rebuilds_and_copies_as_it_was(
    lk, tmp_path, monkeypatch
):
    """A query with its own ORDER BY is not a subquery, so DuckDB left its repeated names
    alone and such a set's shards and manifest repeated them (user_id, user_id). New sets get
    the rule's names (user_id, user_id_1); a set recorded with repeated names is rebuilt and
    copied under its recorded names, so its content hash still holds."""
    import queries.training as training

    _fill(lk)
    sql = (
        "SELECT e.user_id, u.user_id FROM web.events e JOIN shop.users u USING (user_id) ORDER BY 1"
    )
    with monkeypatch.context() as before_the_rule:
        before_the_rule.setattr(
            training, "_named_apart", lambda schema, batches, recorded: (schema, batches)
        )
        old = lk.materialize("old", sql=sql, out=tmp_path / "old")
    manifest = json.loads((tmp_path / "old" / ".lake" / "manifest.json").read_text())
    assert [c["name"] for c in manifest["schema"]] == ["user_id", "user_id"]

    rebuilt = lk.materialize(from_="old@1", out=tmp_path / "rebuilt")
    copied = lk.materialize("old", sql=sql, out=tmp_path / "copy")
    assert (rebuilt.status, copied.status) == ("rebuilt", "copied")
    assert rebuilt.content_hash == copied.content_hash == old.content_hash

    new = lk.materialize("new", sql=sql, out=tmp_path / "new")
    manifest = json.loads((tmp_path / "new" / ".lake" / "manifest.json").read_text())
    assert [c["name"] for c in manifest["schema"]] == ["user_id", "user_id_1"]
    assert new.content_hash != old.content_hash
    split = lk.materialize(
        "split", sql=sql, out=tmp_path / "split", split="a=0.5,b=0.5", split_key="user_id"
    )
    assert split.row_count == 200
