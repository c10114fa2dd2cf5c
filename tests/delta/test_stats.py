"""File statistics for the Delta log (lake/delta/stats.py)."""

from __future__ import annotations

import json
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lake.delta.stats import STRING_PREFIX, file_stats, stat_json, stats_text, string_max


def test_a_date_before_the_year_1_leaves_its_column_without_min_max_instead_of_failing(tmp_path):
    path = tmp_path / "f.parquet"
    pq.write_table(pa.table({"d": pa.array([-800_000, 0], pa.date32()), "n": [1, 2]}), path)
    stats = file_stats(
        pq.ParquetFile(path).metadata, pa.schema([("d", pa.date32()), ("n", pa.int64())])
    )
    assert "d" not in stats["minValues"] and stats["minValues"]["n"] == 1


def _as_pyarrow_reads_them(path, schema: pa.Schema) -> dict[str, object]:
    """min and max as ``Statistics.min``/``max`` give them (pyarrow's scalars)."""
    metadata = pq.ParquetFile(path).metadata
    found: dict[str, object] = {}
    for i, field in enumerate(schema):
        column = metadata.row_group(0).column(i).statistics
        found[field.name] = (stat_json(column.min, field.type), stat_json(column.max, field.type))
    return found


def test_timestamps_of_every_unit_and_zone_get_the_bounds_pyarrow_reads(tmp_path):
    moments = [-1, 0, 1, 999, 1_000, -1_000_001, 176_497_920_012, 20_000_000_000]
    schema = pa.schema(
        [
            ("utc_us", pa.timestamp("us", tz="UTC")),
            ("paris_ms", pa.timestamp("ms", tz="Europe/Paris")),
            ("naive_s", pa.timestamp("s")),
            ("utc_ns", pa.timestamp("ns", tz="UTC")),
            ("naive_ns", pa.timestamp("ns")),
        ]
    )
    columns = [pa.array(moments, pa.int64()).cast(field.type) for field in schema]
    path = tmp_path / "t.parquet"
    pq.write_table(pa.Table.from_arrays(columns, schema=schema), path)
    stats = file_stats(pq.ParquetFile(path).metadata, schema)
    expected = _as_pyarrow_reads_them(path, schema)
    for name, (low, high) in expected.items():
        assert (stats["minValues"][name], stats["maxValues"][name]) == (low, high), name


# --------------------------------------------------------------------------------------------
# Strings, decimals, booleans

TOP = "\U0010ffff"


def _stats_of(tmp_path, table: pa.Table, **options) -> dict[str, object]:
    path = tmp_path / "s.parquet"
    pq.write_table(table, path, **options)
    return json.loads(stats_text(file_stats(pq.ParquetFile(path).metadata, table.schema)))


def _utf8(value: str) -> bytes:
    return value.encode("utf-8")


def _assert_bounds(values: list[str | None], stats: dict[str, object], column: str) -> None:
    """What a Delta reader relies on: the minimum at or below and the maximum at or above
    every value, in UTF-8 byte order, neither longer than the prefix, and the null count."""
    present = [v for v in values if v is not None]
    if not present:
        assert stats["nullCount"][column] == len(values)
        assert column not in stats.get("minValues", {}) and column not in stats.get("maxValues", {})
        return
    assert stats["nullCount"][column] == len(values) - len(present)
    low, high = stats["minValues"][column], stats["maxValues"][column]
    assert len(low) <= STRING_PREFIX and all(_utf8(low) <= _utf8(v) for v in present)
    assert all(_utf8(v) <= _utf8(high) for v in present)
    # longer only past a run of U+10FFFF as long as the prefix
    assert len(high) <= STRING_PREFIX or high.startswith(TOP * STRING_PREFIX)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", ""),
        ("a" * STRING_PREFIX, "a" * STRING_PREFIX),
        ("a" * (STRING_PREFIX + 1), "a" * (STRING_PREFIX - 1) + "b"),
        ("é" * 40, "é" * (STRING_PREFIX - 1) + "ê"),
        ("a" * 31 + "\ud7ff" + "z", "a" * 31 + "\ue000"),
        ("a" * 31 + "\uffff" + "z", "a" * 31 + "\U00010000"),
        ("b" * 30 + TOP * 5, "b" * 29 + "c"),
        ("😀" * 40, "😀" * 31 + "😁"),
        (TOP * 40, TOP * 40),
        (TOP * 33 + "a" + TOP, TOP * 33 + "b"),
        (TOP * 32 + "\ud7ff" + "a", TOP * 32 + "\ue000"),
    ],
)
def test_a_string_maximum_is_cut_to_the_prefix_and_raised_above_every_longer_value(value, expected):
    assert string_max(value) == expected
    assert _utf8(value) <= _utf8(expected)


