"""Parsing JSON-lines records into Arrow columns typed from all of the data.

Two readers, one meaning. The fast one is pyarrow's multi-threaded JSON reader over a whole
chunk; it is used only when it provably gives what the exact reader would: every line an
object, no duplicate keys, no type conflicts, no timestamps guessed from strings, no
integer beyond 64 bits turned into a float, nesting shallow enough for its recursive parser
(it crashes the process at about 10,000 levels). Otherwise the chunk goes through the exact
reader: Python's json per line (:func:`ingest.logs.inference.parse_json_line`), types from
:mod:`ingest.logs.inference`, one error reason per line that does not parse.

Chunk tables use the JSON keys as field names; :func:`conform` turns them (or a staged
file) into the table's final types and column names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from ingest.logs import inference as inf
from ingest.logs.inference import JSON, NULL, Names, Struct, Type
from lake.core.arrow_values import FALSE, array, scalar

_DEPTH_GUARD_BYTES = 1000
"""Lines shorter than this cannot nest deeper than pyarrow's parser survives (tested: 1,000)."""
_DEPTH_GUARD_OPENINGS = 900
_BLOCK_BYTES = 4 << 20
_PROBE_BYTES = 256 << 10
"""A chunk without a hint has its types read from this much of its head first."""
_BIG = float(inf.EXACT_IN_DOUBLE)
"""A double this large may be an integer pyarrow rounded (2**53 + 1 reads as 2**53)."""
_INSTANT = pa.timestamp("us", tz="UTC")
# A/B on a shared 2-vCPU machine: within noise of one thread; keeps the critical path short.
_THREADS = True


class NeedsReparse(Exception):
    """Typed values cannot become the target type without their original JSON text."""


@dataclass
class JsonChunk:
    """Parsed records of one chunk: columns keyed by JSON key, their type, and errors."""

    table: pa.Table
    type: Struct
    errors: list[str | None] | None  # None: every record parsed
    values: list[object] | None = None  # parsed Python values, when the exact reader ran


def parse_records(
    records: pa.StringArray,
    text: bytes | None,
    invalid: dict[int, str] | None = None,
    *,
    hint: pa.Schema | None = None,
) -> JsonChunk:
    """Parse one chunk of records (non-blank lines).

    ``text`` is the chunk's lines joined by ``\\n`` (blank lines may be included: both
    readers skip them); None sends the chunk straight to the exact reader.
    ``invalid`` maps record index -> reason for records known bad already (bad UTF-8).
    ``hint`` (see :func:`reader_hint`) spares the fast reader its type inference (about 30%
    of its time); fields it does not name are still inferred.
    """
    if text is not None and not invalid and len(records):
        longest = _longest_shallow(records)
        if longest is not None:
            probe = None
            if (hint is None or not len(hint)) and len(text) > 4 * _PROBE_BYTES:
                # The first chunk: inferring types over all of it, then reading it again
                # because pyarrow guessed timestamps, took 0.1 s before the pipeline flowed.
                probe = _probe(text)
                hint = reader_hint(_our_type(probe)) if probe is not None else None
            fast = _fast(records, text, hint, longest) if hint is not None and len(hint) else None
            if fast is not None and probe is not None:
                fast = _in_order_of(fast, probe)  # None: read it without the hint
            if fast is None:
                fast = _fast(records, text, None, longest)
            if fast is not None:
                return fast
    return exact(records.to_pylist(), invalid or {})


def reader_hint(t: Struct) -> pa.Schema:
    """Types already known for the fast reader: what it can hold exactly (no JSON, no nulls)."""
    return pa.schema(_hint_fields(t))


def _hint_fields(t: Struct) -> list[pa.Field]:
    fields = []
    for key, ft in t.fields:
        if ft == inf.TIMESTAMP:
            # Read as the strings they are, typed after (_typed_times): left out of the hint,
            # pyarrow guessed timestamps and every chunk was read twice (0.7 of 3 CPU-s of a
            # 1M-line ingest; nested ones too, as ECS's event.created, whole seconds).
            fields.append(pa.field(key, pa.string(), metadata=_TIME_HINT))
            continue
        dt = _hint_type(ft)
        if dt is not None:
            fields.append(pa.field(key, dt))
    return fields


