"""The pure rules of schema on read: widening, JSON text, names, drift."""

from __future__ import annotations

import pyarrow as pa
import pytest

from ingest.logs import inference as inf
from ingest.logs.inference import BOOL, FLOAT, INT, JSON, NULL, STRING, WIDE_INT, List, Struct


def s(**fields: inf.Type) -> Struct:
    return Struct(tuple(fields.items()))


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (INT, FLOAT, FLOAT),
        (FLOAT, INT, FLOAT),
        (NULL, STRING, STRING),
        (BOOL, NULL, BOOL),
        (INT, STRING, JSON),
        (BOOL, INT, JSON),
        (s(a=INT), INT, JSON),
        (List(INT), INT, JSON),
        (JSON, INT, JSON),
        (List(INT), List(FLOAT), List(FLOAT)),
        (List(NULL), List(STRING), List(STRING)),
        (INT, WIDE_INT, WIDE_INT),
        (WIDE_INT, INT, WIDE_INT),
        (WIDE_INT, FLOAT, JSON),
        (FLOAT, WIDE_INT, JSON),
        (List(WIDE_INT), List(FLOAT), List(JSON)),
    ],
)
def test_merge_widens_by_the_written_rules(a, b, expected):
    assert inf.merge(a, b) == expected


def test_structs_merge_field_by_field_in_first_seen_order():
    merged = inf.merge(s(a=INT, b=s(x=STRING)), s(c=BOOL, b=s(y=INT, x=NULL), a=FLOAT))
    assert merged == s(a=FLOAT, b=s(x=STRING, y=INT), c=BOOL)


def test_null_never_decides_a_type_and_typeless_fields_are_null_columns():
    assert inf.merge_all([NULL, NULL]) == NULL
    assert inf.merge(NULL, INT) == INT
    # Issue 13: a field with no value yet is still a column (of type null), an empty object
    # is null.
    assert inf.storable(s(a=NULL, b=List(NULL), c=s(), d=INT)) == s(
        a=NULL, b=List(NULL), c=NULL, d=INT
    )


def test_type_of_values_marks_numbers_beyond_64_bits_as_json():
    v, err = inf.parse_json_line('{"a": 9223372036854775807, "b": 9223372036854775808, "c": 1e400}')
    assert err is None
    assert inf.plain(inf.type_of(v)) == s(a=INT, b=JSON, c=JSON)
    assert inf.type_of(v).get("a") == WIDE_INT  # an int64 no double holds


@pytest.mark.parametrize(
    ("value", "expected"),
    [(2**53, INT), (-(2**53), INT), (2**53 + 1, WIDE_INT), (-(2**53) - 1, WIDE_INT)],
)
def test_an_int_beyond_2_53_is_a_wide_int_stored_as_int64(value, expected):
    assert inf.type_of(value) == expected
    assert inf.arrow_type(expected) == pa.int64()
    assert inf.type_changes(INT, expected) == []  # no drift: the column is int64 either way


def test_the_fast_and_the_exact_json_reader_type_wide_ints_alike():
    from ingest.logs.jsonl import exact, parse_records

    for sample in (
        ['{"a": 9007199254740993, "b": {"c": [1, -9007199254740993]}}', '{"a": 1}'],
        ['{"a": 9007199254740993}', '{"a": 1.5}'],
    ):
        fast = parse_records(pa.array(sample), ("\n".join(sample) + "\n").encode())
        slow = exact(sample, {})
        assert fast.type == slow.type
        assert fast.table.to_pylist() == slow.table.to_pylist()
    assert slow.type.get("a") == JSON


def test_type_of_caps_nesting_with_json_text():
    value: object = 1
    for _ in range(40):
        value = {"a": value}
    assert inf.depth(inf.type_of(value)) == inf.MAX_DEPTH


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("abc", '"abc"'),
        (5, "5"),
        (1.0, "1.0"),
        (True, "true"),
        ({"b": [1, "x"], "a": None}, '{"b":[1,"x"],"a":null}'),
        ("é", '"é"'),
    ],
)
def test_json_text_is_compact_json_of_every_value(value, text):
    assert inf.json_text(value) == text


def test_json_text_keeps_big_numbers_as_written():
    v, _ = inf.parse_json_line('{"x": [123456789012345678901234567890, 1e400]}')
    assert inf.json_text(v["x"]) == "[123456789012345678901234567890,1e400]"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("[1, 2]", "not a JSON object but an array"),
        ('"text"', "not a JSON object but a string"),
        ("null", "not a JSON object but null"),
        ('{"a": 1', "invalid JSON"),
        ("{'a': 1}", "invalid JSON"),
        ('{"a": 1}}', "invalid JSON"),
        ("", "invalid JSON"),
    ],
)
def test_lines_that_are_not_json_objects_say_why(line, reason):
    value, err = inf.parse_json_line(line)
    assert value is None
    assert err is not None and err.startswith(reason)