def test_adversarial_strings_get_true_bounds_and_null_counts(tmp_path):
    columns = {
        "empty": ["", "", None],
        "all_null": pa.array([None, None, None], pa.string()),
        "accents": ["é" * 40, "è", "ÿ" * 33],
        "four_byte": ["😀" * 40, "𝄞", "a"],
        "top_runs": [TOP * 40, TOP * 3, "z"],
        "shared_prefix": ["p" * 32 + "a", "p" * 32 + "b", "p" * 32],
        "surrogate_edge": ["a" * 31 + "\ud7ff" + "z", "a", None],
    }
    table = pa.table(columns)
    stats = _stats_of(tmp_path, table)
    for name in columns:
        _assert_bounds(table[name].to_pylist(), stats, name)
    assert stats["minValues"]["shared_prefix"] == "p" * 32
    assert stats["maxValues"]["shared_prefix"] == "p" * 31 + "q"
    assert (stats["minValues"]["top_runs"], stats["maxValues"]["top_runs"]) == ("z", TOP * 40)


def test_strings_too_long_for_the_footer_get_no_statistics_rather_than_wrong_ones(tmp_path):
    """pyarrow leaves min and max out of the footer for values over 4 KiB."""
    stats = _stats_of(tmp_path, pa.table({"s": ["z" * 5000, "a"], "n": [1, 2]}))
    assert "s" not in stats["minValues"] and "s" not in stats["nullCount"]


def test_decimals_are_written_as_numbers_in_their_exact_digits(tmp_path):
    wide = Decimal("12345678901234567890.123456789012345678")
    table = pa.table(
        {
            "wide": pa.array([wide, Decimal("-1"), None], pa.decimal128(38, 18)),
            "money": pa.array(
                [Decimal("1.25"), Decimal("-3.50"), Decimal("0.00")], pa.decimal128(5, 2)
            ),
        }
    )
    for options in ({}, {"store_decimal_as_integer": True}):
        path = tmp_path / "d.parquet"
        pq.write_table(table, path, **options)
        text = stats_text(file_stats(pq.ParquetFile(path).metadata, table.schema))
        stats = json.loads(text, parse_float=Decimal)
        assert stats["minValues"] == {"wide": Decimal("-1"), "money": Decimal("-3.50")}
        assert stats["maxValues"] == {"wide": wide, "money": Decimal("1.25")}
        assert stats["nullCount"] == {"wide": 1, "money": 0}
        assert '"wide":12345678901234567890.123456789012345678' in text


def test_booleans_get_min_max_and_null_counts(tmp_path):
    stats = _stats_of(tmp_path, pa.table({"b": [True, None, True], "c": [False, True, None]}))
    assert stats["minValues"] == {"b": True, "c": False}
    assert stats["maxValues"] == {"b": True, "c": True}
    assert stats["nullCount"] == {"b": 1, "c": 1}