_TIME_HINT = {b"lake.hint": b"time"}


def _probe(text: bytes | pa.Buffer) -> pa.Schema | None:
    """The schema pyarrow infers from the whole lines in the head of ``text``, time strings
    kept as strings (None if it cannot tell). Call only on text known to be shallow."""
    head = bytes(memoryview(text)[:_PROBE_BYTES])
    end = head.rfind(b"\n")
    if end < 0:
        return None
    try:
        table = pj.read_json(
            pa.BufferReader(head[: end + 1]),
            read_options=pj.ReadOptions(block_size=_PROBE_BYTES, use_threads=False),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return pa.schema([pa.field(f.name, _strings_for_times(f.type)) for f in table.schema])


def _our_type(schema: pa.Schema) -> Struct:
    t = inf.from_arrow(pa.struct(list(schema)))
    assert isinstance(t, Struct)
    return t


def _read_type(table: pa.Table) -> Struct:
    """The type of a table the fast reader read: its schema's, with each int column holding
    a value no double holds exactly a ``wide_int`` (as the exact reader types it)."""

    def walk(arr: pa.Array, typ: Type) -> Type:
        if typ == inf.INT:
            low, high = pc.min_max(arr).values()
            wide = any(
                v is not None and abs(v) > inf.EXACT_IN_DOUBLE for v in (low.as_py(), high.as_py())
            )
            return inf.WIDE_INT if wide else typ
        if isinstance(typ, Struct):
            return Struct(tuple((k, walk(arr.field(k), ft)) for k, ft in typ.fields))
        if isinstance(typ, inf.List):
            return inf.List(walk(arr.flatten(), typ.item))
        return typ

    t = _our_type(table.schema)
    fields = []
    for key, ft in t.fields:
        for chunk in table.column(key).chunks:
            ft = inf.merge(ft, walk(chunk, ft))
        fields.append((key, ft))
    return Struct(tuple(fields))


def _in_order_of(chunk: JsonChunk, probe: pa.Schema) -> JsonChunk | None:
    """``chunk`` with its columns (and struct fields) in the order reading without a hint
    gives: keys in order of first appearance. The hint names only the typed keys of the
    probe, so pyarrow put keys that were null there after them."""
    schema = pa.schema(_ordered(list(chunk.table.schema), list(probe)))
    if schema == chunk.table.schema:
        return chunk
    try:
        table = chunk.table.select(schema.names).cast(schema)  # structs cast field by name
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return JsonChunk(table, _read_type(table), chunk.errors, chunk.values)


def _ordered(fields: list[pa.Field], probe: list[pa.Field]) -> list[pa.Field]:
    rank = {f.name: i for i, f in enumerate(probe)}
    seen = {f.name: f.type for f in probe}
    # Stable: keys the probe did not see keep their order, after those it saw.
    fields = sorted(fields, key=lambda f: rank.get(f.name, len(rank)))
    return [f.with_type(_ordered_type(f.type, seen.get(f.name))) for f in fields]


def _ordered_type(dt: pa.DataType, probe: pa.DataType | None) -> pa.DataType:
    if probe is not None and pa.types.is_struct(dt) and pa.types.is_struct(probe):
        return pa.struct(_ordered(list(dt), list(probe)))
    if probe is not None and pa.types.is_list(dt) and pa.types.is_list(probe):
        return pa.list_(dt.value_field.with_type(_ordered_type(dt.value_type, probe.value_type)))
    return dt


def _hint_type(t: Type) -> pa.DataType | None:
    if isinstance(t, Struct):
        fields = _hint_fields(t)
        return pa.struct(fields) if fields else None
    if isinstance(t, inf.List):
        item = _hint_type(t.item)
        return pa.list_(item) if item is not None else None
    if t in (inf.BOOL, inf.INT, inf.WIDE_INT, inf.FLOAT, inf.STRING):
        return inf.arrow_type(t)
    return None


def _longest_shallow(records: pa.StringArray) -> int | None:
    """The longest record's length in bytes, or None when a record may nest deeper than
    pyarrow's parser survives (it crashes the process): such chunks take the exact reader."""
    lengths = pc.binary_length(records)
    longest = pc.max(lengths).as_py() or 0
    if longest >= _DEPTH_GUARD_BYTES:
        long_rows = pc.indices_nonzero(pc.greater_equal(lengths, _DEPTH_GUARD_BYTES))
        for i in long_rows.to_pylist():
            s = records[i].as_py()
            if s.count("{") + s.count("[") >= _DEPTH_GUARD_OPENINGS:
                return None
    return longest


def _fast(
    records: pa.StringArray, text: bytes, hint: pa.Schema | None, longest: int
) -> JsonChunk | None:
    """pyarrow's reader over ``text`` (records already checked by :func:`_longest_shallow`),
    or None where its result would differ from the exact reader's."""
    n = len(records)
    block = max(_BLOCK_BYTES, longest + 2)
    # Text of one block is parsed by one thread anyway: handing it to pyarrow's pool cost
    # more than the parse (100 lines: 1.6 ms against 0.17 ms, more under load).
    opts = pj.ReadOptions(block_size=block, use_threads=_THREADS and len(text) > block)
    parse = (
        pj.ParseOptions(explicit_schema=hint, unexpected_field_behavior="infer")
        if hint is not None
        else None
    )
    try:
        table = pj.read_json(pa.BufferReader(text), read_options=opts, parse_options=parse)
        if _has_timestamp(table.schema):
            # pyarrow guessed timestamps from strings: read them again as the strings they are.
            schema = pa.schema([pa.field(f.name, _strings_for_times(f.type)) for f in table.schema])
            table = pj.read_json(
                pa.BufferReader(text),
                read_options=opts,
                parse_options=pj.ParseOptions(explicit_schema=schema),
            )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if table.num_rows != n:
        return None
    times = _time_paths(hint)
    # A hinted field the chunk lacks comes back as nulls: without the hint it is absent.
    table = table.drop_columns(
        [
            c
            for (c, *inner) in times
            if not inner and c in table.column_names and table[c].null_count == n
        ]
    )
    t = _our_type(table.schema)
    if inf.depth(t) > inf.MAX_DEPTH or (_lossy_floats(table, t) and _LONG_INTEGER.search(text)):
        return None
    try:
        table = _typed_times(table, times)
    except _Mixed:
        return None  # some strings are times, some not: the exact reader types the conflict
    return JsonChunk(table, _read_type(table), None)


class _Mixed(Exception):
    """A string column holds both ISO 8601 instants and other text."""


def _time_paths(hint: pa.Schema | None) -> frozenset[tuple[str, ...]]:
    """Paths (through structs) of the fields :func:`reader_hint` named as times."""
    found: set[tuple[str, ...]] = set()

    def walk(fields: Sequence[pa.Field], path: tuple[str, ...]) -> None:
        for f in fields:
            if f.metadata == _TIME_HINT:
                found.add((*path, f.name))
            elif pa.types.is_struct(f.type):
                walk(list(f.type), (*path, f.name))

    walk(list(hint or ()), ())
    return frozenset(found)


def _typed_times(table: pa.Table, times: frozenset[tuple[str, ...]] = frozenset()) -> pa.Table:
    """String columns (at any depth) whose every value is an ISO 8601 instant, as timestamps:
    the same rule as :func:`ingest.logs.inference.type_of` (raises _Mixed when only some are,
    or when Arrow cannot read them the way Python does). ``times``: paths of fields read as
    strings because earlier chunks had times there; their blocks without a value are null
    times (as strings they would make the table's time field a conflict)."""
    columns, changed = [], False
    for name, col in zip(table.column_names, table.columns, strict=True):
        chunks = [_times_in(c, (name,), times) for c in col.chunks]
        new_type = chunks[0].type if chunks else col.type
        if any(c.type != new_type for c in chunks):
            raise _Mixed  # blocks typed apart (times in one, other text in another)
        changed = changed or any(a is not b for a, b in zip(chunks, col.chunks, strict=True))
        columns.append(pa.chunked_array(chunks, new_type))
    if not changed:
        return table
    return pa.table(columns, names=table.column_names)


def _times_in(
    arr: pa.Array, path: tuple[str, ...] = (), times: frozenset[tuple[str, ...]] = frozenset()
) -> pa.Array:
    t = arr.type
    if path in times and arr.null_count == len(arr):
        return pa.nulls(len(arr), _INSTANT)
    if pa.types.is_struct(t):
        children = [
            _times_in(arr.field(i), (*path, t.field(i).name), times) for i in range(t.num_fields)
        ]
        if all(c is arr.field(i) for i, c in enumerate(children)):
            return arr
        fields = [t.field(i).with_type(c.type) for i, c in enumerate(children)]
        mask = arr.is_null() if arr.null_count else None
        return pa.StructArray.from_arrays(children, fields=fields, mask=mask)
    if pa.types.is_list(t):
        flat = arr.values
        values = _times_in(flat)
        if values is flat:
            return arr
        mask = arr.is_null() if arr.null_count else None
        return pa.ListArray.from_arrays(arr.offsets, values, mask=mask)
    if not pa.types.is_string(t):
        return arr
    valid = len(arr) - arr.null_count
    if not valid:
        return arr
    low, high = pc.min_max(arr).values()
    if high.as_py() < "0" or low.as_py() >= ":":
        # No value starts with a digit, so none is an instant: the smallest and largest
        # strings tell in a fifth of the regex's time (user ids, paths, methods).
        return arr
    # Anchored on four digits: text that is no time fails at its first characters.
    matched = pc.sum(pc.match_substring_regex(arr, inf.ISO_INSTANT)).as_py() or 0
    if matched == 0:
        return arr
    if matched != valid:
        raise _Mixed
    try:
        ns = pc.cast(arr, pa.timestamp("ns", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise _Mixed from e  # e.g. beyond the years 1678-2261: the exact reader keeps text
    low, high = pc.min_max(ns.cast(pa.int64())).values()
    start, end = (int(t.timestamp()) * 10**9 for t in inf.INSTANT_RANGE)
    if not (start <= low.as_py() and high.as_py() < end):
        raise _Mixed
    return pc.cast(ns, _INSTANT, safe=False)


def _has_timestamp(schema: pa.Schema) -> bool:
    def walk(dt: pa.DataType) -> bool:
        if pa.types.is_timestamp(dt) or pa.types.is_date(dt):
            return True
        if pa.types.is_struct(dt):
            return any(walk(dt.field(i).type) for i in range(dt.num_fields))
        if pa.types.is_list(dt):
            return walk(dt.value_type)
        return False

    return any(walk(f.type) for f in schema)


def _strings_for_times(dt: pa.DataType) -> pa.DataType:
    if pa.types.is_timestamp(dt) or pa.types.is_date(dt):
        return pa.string()
    if pa.types.is_struct(dt):
        return pa.struct(
            [
                pa.field(dt.field(i).name, _strings_for_times(dt.field(i).type))
                for i in range(dt.num_fields)
            ]
        )
    if pa.types.is_list(dt):
        return pa.list_(_strings_for_times(dt.value_type))
    return dt


_LONG_INTEGER = re.compile(rb"(?<![0-9.eE])[0-9]{16,}(?![0-9.eE])")
"""An integer literal of 16 digits or more: only such a one can be beyond 2**53 (a double
that large in a float column is then checked by the exact reader)."""


def _lossy_floats(table: pa.Table, t: Struct) -> bool:
    """True when a float column holds a value that may have been an integer pyarrow rounded
    (beyond 2**53): the exact reader types it (beside a float, JSON)."""

    def walk(arr: pa.Array, typ: Type) -> bool:
        if typ == inf.FLOAT:
            low, high = pc.min_max(arr).values()  # no abs(): that copies the column
            return any(v is not None and abs(v) >= _BIG for v in (low.as_py(), high.as_py()))
        if isinstance(typ, Struct):
            return any(walk(arr.field(k), ft) for k, ft in typ.fields)
        if isinstance(typ, inf.List):
            return walk(arr.flatten(), typ.item)
        return False

    for key, ft in t.fields:
        for chunk in table.column(key).chunks:
            if walk(chunk, ft):
                return True
    return False


def exact(texts: Sequence[str | None], invalid: dict[int, str]) -> JsonChunk:
    """The exact reader: Python's json per record, types from all of them."""
    values: list[object] = []
    errors: list[str | None] = []
    for i, s in enumerate(texts):
        if i in invalid or s is None:
            values.append(None)
            errors.append(invalid.get(i, "no text"))
            continue
        v, err = inf.parse_json_line(s)
        values.append(v)
        errors.append(err)
    t = inf.merge_all(inf.type_of(v) for v in values if v is not None)
    if not isinstance(t, Struct):
        t = Struct(())
    table = python_table(values, t, None, errors)
    return JsonChunk(table, t, errors if any(e is not None for e in errors) else None, values)


def python_table(
    values: list[object], t: Struct, names: Names | None, errors: list[str | None]
) -> pa.Table:
    """Columns of type ``t`` (named by ``names``) from parsed records.

    A record whose value cannot be encoded (nested too deeply for JSON text) gets an error
    in ``errors`` and nulls in its columns.
    """
    nm = names or Names()
    fields = [inf.arrow_field(nm.names.get(k, k), ft, nm.child(k)) for k, ft in t.fields]
    columns: list[list[object]] = [[] for _ in t.fields]
    for i, v in enumerate(values):
        try:
            row = [
                inf.to_arrow_value(v.get(k), ft, nm.child(k)) if isinstance(v, dict) else None
                for k, ft in t.fields
            ]
        except RecursionError:
            errors[i] = "JSON nested too deeply to store"
            row = [None] * len(t.fields)
        for col, x in zip(columns, row, strict=True):
            col.append(x)
    arrays = [pa.array(col, type=f.type) for col, f in zip(columns, fields, strict=True)]
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


# ---------------------------------------------------------------------------------------
# Conforming typed columns to a wider type


def conform_table(
    table: pa.Table, src: Struct, dst: Struct, *, src_names: Names, dst_names: Names, num_rows: int
) -> list[pa.ChunkedArray]:
    """``table``'s columns (of type ``src``, named by ``src_names``) as type ``dst``.

    Raises NeedsReparse when a typed value must become JSON text.
    """
    out = []
    n = num_rows
    present = set(table.column_names)  # a set: a line with 10,000 keys made this quadratic
    for key, ft in dst.fields:
        field = inf.arrow_field(dst_names.names.get(key, key), ft, dst_names.child(key))
        st = src.get(key)
        col_name = src_names.names.get(key, key)
        if st is None or col_name not in present:
            out.append(pa.chunked_array([pa.nulls(n, field.type)], field.type))
            continue
        col = table.column(col_name)
        out.append(
            pa.chunked_array(
                [
                    conform(c, st, ft, src_names.child(key), dst_names.child(key))
                    for c in col.chunks
                ],
                field.type,
            )
        )
    return out


def _encodable(t: Type) -> bool:
    if isinstance(t, inf.List):
        return _encodable(t.item)
    # Not timestamps: JSON text keeps a time as written, so it comes from the record's text.
    return t in (inf.BOOL, inf.INT, inf.WIDE_INT, inf.STRING, NULL)


def conform(arr: pa.Array, src: Type, dst: Type, src_names: Names, dst_names: Names) -> pa.Array:
    """One array of type ``src`` as type ``dst`` (which must hold it without re-encoding)."""
    target = inf.arrow_type(dst, dst_names)
    if src == NULL or pa.types.is_null(arr.type):
        return pa.nulls(len(arr), target)
    # A string becoming JSON keeps its Arrow type but not its text ("a" -> "\"a\""), at any
    # depth (a list of strings becoming a list of JSON): only the same type passes as it is.
    if arr.type == target and inf.plain(src) == dst:
        return arr
    if dst == JSON:
        if src == JSON:
            return arr.cast(pa.string())
        if _encodable(src):
            # Exact: these values print the same as the exact reader's (not floats: the fast
            # reader reads 5 as 5.0 in a column that also holds 1.5).
            return pa.array(
                [None if v is None else inf.json_text(v) for v in arr.to_pylist()], pa.string()
            )
        raise NeedsReparse
    if isinstance(dst, Struct):
        if not isinstance(src, Struct):
            raise NeedsReparse
        children, fields = [], []
        for key, ft in dst.fields:
            field = inf.arrow_field(dst_names.names.get(key, key), ft, dst_names.child(key))
            st = src.get(key)
            name = src_names.names.get(key, key)
            if st is None or arr.type.get_field_index(name) < 0:
                child = pa.nulls(len(arr), field.type)
            else:
                child = conform(arr.field(name), st, ft, src_names.child(key), dst_names.child(key))
            children.append(child)
            fields.append(field)
        mask = arr.is_null() if arr.null_count else None
        return pa.StructArray.from_arrays(children, fields=fields, mask=mask)
    if isinstance(dst, inf.List):
        if not isinstance(src, inf.List):
            raise NeedsReparse
        values = conform(
            arr.values, src.item, dst.item, src_names.item or Names(), dst_names.item or Names()
        )
        mask = arr.is_null() if arr.null_count else None
        return pa.ListArray.from_arrays(arr.offsets, values, type=target, mask=mask)
    if isinstance(src, (Struct, inf.List)) or src == JSON:
        raise NeedsReparse
    try:
        return arr.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise NeedsReparse from e


# ---------------------------------------------------------------------------------------
# Docker's json-file driver: a line longer than its buffer is written as several records

DOCKER_PIECE_BYTES = 16_384
"""What Docker's log copier reads before it writes what it has as a partial record
(``bufSize``, 16 KiB): each piece but the last holds exactly this many bytes of the line."""
_DOCKER_LINE = (
    # jsonlog's own encoder writes the keys in this order, nothing between them
    r'^\{"log":"(?:[^"\\]|\\.)*","stream":"(?:stdout|stderr)",'
    r'(?:"attrs":\{[^\n]*\},)?"time":"[^"\\]+"\}$'
)
_DOCKER_ENDED = r'(?:^\{"log":"|[^\\])(?:\\\\)*\\n","stream":"'
"""A record whose ``log`` ends in a line feed (``\\n`` not itself escaped)."""
_LOG_BODY = re.compile(r'^\{"log":"((?:[^"\\]|\\.)*)","stream":"(stdout|stderr)"')
PIECE_NOTE = (
    "a piece of a line Docker split (log of 16 KiB without its line feed) whose end is not "
    "the next record: log holds only its first part (ingest the file again once the rest "
    "is written)"
)


def docker_piece(line: str) -> bool:
    """Whether ``line`` is a piece of a longer line Docker's json-file driver split: its
    own record layout, a ``log`` of exactly :data:`DOCKER_PIECE_BYTES` as the container
    wrote them (:func:`_written_bytes`) without a line feed at its end. (A container's last
    output without a line feed is shorter: no piece.)"""
    return bool(_pieces(array([line], pa.string()))[0].as_py())


def _pieces(lines: pa.StringArray) -> pa.BooleanArray:
    """Which of ``lines`` are pieces (:func:`docker_piece`). Most chunks have no line over
    16 KiB: one pass over the lengths, no regex."""
    long = pc.fill_null(
        pc.greater(pc.binary_length(lines), scalar(DOCKER_PIECE_BYTES, pa.int64())), FALSE
    )
    if not pc.any(long).as_py():
        return long
    found = [False] * len(lines)
    for i in pc.indices_nonzero(long).to_pylist():
        line = lines[i].as_py()
        if not re.search(_DOCKER_LINE, line) or re.search(_DOCKER_ENDED, line):
            continue
        m = _LOG_BODY.match(line)
        found[i] = m is not None and _written_bytes(m.group(1)) == DOCKER_PIECE_BYTES
    return array(found, pa.bool_())


_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)")


def _written_bytes(escaped: str) -> int:
    """How many bytes the container wrote for a ``log`` that Docker's encoder wrote as
    ``escaped`` (JSON text). The copier cuts after 16 KiB of bytes, inside a character when
    one spans the cut, and the encoder writes each byte that is no UTF-8 as the escape
    ``\\ufffd`` (3 bytes decoded); a U+FFFD the container wrote is UTF-8, written as is."""
    body = json.loads('"' + escaped + '"')
    invalid = sum(1 for e in _ESCAPE.findall(escaped) if e.lower() == "ufffd")
    return len(body.encode("utf-8", "surrogatepass")) - 2 * invalid


@dataclass
class Joined:
    """Records after :class:`DockerPieces` joined pieces: the text each record is parsed
    from, its raw text (its lines joined by ``\\n``), its first line's number, the index of
    its first line in the lines fed (for errors and bytes known per line), and notes."""

    texts: list[str]
    raws: list[str]
    numbers: list[int]
    firsts: list[int]
    notes: list[str | None]


class DockerPieces:
    """Joins the records of one line Docker's json-file driver split (each piece's ``log``
    of 16 KiB, without a line feed) into one record, across chunks: its ``log`` the pieces'
    concatenated, its other keys (``time``: when the line began) the first piece's; its
    ``_raw`` the records as written, joined by ``\\n``. A piece continues only into the next
    record when that is one of Docker's of the same stream; a run of pieces the file ends
    with (its writer not done) is one record with a note in ``_error``. Lines with bytes
    that are no UTF-8 (Docker writes none) never join."""

    def __init__(self) -> None:
        self._held: list[tuple[str, int]] = []

    @property
    def holding(self) -> bool:
        return bool(self._held)

    @property
    def held_from(self) -> int | None:
        """The line number of the first piece held (a line whose end is not read yet)."""
        return self._held[0][1] if self._held else None

    def feed(
        self, lines: pa.StringArray, numbers: Sequence[int], invalid: dict[int, str]
    ) -> Joined | None:
        """The records of these lines (None: no piece here nor held, nothing changes)."""
        pieces = _pieces(lines)
        if not self._held and not pc.any(pieces).as_py():
            return None
        docker = pc.fill_null(pc.match_substring_regex(lines, _DOCKER_LINE), FALSE).to_pylist()
        flags = pieces.to_pylist()
        out = Joined([], [], [], [], [])
        run: list[tuple[str, int, int]] = [(t, n, -1) for t, n in self._held]
        self._held = []
        for i, text in enumerate(lines.to_pylist()):
            ok = docker[i] and i not in invalid
            if run and not (ok and _stream(text) == _stream(run[0][0])):
                self._emit(out, run, ended=False)
                run = []
            if ok and flags[i]:
                run.append((text, numbers[i], i))
                continue
            if run:
                run.append((text, numbers[i], i))
                self._emit(out, run, ended=True)
                run = []
                continue
            out.texts.append(text)
            out.raws.append(text)
            out.numbers.append(numbers[i])
            out.firsts.append(i)
            out.notes.append(None)
        self._held = [(t, n) for t, n, _ in run]
        return out

    def flush(self) -> Joined | None:
        """The run of pieces the content ended with, as one record with its note."""
        if not self._held:
            return None
        out = Joined([], [], [], [], [])
        self._emit(out, [(t, n, -1) for t, n in self._held], ended=False)
        self._held = []
        return out

    @staticmethod
    def _emit(out: Joined, run: list[tuple[str, int, int]], *, ended: bool) -> None:
        first = run[0][0]
        m = _LOG_BODY.match(first)
        assert m is not None
        bodies = [_LOG_BODY.match(t) for t, _, _ in run]
        log = "".join(b.group(1) for b in bodies if b is not None)
        out.texts.append(first[: m.start(1)] + log + first[m.end(1) :])
        out.raws.append("\n".join(t for t, _, _ in run))
        out.numbers.append(run[0][1])
        out.firsts.append(run[0][2])
        out.notes.append(None if ended else PIECE_NOTE)


def _stream(line: str) -> str | None:
    m = _LOG_BODY.match(line)
    return m.group(2) if m else None