def test_duplicate_keys_keep_the_last_value():
    assert inf.parse_json_line('{"a": 1, "a": 2}') == ({"a": 2}, None)


def test_names_keep_keys_and_suffix_collisions_deterministically():
    names = inf.assign_names(
        ["a", "A", "", "_raw", "x.y", 'q"; DROP', "a_2"], reserved=inf.RESERVED_COLUMNS
    )
    assert names == {
        "a": "a",
        "A": "A_2",
        "": "_blank",
        "_raw": "_raw_2",
        "x.y": "x.y",
        'q"; DROP': 'q"; DROP',
        "a_2": "a_2_2",
    }


def test_names_already_in_the_table_stay_with_their_key():
    names = inf.assign_names(
        ["User", "_source", "user"],
        existing=["user", "User_2", "_source_2"],
        reserved=inf.RESERVED_COLUMNS,
    )
    assert names == {"user": "user", "User": "User_2", "_source": "_source_2"}


def test_name_tree_renames_case_collisions_inside_structs_too():
    t = s(obj=s(Key=INT, key=INT))
    names = inf.name_tree(t, None, top_level=True)
    assert names.child("obj").names == {"Key": "Key", "key": "key_2"}
    assert inf.arrow_type(t, names) == pa.struct(
        [("obj", pa.struct([("Key", pa.int64()), ("key_2", pa.int64())]))]
    )


def test_json_columns_carry_their_encoding_in_field_metadata():
    field = inf.arrow_field("v", JSON)
    assert field.type == pa.string()
    assert inf.from_arrow(field.type, field.metadata) == JSON
    assert inf.from_arrow(pa.string()) == STRING


def test_type_changes_name_added_widened_and_conflicting_paths():
    old = s(a=INT, b=s(x=STRING), c=List(INT))
    new = s(a=FLOAT, b=s(x=JSON, y=INT), c=List(FLOAT), d=s(z=INT))
    changes = {(c.path, c.kind) for c in inf.type_changes(old, new)}
    assert changes == {
        (("a",), "widened"),
        (("b", "x"), "conflict"),
        (("b", "y"), "added"),
        (("c", "[]"), "widened"),
        (("d",), "added"),
    }


def test_needs_change_finds_values_that_do_not_fit():
    assert not inf.needs_change([1, None], INT)
    assert inf.needs_change([1.5], INT)
    assert inf.needs_change(["x"], None)
    assert inf.value_at({"a": [{"b": 1}, {"b": 2}]}, ("a", "[]", "b")) == [1, 2]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-21T10:00:00.123Z", inf.TIMESTAMP),
        ("2024-01-21 10:00:00+01:00", inf.TIMESTAMP),
        ("2023-11-14T23:13:20.123456789+0100", inf.TIMESTAMP),
        ("2024-01-21T10:00:00", STRING),  # no zone: not an instant
        ("2024-01-21", STRING),
        ("9999-12-31T23:59:59-05:00", STRING),  # beyond what every reader holds
        ("0001-01-01T00:00:00+05:00", STRING),
        ("2024-13-45T10:00:00Z", STRING),
        ("21/Jan/2024:10:00:00 +0000", STRING),
    ],
)
def test_iso_8601_strings_with_a_zone_are_timestamps(value, expected):
    assert inf.type_of(value) == expected


def test_the_fast_and_the_exact_json_reader_type_time_strings_alike():
    from ingest.logs.jsonl import exact, parse_records

    lines = [
        '{"a": "2024-01-21T10:00:00.123Z", "b": {"c": ["2024-01-21T10:00:00+01:00"]}, "d": "x"}',
        '{"a": "2024-01-22T10:00:00.1234567Z", "b": {"c": []}, "d": "2024-01-21T10:00:00Z"}',
    ]
    for sample in (lines, [s.replace(', "d": "x"', "") for s in lines]):
        fast = parse_records(pa.array(sample), ("\n".join(sample) + "\n").encode())
        slow = exact(sample, {})
        assert fast.type == slow.type
        assert fast.table.to_pylist() == slow.table.to_pylist()
    assert slow.type == Struct(
        (
            ("a", inf.TIMESTAMP),
            ("b", Struct((("c", List(inf.TIMESTAMP)),))),
            ("d", inf.TIMESTAMP),
        )
    )
    mixed = exact(lines, {})
    assert mixed.type.get("d") == JSON  # a time and a text: the conflict keeps both as written


