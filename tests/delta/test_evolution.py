"""The rule book of schema evolution (lake/delta/evolution.py) and of what Delta stores
(lake/delta/types.py), as small pure functions."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pyarrow as pa
import pytest

from lake.core.errors import SchemaConflict, TypeNotStorable
from lake.delta.evolution import conform, log_union, plan, widens
from lake.delta.types import (
    column_type,
    has_timestamp_ntz,
    json_field,
    normal_type,
    storable_schema,
    storable_type,
)


def _one(old: pa.DataType, new: pa.DataType, policy: str):
    return plan(pa.schema([("c", old)]), pa.schema([("c", new)]), policy, where="table t")


# --------------------------------------------------------------------------------------------
# Lossless widening: the extract rules


@pytest.mark.parametrize(
    ("old", "new", "kind", "accepted"),
    [
        (pa.int32(), pa.int64(), "widened", True),
        (pa.int16(), pa.int32(), "widened", True),
        (pa.int32(), pa.decimal128(12, 2), "widened", True),
        (pa.int64(), pa.decimal128(18, 0), "changed", False),  # 19 digits do not fit 18
        (pa.decimal128(10, 2), pa.decimal128(12, 2), "widened", True),
        (pa.decimal128(10, 2), pa.decimal128(12, 4), "widened", True),
        (pa.decimal128(10, 2), pa.decimal128(11, 4), "changed", False),  # integer digits shrink
        (pa.decimal128(12, 2), pa.decimal128(10, 2), "narrowed", False),
        (pa.float32(), pa.float64(), "widened", True),
        (pa.float64(), pa.float32(), "narrowed", False),
        (pa.int64(), pa.int32(), "narrowed", False),
        (pa.string(), pa.int64(), "changed", False),
        (pa.int64(), pa.string(), "changed", False),
        (pa.date32(), pa.timestamp("us"), "widened", True),
        (pa.timestamp("us"), pa.timestamp("us", tz="UTC"), "changed", False),
        (pa.list_(pa.int32()), pa.list_(pa.int64()), "widened", True),
    ],
)
def test_the_lossless_policy_widens_only_where_every_value_fits(old, new, kind, accepted):
    if accepted:
        evolution = _one(old, new, "lossless")
        (change,) = evolution.changes
        assert (change.kind, change.accepted) == (kind, True)
        assert evolution.retyped == ("c",)
        assert evolution.schema.field("c").type == normal_type(storable_type(new, column="c"))
    else:
        expected = re.escape(f"'c' of table t is {old}, the new data has {new}")
        with pytest.raises(SchemaConflict, match=expected):
            _one(old, new, "lossless")


def test_the_replace_policy_takes_any_new_type():
    evolution = _one(pa.int64(), pa.string(), "replace")
    assert evolution.schema.field("c").type == pa.string()
    assert [(c.kind, c.accepted) for c in evolution.changes] == [("changed", True)]


def test_the_strict_policy_refuses_every_type_change_but_adds_columns():
    with pytest.raises(SchemaConflict, match=r"Column 'c' of table t is int64, the new data has"):
        _one(pa.int64(), pa.float64(), "strict")
    with pytest.raises(SchemaConflict):
        _one(pa.int32(), pa.int64(), "strict")  # even a lossless widening
    evolution = plan(
        pa.schema([("id", pa.int64())]),
        pa.schema([("id", pa.int64()), ("label", pa.string())]),
        "strict",
        where="table t",
    )
    assert evolution.schema.names == ["id", "label"]
    assert [c.kind for c in evolution.changes] == ["added"]
    assert evolution.retyped == ()


def test_added_and_dropped_columns_are_kept_under_every_policy():
    old = pa.schema([("id", pa.int64()), ("gone", pa.string())])
    new = pa.schema([("id", pa.int64()), ("fresh", pa.float64())])
    for policy in ("logs", "lossless", "replace", "strict"):
        evolution = plan(old, new, policy, where="table t")
        assert evolution.schema.names == ["id", "gone", "fresh"]
        assert [(c.kind, c.column) for c in evolution.changes] == [
            ("dropped", "gone"),
            ("added", "fresh"),
        ]


def test_physical_spellings_of_one_type_are_no_change():
    old = pa.schema(
        [
            ("s", pa.large_string()),
            ("b", pa.large_binary()),
            ("t", pa.timestamp("us", tz="Etc/UTC")),
        ]
    )
    new = pa.schema([("s", pa.string()), ("b", pa.binary()), ("t", pa.timestamp("us", tz="UTC"))])
    evolution = plan(old, new, "strict", where="table t")
    assert evolution.changes == () and evolution.retyped == ()


def test_a_struct_gains_fields_and_widens_field_by_field():
    old = pa.schema([("r", pa.struct([("a", pa.int32())]))])
    new = pa.schema([("r", pa.struct([("a", pa.int64()), ("b", pa.string())]))])
    evolution = plan(old, new, "lossless", where="table t")
    assert [(c.kind, c.column) for c in evolution.changes] == [("widened", "r.a"), ("added", "r.b")]
    assert evolution.schema.field("r").type == pa.struct([("a", pa.int64()), ("b", pa.string())])
    assert evolution.retyped == ("r",)


def test_names_that_differ_only_in_case_are_refused():
    with pytest.raises(SchemaConflict, match=r"'id' and 'ID' .* differ only in case"):
        plan(pa.schema([("id", pa.int64())]), pa.schema([("ID", pa.int64())]), "strict", where="t")


# --------------------------------------------------------------------------------------------
# The logs policy


def test_logs_widen_int_to_float_and_anything_else_to_json():
    assert log_union(pa.int64(), pa.float64()) == pa.float64()
    assert log_union(pa.null(), pa.string()) == pa.string()
    assert log_union(pa.int64(), pa.string()) is None
    evolution = _one(pa.int64(), pa.float64(), "logs")
    assert evolution.schema.field("c").type == pa.float64()
    evolution = plan(
        pa.schema([("c", pa.int64())]), pa.schema([json_field("c")]), "logs", where="table t"
    )
    assert column_type(evolution.schema.field("c")) == "json"
    assert [c.kind for c in evolution.changes] == ["conflict"]


def test_conform_writes_old_values_as_their_json_text():
    batch = pa.record_batch(
        {
            "c": pa.array([1, None, 3], pa.int64()),
            "s": pa.array(["abc", "x", None]),
            "r": pa.array([{"a": 1}, {"a": 2}, None], pa.struct([("a", pa.int64())])),
        }
    )
    target = pa.schema(
        [
            json_field("c"),
            json_field("s"),
            pa.field("r", pa.struct([json_field("a"), pa.field("b", pa.float64())])),
        ]
    )
    out = conform(batch, target)
    assert out.column("c").to_pylist() == ["1", None, "3"]
    assert out.column("s").to_pylist() == ['"abc"', '"x"', None]
    assert out.column("r").to_pylist() == [{"a": "1", "b": None}, {"a": "2", "b": None}, None]


# --------------------------------------------------------------------------------------------
# What Delta stores


@pytest.mark.parametrize(
    ("arrow", "stored"),
    [
        (pa.uint8(), pa.int16()),
        (pa.uint32(), pa.int64()),
        (pa.uint64(), pa.decimal128(20, 0)),
        (pa.float16(), pa.float32()),
        (pa.large_string(), pa.string()),
        (pa.string_view(), pa.string()),
        (pa.large_binary(), pa.binary()),
        (pa.binary(16), pa.binary()),
        (pa.decimal256(20, 2), pa.decimal128(20, 2)),
        (pa.date64(), pa.date32()),
        (pa.timestamp("ns", tz="Europe/Paris"), pa.timestamp("us", tz="UTC")),
        (pa.timestamp("s"), pa.timestamp("us")),
        (pa.dictionary(pa.int32(), pa.string()), pa.string()),
        (pa.large_list(pa.uint8()), pa.list_(pa.int16())),
        (pa.list_(pa.int32(), 3), pa.list_(pa.int32())),
        (pa.map_(pa.string(), pa.uint16()), pa.map_(pa.string(), pa.int32())),
    ],
)
def test_every_arrow_type_is_stored_as_a_delta_type_that_holds_all_its_values(arrow, stored):
    assert storable_type(arrow, column="c").equals(stored)


@pytest.mark.parametrize(
    ("arrow", "why"),
    [
        (pa.time64("us"), "no time-of-day type"),
        (pa.duration("s"), "no duration or interval type"),
        (pa.month_day_nano_interval(), "no duration or interval type"),
        (pa.null(), "holds only nulls"),
        (pa.decimal256(40, 2), "up to 38 digits"),
        (pa.struct([]), "without fields"),
        (pa.struct([("t", pa.time32("s"))]), "no time-of-day type"),
    ],
)
def test_types_delta_cannot_hold_are_refused_with_one_sentence(arrow, why):
    with pytest.raises(TypeNotStorable, match=why) as error:
        storable_schema(pa.schema([("c", arrow)]))
    message = str(error.value)
    assert message.startswith("Column 'c") and message.endswith("then write again.")
    assert "\n" not in message


def test_values_with_no_exact_stored_form_are_refused_not_rounded():
    nanos = pa.record_batch({"t": pa.array([1_000_000_001], pa.timestamp("ns", tz="UTC"))})
    target = pa.schema([("t", pa.timestamp("us", tz="UTC"))])
    with pytest.raises(TypeNotStorable, match="no exact form"):
        conform(nanos, target)
    whole = pa.record_batch({"t": pa.array([1_000_000_000], pa.timestamp("ns", tz="UTC"))})
    assert conform(whole, target).column("t").to_pylist() == [
        dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=dt.UTC)
    ]
    big = pa.record_batch({"u": pa.array([2**64 - 1], pa.uint64())})
    stored = conform(big, storable_schema(big.schema))
    assert stored.column("u").to_pylist() == [Decimal(2**64 - 1)]


def test_conform_copies_sliced_nested_arrays():
    nested = pa.array([{"a": {"b": i}} for i in range(10)])
    batch = pa.record_batch({"n": nested}).slice(3, 4)
    assert batch.column(0).offset == 3
    out = conform(batch, batch.schema)
    assert out.column(0).offset == 0
    assert out.column(0).to_pylist() == [{"a": {"b": i}} for i in range(3, 7)]


def test_timestamps_without_a_zone_are_found_at_any_depth():
    assert has_timestamp_ntz(pa.schema([("t", pa.timestamp("us"))]))
    assert has_timestamp_ntz(pa.schema([("r", pa.list_(pa.struct([("t", pa.timestamp("us"))])))]))
    assert not has_timestamp_ntz(pa.schema([("t", pa.timestamp("us", tz="UTC"))]))


@pytest.mark.parametrize("a", [pa.int8(), pa.int16(), pa.int32(), pa.int64()])
def test_no_type_widens_to_itself_and_widening_is_never_circular(a):
    assert not widens(a, a)
    for b in (pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.float32(), pa.float64()):
        assert not (widens(a, b) and widens(b, a))


def test_same_schema_reads_past_spellings_and_schema_metadata_but_not_json_marks():
    import pyarrow as pa

    from lake.delta.types import JSON_ENCODING_KEY, same_schema

    plain = pa.schema([pa.field("a", pa.string()), pa.field("n", pa.int64())])
    assert same_schema(plain, plain)
    assert same_schema(plain, pa.schema([pa.field("a", pa.large_string()), plain.field("n")]))
    assert same_schema(plain, plain.with_metadata({b"k": b"v"}))
    marked = pa.schema([plain.field("a").with_metadata({JSON_ENCODING_KEY: b"json"}), plain[1]])
    assert not same_schema(plain, marked)
    assert same_schema(marked, marked)
    assert not same_schema(plain, pa.schema([plain.field("n"), plain.field("a")]))


def test_data_in_the_tables_columns_changes_nothing_but_a_json_mark_is_a_conflict():
    """Data whose schema is the table's (a log ingest's stage) meets it unchanged; one
    that differs only by a field's JSON mark, which Arrow's type equality ignores, is a
    change all the same."""
    import pyarrow as pa

    from lake.delta.types import JSON_ENCODING_KEY

    table = pa.schema([("msg", pa.string()), ("r", pa.struct([("a", pa.int64())]))])
    same = plan(table, table, "logs", where="table t")
    assert same.changes == () and same.retyped == ()
    assert same.schema.equals(table, check_metadata=True)
    marked = pa.schema([table.field("msg").with_metadata({JSON_ENCODING_KEY: b"json"}), table[1]])
    evolution = plan(table, marked, "logs", where="table t")
    assert [(c.kind, c.column) for c in evolution.changes] == [("conflict", "msg")]
    assert evolution.retyped == ("msg",)
