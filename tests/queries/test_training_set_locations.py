"""Where a training set may be written: never inside another set's folder or prefix (a
loader of that set would read the new rows too), never around one, and never at a location
the lake's readers would name differently (the warehouse's rule)."""

from __future__ import annotations

import shutil
import uuid

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from lake.core.errors import UnsupportedLocation
from queries.exceptions import OutputFolderNotEmpty
from tests.backends import unavailable
from tests.queries.test_materialize import SQL, _events, _fill


def test_a_training_set_is_never_written_inside_another_sets_folder(lk, tmp_path):
    _fill(lk)
    first = lk.materialize("churn", sql=SQL, out=tmp_path / "sets" / "churn")
    rows = ds.dataset(tmp_path / "sets" / "churn").count_rows()

    with pytest.raises(
        OutputFolderNotEmpty, match=r"inside .*churn, which holds training set churn@1"
    ):
        lk.materialize(
            "small", sql=SQL + " WHERE e.user_id = 1", out=tmp_path / "sets" / "churn" / "sub"
        )

    assert ds.dataset(tmp_path / "sets" / "churn").count_rows() == rows == first.row_count
    assert not (tmp_path / "sets" / "churn" / "sub").exists()
    assert [s.name for s in lk.training_sets()] == ["churn"]


def test_a_training_set_is_never_written_inside_a_recorded_sets_folder_whose_files_are_gone(
    lk, tmp_path
):
    """The recorded set may be put back in its folder: with another set inside, that folder
    would not be empty, and a loader of it would read both."""
    _fill(lk)
    first = lk.materialize("churn", sql=SQL, out=tmp_path / "sets" / "churn")
    shutil.rmtree(tmp_path / "sets" / "churn")

    with pytest.raises(
        OutputFolderNotEmpty,
        match=r"inside .*churn, where training set churn@1 is recorded; its files are not "
        r"there now, but put back \(lake materialize --from churn@1 --out .*churn\)",
    ):
        lk.materialize(
            "small", sql=SQL + " WHERE e.user_id = 1", out=tmp_path / "sets" / "churn" / "sub"
        )

    assert not (tmp_path / "sets" / "churn").exists()
    assert [s.name for s in lk.training_sets()] == ["churn"]
    restored = lk.materialize(from_="churn@1", out=tmp_path / "sets" / "churn")
    assert (restored.content_hash, restored.files_identical) == (first.content_hash, True)


def _s3_lake(s3_server, monkeypatch):
    if s3_server is None:
        unavailable("the loopback S3 server (moto) could not start")
    for key, value in s3_server.env().items():  # the outputs' bucket, whatever the warehouse
        monkeypatch.setenv(key, value)
    return f"s3://{s3_server.bucket}/training-{uuid.uuid4().hex[:8]}"


def test_a_training_set_is_never_written_under_another_sets_prefix_but_may_share_its_start(
    backend, s3_server, monkeypatch
):
    import lake

    base = _s3_lake(s3_server, monkeypatch)
    with lake.connect() as lk:
        _fill(lk)
        # "ab" first: listing the prefix "a" as a string prefix would find its objects
        beside = lk.materialize("other", sql=SQL + " WHERE e.user_id = 1", out=f"{base}/ab")
        lk.materialize("churn", sql=SQL, out=f"{base}/a")
        with pytest.raises(OutputFolderNotEmpty, match="which holds training set churn@1"):
            lk.materialize("small", sql=SQL + " WHERE e.user_id = 2", out=f"{base}/a/sub")
        again = lk.materialize("churn", sql=SQL, out=f"{base}/a")

    assert beside.status == "materialized"
    assert again.status == "cached"
    key = base.split("/", 3)[3]
    listed = s3_server.client().list_objects_v2(Bucket=s3_server.bucket, Prefix=f"{key}/a/")
    assert not any("/sub/" in o["Key"] for o in listed["Contents"])


def test_an_s3_output_prefix_the_lakes_readers_would_name_differently_is_refused(
    backend, s3_server, monkeypatch
):
    import lake

    refused = []
    with lake.connect() as lk:
        _fill(lk)
        for tail in ("a%20b", "q?x", "h#x", "b[a]x", "star*", "x//y", "x/./y", "x/../y"):
            base = _s3_lake(s3_server, monkeypatch)
            with pytest.raises(UnsupportedLocation, match="^The output location s3://.*; choose"):
                lk.materialize("churn", sql=SQL, out=f"{base}/{tail}")
            refused.append((tail, base.split("/", 3)[3]))
        assert lk.training_sets() == []
    for tail, key in refused:
        listed = s3_server.client().list_objects_v2(Bucket=s3_server.bucket, Prefix=key)
        assert "Contents" not in listed, tail