def test_the_reader_hint_names_time_fields_as_strings_so_a_chunk_is_read_once():
    from ingest.logs.jsonl import parse_records, reader_hint

    known = Struct((("ts", inf.TIMESTAMP), ("b", Struct((("t", List(inf.TIMESTAMP)),)))))
    hint = reader_hint(known)
    assert hint == pa.schema([("ts", pa.string())])
    lines = ['{"ts": "2024-01-21T10:00:00Z", "b": {"t": ["2024-01-21T10:00:00Z"]}}']
    parsed = parse_records(pa.array(lines), ("\n".join(lines) + "\n").encode(), hint=hint)
    assert parsed.type == known
    # A chunk where the time field is a number does not fit the hint: read without it.
    numbers = ['{"ts": 1705831200, "b": {"t": []}}']
    parsed = parse_records(pa.array(numbers), ("\n".join(numbers) + "\n").encode(), hint=hint)
    assert parsed.type.get("ts") == INT
    # A chunk without the field reads as one without the hint: the field is absent.
    absent = ['{"b": {"t": []}}']
    parsed = parse_records(pa.array(absent), ("\n".join(absent) + "\n").encode(), hint=hint)
    assert parsed.type == Struct((("b", Struct((("t", List(NULL)),))),))


SMALL_BLOCK = 64 << 10
"""pyarrow's block size in the tests of blocks (the reader's is 4 MiB): the same blocks,
over 20,000 lines, not 300,000."""


def _small_blocks(monkeypatch, text: bytes) -> bytes:
    """``text``, read by pyarrow in blocks of SMALL_BLOCK, which it is longer than."""
    from ingest.logs import jsonl

    monkeypatch.setattr(jsonl, "_BLOCK_BYTES", SMALL_BLOCK)
    assert len(text) > 2 * SMALL_BLOCK
    return text


def test_a_chunk_whose_blocks_type_a_field_apart_is_read_like_the_exact_reader(monkeypatch):
    from ingest.logs.jsonl import exact, parse_records, reader_hint

    # pyarrow reads the text in blocks: the field is null in the first and a time in the last.
    lines = [f'{{"n": {i}, "t": null}}' for i in range(20_000)]
    lines += ['{"n": 1, "t": "2024-01-21T10:00:00Z"}']
    hint = reader_hint(Struct((("n", INT), ("t", STRING))))
    text = _small_blocks(monkeypatch, ("\n".join(lines) + "\n").encode())
    parsed = parse_records(pa.array(lines), text, hint=hint)
    assert parsed.type == exact(lines, {}).type


def test_a_nested_time_field_is_hinted_as_text_so_its_chunk_is_read_once(monkeypatch):
    """ECS-style logs carry times inside objects (``event.created``) in whole seconds,
    which pyarrow guesses as timestamps: without a hint the chunk was read a second time."""
    import pyarrow.json as pj

    from ingest.logs import jsonl
    from ingest.logs.jsonl import exact, parse_records, reader_hint

    reads = []
    real = pj.read_json
    monkeypatch.setattr(jsonl.pj, "read_json", lambda *a, **k: reads.append(1) or real(*a, **k))
    known = Struct((("n", INT), ("event", Struct((("created", inf.TIMESTAMP), ("id", INT))))))
    hint = reader_hint(known)
    assert hint.field("event").type.field("created").type == pa.string()
    lines = [
        f'{{"n": {i}, "event": {{"created": "2024-01-21T10:00:0{i}Z", "id": {i}}}}}'
        for i in range(5)
    ]
    parsed = parse_records(pa.array(lines), ("\n".join(lines) + "\n").encode(), hint=hint)
    assert len(reads) == 1
    assert parsed.type == known == exact(lines, {}).type
    assert parsed.table.to_pylist() == exact(lines, {}).table.to_pylist()


@pytest.mark.parametrize(
    "null_block",
    ['{{"n": {i}, "e": {{"t": null, "k": 1}}}}', '{{"n": {i}, "e": {{"k": 1}}}}', '{{"n": {i}}}'],
)
def test_a_nested_time_field_without_values_in_a_block_stays_a_time(null_block, monkeypatch):
    """Hinted as text, a nested time field that holds no value in one of pyarrow's blocks
    (null, absent, or its object absent) comes back as null text there: it must read as
    null times, never make the field a conflict of times and text."""
    from ingest.logs.jsonl import exact, parse_records, reader_hint

    lines = [null_block.format(i=i) for i in range(20_000)]  # more than one block
    lines += ['{"n": 1, "e": {"t": "2024-01-21T10:00:00Z", "k": 2}}']
    known = Struct((("n", INT), ("e", Struct((("t", inf.TIMESTAMP), ("k", INT))))))
    text = _small_blocks(monkeypatch, ("\n".join(lines) + "\n").encode())
    parsed = parse_records(pa.array(lines), text, hint=reader_hint(known))
    slow = exact(lines, {})
    # (the keys in the hint's order; the exact reader's are in order of first appearance)
    expected = {"t": inf.TIMESTAMP, "k": INT}
    assert dict(parsed.type.get("e").fields) == expected == dict(slow.type.get("e").fields)
    rows = parsed.table.to_pylist()
    assert rows[-1]["e"]["t"].isoformat() == "2024-01-21T10:00:00+00:00"
    assert all((r["e"] or {}).get("t") is None for r in rows[:-1])
    assert sum(1 for r in rows if r["e"] is not None) == sum(
        1 for r in slow.table.to_pylist() if r["e"] is not None
    )