def test_the_stats_text_is_strict_json_when_a_float_column_holds_infinities(tmp_path):
    table = pa.table({"x": [1.0, float("inf"), float("-inf")], "y": [1.0, 2.0, None]})
    path = tmp_path / "f.parquet"
    pq.write_table(table, path)
    text = stats_text(file_stats(pq.ParquetFile(path).metadata, table.schema))

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    stats = json.loads(text, parse_constant=refuse)
    assert "x" not in stats["minValues"] and stats["nullCount"]["x"] == 0
    assert (stats["minValues"]["y"], stats["maxValues"]["y"]) == (1.0, 2.0)


_ADVERSARIAL = st.sampled_from(["", "é", "😀", TOP, "\ud7ff", "\ue000", "\uffff", "a", "p" * 32])


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.none(),
            st.text(max_size=40),
            st.lists(_ADVERSARIAL, max_size=40).map("".join),
        ),
        min_size=1,
        max_size=12,
    ),
    row_group_size=st.integers(1, 4),
)
def test_any_strings_in_any_row_groups_get_true_bounds(tmp_path_factory, values, row_group_size):
    table = pa.table({"s": pa.array(values, pa.string())})
    stats = _stats_of(tmp_path_factory.mktemp("s"), table, row_group_size=row_group_size)
    _assert_bounds(values, stats, "s")


def test_deltalakes_writer_logs_no_decimal_a_float_cannot_hold_at_any_depth(tmp_path):
    """delta-rs logs decimals as floats: 12345678901234567890.12 as 1.2345678901234567e+19,
    below itself. Such columns, nested ones included, get no statistics; a decimal of 15
    digits (exact as a float), and the plain columns beside a nested one, keep theirs."""
    from deltalake import write_deltalake

    from lake.delta.encoding import delta_writer_properties

    wide = pa.array([Decimal("12345678901234567890.12"), Decimal("1.5")], pa.decimal128(38, 18))
    exact = pa.array([Decimal("9999999999999.99"), Decimal("-0.01")], pa.decimal128(15, 2))
    table = pa.table(
        {
            "id": pa.array([1, 2]),
            "wide": wide,
            "exact": exact,
            "nested": pa.StructArray.from_arrays([wide, pa.array([1, 2])], ["d", "k"]),
        }
    )
    for data, expected in ((table, {"id", "exact"}), (table.drop(["nested"]), {"id", "exact"})):
        path = tmp_path / str(data.num_columns)
        properties = delta_writer_properties(data, max_row_group_size=1000)
        write_deltalake(str(path), data, writer_properties=properties)
        [log] = (path / "_delta_log").glob("*.json")
        [stats] = [
            json.loads(json.loads(line)["add"]["stats"], parse_float=Decimal)
            for line in log.read_text().splitlines()
            if "add" in json.loads(line)
        ]
        assert set(stats["minValues"]) == set(stats["maxValues"]) == expected
        assert stats["maxValues"]["exact"] == Decimal("9999999999999.99")
        assert stats["minValues"]["exact"] == Decimal("-0.01")


def test_bounds_a_schema_carries_are_not_copied_into_a_new_file(tmp_path):
    """A schema whose metadata holds string bounds (read from a file written with such a
    schema): pyarrow's writer copies schema metadata into the file, where it was taken for
    the new file's bounds ('zzz' as the minimum of 'a' and 'b')."""
    from lake.delta.stats import BOUNDS_KEY, BoundedWriter

    stale = '{"s": ["zzz", "zzzz", 0]}'
    carried = pa.schema([("s", pa.string())], metadata={BOUNDS_KEY: stale})
    for summed in (True, False):
        path = tmp_path / f"{summed}.parquet"
        writer = BoundedWriter(path, carried, write_statistics=summed)
        writer.write_table(pa.table({"s": ["a", "b"]}, schema=carried))
        writer.close()
        stats = file_stats(pq.read_metadata(path), carried)
        assert (stats["minValues"]["s"], stats["maxValues"]["s"]) == ("a", "b")