def test_a_local_output_folder_is_taken_literally_whatever_its_characters(lk, tmp_path):
    _fill(lk)
    for tail in ("a%20b", "q?x", "h#x"):
        # A set is no Delta table: pyarrow and the loaders read a local folder's path as it is
        # (the warehouse's rule is deltalake's), and main's code wrote sets in such folders.
        name, out = f"churn-{tail[0]}", tmp_path / tail
        made = lk.materialize(name, sql=SQL, out=out)
        assert ds.dataset(out).count_rows() == made.row_count, tail
        assert lk.materialize(name, sql=SQL, out=out).status == "cached", tail
        assert lk.materialize(from_=f"{name}@1", out=out).status == "cached", tail
        rebuilt = lk.materialize(from_=f"{name}@1", out=tmp_path / f"again-{tail[0]}")
        assert (rebuilt.status, rebuilt.content_hash) == ("rebuilt", made.content_hash), tail


def test_a_folder_a_training_set_is_recorded_in_is_not_given_to_another_set_once_emptied(
    lk, tmp_path
):
    import shutil

    from catalog.exceptions import TrainingSetLocationTaken

    _fill(lk)
    out = tmp_path / "churn"
    first = lk.materialize("churn", sql=SQL, out=out)
    lk.register_model("churn_gbm", training_set="churn")
    shutil.rmtree(out)  # someone cleans up disk; the catalog still says churn@1 lives here

    with pytest.raises(TrainingSetLocationTaken, match=r"where training set churn@1 is recorded"):
        lk.materialize("small", sql=SQL + " WHERE e.user_id = 1", out=out)
    lk.write_table("web.events", _events(200, 10))
    with pytest.raises(TrainingSetLocationTaken, match=r"where training set churn@1 is recorded"):
        lk.materialize("churn", sql=SQL, out=out)  # a new version of the same set
    lk.materialize("small", sql=SQL + " WHERE e.user_id = 1", out=tmp_path / "small")
    with pytest.raises(TrainingSetLocationTaken, match=r"where training set churn@1 is recorded"):
        lk.materialize(from_="small@1", out=out)

    rebuilt = lk.materialize(from_="churn@1", out=out)  # its own folder: written back
    assert (rebuilt.status, rebuilt.content_hash) == ("rebuilt", first.content_hash)
    assert [(s.name, s.version, s.location) for s in lk.training_sets()] == [
        ("churn", 1, str(out)),
        ("small", 1, str(tmp_path / "small")),
    ]


def test_a_training_set_is_never_written_inside_the_warehouse_or_a_tables_folder(
    lk, backend, tmp_path
):
    from deltalake import write_deltalake

    from queries.exceptions import TrainingSetError

    _fill(lk)
    external = tmp_path / "spark" / "orders"
    write_deltalake(str(external), pa.table({"id": [1, 2]}))
    lk.register_table("sales.orders", str(external))

    # vacuum deletes every file in a table's folder that no kept version lists: a set
    # there would lose its files under the model trained on it.
    for out in (f"{backend.warehouse}/web/events/sets/churn", f"{backend.warehouse}/sets"):
        with pytest.raises(TrainingSetError, match=r"is inside the lake's warehouse"):
            lk.materialize("churn", sql=SQL, out=out)
    with pytest.raises(TrainingSetError, match=r"is inside the folder of table sales\.orders"):
        lk.materialize("churn", sql=SQL, out=external / "sets")
    assert lk.training_sets() == []
    assert not (external / "sets").exists()


def test_a_set_recorded_in_a_folder_another_version_shared_before_the_check_can_be_put_back(
    backend, lk, tmp_path
):
    import shutil

    from sqlalchemy import create_engine, text

    from catalog.exceptions import TrainingSetLocationTaken

    _fill(lk)
    out = tmp_path / "churn"
    lk.materialize("churn", sql=SQL, out=out)
    small = lk.materialize("small", sql=SQL + " WHERE e.user_id = 1", out=tmp_path / "small")
    # A catalog written before the lake kept folders apart: churn@1's folder was emptied and
    # small@1 written into it (main's code allowed that), so both are recorded there.
    shutil.rmtree(out)
    shutil.move(tmp_path / "small", out)
    engine = create_engine(backend.catalog_url)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE training_sets SET location = :out WHERE name = 'small'"),
            {"out": str(out)},
        )
    engine.dispose()
    shutil.rmtree(out)  # then lost

    # Either recorded version may be put back in the folder it is recorded in; no other.
    rebuilt = lk.materialize(from_="small@1", out=out)
    assert (rebuilt.status, rebuilt.content_hash) == ("rebuilt", small.content_hash)
    shutil.rmtree(out)
    with pytest.raises(TrainingSetLocationTaken, match=r"where training set churn@1 is recorded"):
        lk.materialize("other", sql=SQL + " WHERE e.user_id = 2", out=out)
