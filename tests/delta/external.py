"""Delta tables as other engines write them, built in the test with deltalake's own writer and,
where deltalake writes no such thing, by adding log entries written after the Delta protocol
(PROTOCOL.md of delta-io/delta: "Deletion Vector Format", "Partition Value Serialization",
"Column Mapping"). Delta's own acceptance tables (DAT) are not downloaded: these are their
equivalents, one builder per feature.

Every builder takes a location (a folder or an s3:// URI) and deltalake ``storage_options``.
"""

from __future__ import annotations

import json
import os
import struct
import time
import uuid
import zlib
from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.fs as pafs
from deltalake import DeltaTable, WriterProperties, write_deltalake

PARTITION_TYPES = ("s", "i", "d", "ts", "ntz", "dec", "b", "bo", "f")
"""The partition columns of :func:`partitioned`: string, int, date, timestamp (UTC),
timestamp without zone, decimal, binary, boolean, double."""


def partitioned_rows(first_id: int) -> pa.Table:
    """Rows whose partition values cover every Delta type, escapes and nulls."""
    ids = list(range(first_id, first_id + 5))
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "value": pa.array([f"row {i}" for i in ids]),
            "s": pa.array(["a b/c", "x=y%z", None, "ü#?&+:", "__HIVE_DEFAULT_PARTITION__x"]),
            "i": pa.array([1, -7, None, 2**40, 0], pa.int64()),
            "d": pa.array([date(2024, 1, 1), None, date(1999, 12, 31), date(2024, 2, 29), None]),
            "ts": pa.array(
                [
                    datetime(2024, 1, 1, 10, 0, 0, 123456, tzinfo=UTC),
                    None,
                    datetime(1970, 1, 1, tzinfo=UTC),
                    datetime(2024, 6, 1, 23, 59, 59, tzinfo=UTC),
                    datetime(2024, 1, 1, 10, 0, 0, 123456, tzinfo=UTC),
                ],
                pa.timestamp("us", "UTC"),
            ),
            "ntz": pa.array(
                [datetime(2024, 3, 1, 8, 30), None, datetime(2000, 1, 1), None, None],
                pa.timestamp("us"),
            ),
            # deltalake 1.6.6 cannot write a negative decimal partition value ("-3.-50")
            "dec": pa.array(
                [Decimal("12.30"), None, Decimal("999.99"), Decimal("0.05"), Decimal("12.30")],
                pa.decimal128(5, 2),
            ),
            "b": pa.array([b"hello", None, b"\x00\xff", b"hello", b"\\u0041"], pa.binary()),
            "bo": pa.array([True, None, False, True, False]),
            "f": pa.array([1.5, None, -0.25, 1e10, 1.5]),
        }
    )


def partitioned(uri: str, options: dict[str, str]) -> pa.Table:
    """Three versions of a table partitioned by every type (append, append, delete by a
    predicate, which deltalake makes by rewriting files). Returns every row ever written."""
    first, second = partitioned_rows(0), partitioned_rows(5)
    write_deltalake(uri, first, partition_by=list(PARTITION_TYPES), storage_options=options)
    write_deltalake(uri, second, mode="append", storage_options=options)
    DeltaTable(uri, storage_options=options).delete("id = 7 OR id = 1")
    return pa.concat_tables([first, second])


def cleaned_log(uri: str, options: dict[str, str], *, drop_checkpoint_commit: bool = False) -> None:
    """Six appends, a checkpoint at version 5, the log before it cleaned up (as a writer's log
    retention does), then one more append: versions 5 and 6 can be read, 0 to 4 cannot.
    ``drop_checkpoint_commit`` also removes version 5's own commit file (only its
    checkpoint holds it)."""
    for i in range(6):
        write_deltalake(
            uri,
            pa.table({"id": [i], "part": [f"p{i % 2}"]}),
            mode="append",
            partition_by=["part"],
            storage_options=options,
        )
    table = DeltaTable(uri, storage_options=options)
    table.create_checkpoint()
    remove_log_entries(uri, options, [f"{v:020d}.json" for v in range(5)])
    write_deltalake(
        uri, pa.table({"id": [6], "part": ["p0"]}), mode="append", storage_options=options
    )
    if drop_checkpoint_commit:
        remove_log_entries(uri, options, [f"{5:020d}.json"])


def stats_as_struct(uri: str, options: dict[str, str]) -> None:
    """A table whose checkpoint keeps file statistics as a struct (``stats_parsed``) and not
    as JSON, with the commits before the checkpoint cleaned up so only it is read."""
    configuration = {
        "delta.checkpoint.writeStatsAsStruct": "true",
        "delta.checkpoint.writeStatsAsJson": "false",
    }
    for i in range(3):
        write_deltalake(
            uri,
            pa.table({"id": pa.array(range(i * 10, i * 10 + 10), pa.int64())}),
            mode="append",
            configuration=configuration if i == 0 else None,
            storage_options=options,
        )
    DeltaTable(uri, storage_options=options).create_checkpoint()
    remove_log_entries(uri, options, [f"{v:020d}.json" for v in range(2)])


def without_statistics(uri: str, options: dict[str, str]) -> None:
    """Two versions whose add actions carry no ``stats`` (writers may leave them out)."""
    write_deltalake(uri, pa.table({"id": pa.array(range(7), pa.int64())}), storage_options=options)
    write_deltalake(
        uri,
        pa.table({"id": pa.array(range(7, 10), pa.int64())}),
        mode="append",
        storage_options=options,
    )
    for version in (0, 1):
        rewrite_log_entry(uri, options, version, _drop_stats)


def column_mapped(uri: str, options: dict[str, str], *, mode: str = "name") -> pa.Table:
    """Column mapping: deltalake stores every column under a physical name (``col-<uuid>``),
    partition values keyed by it; version 1 appends, version 2 renames ``Name x`` to
    ``label`` (a metadata-only commit, as Spark's ``ALTER TABLE RENAME COLUMN`` writes).
    For mode ``id`` the table's configuration is rewritten to say so. Returns every row."""
    first = pa.table(
        {"id": pa.array([1, 2, 3], pa.int64()), "Name x": ["a", "b", None], "part": ["p", "q", "p"]}
    )
    write_deltalake(
        uri,
        first,
        partition_by=["part"],
        configuration={"delta.columnMapping.mode": "name"},
        storage_options=options,
    )
    second = pa.table({"id": pa.array([4], pa.int64()), "Name x": ["d"], "part": ["q"]})
    write_deltalake(uri, second, mode="append", storage_options=options)
    metadata = next(a["metaData"] for a in read_log_entry(uri, options, 0) if "metaData" in a)
    schema = json.loads(metadata["schemaString"])
    for column in schema["fields"]:
        if column["name"] == "Name x":
            column["name"] = "label"
    now = int(time.time() * 1000)
    write_log_entry(
        uri,
        options,
        2,
        [
            {"commitInfo": {"timestamp": now, "operation": "RENAME COLUMN"}},
            {"metaData": {**metadata, "schemaString": json.dumps(schema)}},
        ],
    )
    if mode != "name":
        for version in (0, 2):
            rewrite_log_entry(uri, options, version, lambda a: _set_mapping_mode(a, mode))
    return pa.concat_tables([first, second])


def swapped_names(uri: str, options: dict[str, str]) -> pa.Table:
    """Column mapping turned on for a table written without it, then two columns' names
    swapped (as Spark's ``ALTER TABLE ... SET TBLPROPERTIES ('delta.columnMapping.mode' =
    'name')`` and three ``RENAME COLUMN``s write it): each column keeps its old name as its
    physical name. Written as ``late`` (times in the 2020s) and ``early`` (the 2030s), then
    swapped: the column ``early`` (the 2020s) is stored under the name ``late``, and the
    file statistics under ``late`` (keyed by physical names, as the protocol says) are its
    own, not those of the column now called ``late``. Two files (versions 0 and 1), one row
    each; version 3 renames. Returns every row under its final (logical) names."""
    rows = []
    for i, year in enumerate((2020, 2021)):
        early = datetime(year, 1, 1, tzinfo=UTC)
        late = datetime(year + 10, 1, 1, tzinfo=UTC)
        written = pa.table(
            {
                "id": pa.array([i], pa.int64()),
                "late": pa.array([early], pa.timestamp("us", "UTC")),
                "early": pa.array([late], pa.timestamp("us", "UTC")),
            }
        )
        write_deltalake(uri, written, mode="append", storage_options=options)
        rows.append(written.rename_columns(["id", "early", "late"]))
    metadata = next(a["metaData"] for a in read_log_entry(uri, options, 0) if "metaData" in a)
    schema = json.loads(metadata["schemaString"])
    for i, column in enumerate(schema["fields"], start=1):
        column["metadata"] = {
            "delta.columnMapping.id": i,
            "delta.columnMapping.physicalName": column["name"],
        }
    metadata = {
        **metadata,
        "schemaString": json.dumps(schema),
        "configuration": {
            **(metadata.get("configuration") or {}),
            "delta.columnMapping.mode": "name",
            "delta.columnMapping.maxColumnId": str(len(schema["fields"])),
        },
    }
    now = int(time.time() * 1000)
    write_log_entry(
        uri,
        options,
        2,
        [
            {"commitInfo": {"timestamp": now, "operation": "SET TBLPROPERTIES"}},
            {"protocol": {"minReaderVersion": 2, "minWriterVersion": 5}},
            {"metaData": metadata},
        ],
    )
    swap = {"early": "late", "late": "early"}
    for column in schema["fields"]:
        column["name"] = swap.get(column["name"], column["name"])
    write_log_entry(
        uri,
        options,
        3,
        [
            {"commitInfo": {"timestamp": now + 1, "operation": "RENAME COLUMN"}},
            {"metaData": {**metadata, "schemaString": json.dumps(schema)}},
        ],
    )
    return pa.concat_tables(rows).select(["id", "early", "late"])


def widened(uri: str, options: dict[str, str]) -> pa.Table:
    """Type widening (the ``typeWidening`` feature, as Spark's ``ALTER TABLE ... CHANGE
    COLUMN`` writes it): two files with ``n`` an int (versions 0 and 1), the column widened
    to a long in the schema only (version 2, the old files stay as written), then a file
    with a value past the int's range (version 3; deltalake writes no such table, so the
    file and its add action are written here). Returns every row, ``n`` as int64."""
    import pyarrow.parquet as pq

    parts = [
        pa.table({"id": pa.array(ids, pa.int64()), "n": pa.array(ids, pa.int32())})
        for ids in ([0, 1, 2], [3, 4, 5])
    ]
    write_deltalake(uri, parts[0], storage_options=options)
    write_deltalake(uri, parts[1], mode="append", storage_options=options)
    metadata = next(a["metaData"] for a in read_log_entry(uri, options, 0) if "metaData" in a)
    schema = json.loads(metadata["schemaString"])
    for column in schema["fields"]:
        if column["name"] == "n":
            column["type"] = "long"
            column["metadata"] = {"delta.typeChanges": [{"fromType": "integer", "toType": "long"}]}
    protocol = {
        "minReaderVersion": 3,
        "minWriterVersion": 7,
        "readerFeatures": ["typeWidening"],
        "writerFeatures": ["typeWidening"],
    }
    now = int(time.time() * 1000)
    write_log_entry(
        uri,
        options,
        2,
        [
            {"commitInfo": {"timestamp": now, "operation": "CHANGE COLUMN"}},
            {"protocol": protocol},
            {"metaData": {**metadata, "schemaString": json.dumps(schema)}},
        ],
    )
    wide = pa.table({"id": pa.array([6], pa.int64()), "n": pa.array([2**40], pa.int64())})
    sink = pa.BufferOutputStream()
    pq.write_table(wide, sink)
    content = sink.getvalue().to_pybytes()
    name = f"part-{uuid.uuid4()}.parquet"
    write_file(uri, options, name, content)
    stats = {
        "numRecords": 1,
        "minValues": {"id": 6, "n": 2**40},
        "maxValues": {"id": 6, "n": 2**40},
        "nullCount": {"id": 0, "n": 0},
    }
    add = {
        "path": name,
        "partitionValues": {},
        "size": len(content),
        "modificationTime": now,
        "dataChange": True,
        "stats": json.dumps(stats),
    }
    write_log_entry(
        uri,
        options,
        3,
        [{"commitInfo": {"timestamp": now + 1, "operation": "WRITE"}}, {"add": add}],
    )
    return pa.concat_tables([p.cast(wide.schema) for p in parts] + [wide])


def nested_column_mapped(uri: str, options: dict[str, str]) -> None:
    """Column mapping with a struct column: its fields too are stored under physical names."""
    data = pa.table({"id": [1], "point": pa.array([{"x": 1, "y": 2}])})
    write_deltalake(
        uri, data, configuration={"delta.columnMapping.mode": "name"}, storage_options=options
    )


def with_deletion_vector(
    uri: str, options: dict[str, str], deleted: list[int], *, rows: int = 40, **how: object
) -> None:
    """``rows`` rows (id 0.., one file), then :func:`delete_with_vector`."""
    write_deltalake(
        uri,
        pa.table({"id": pa.array(range(rows), pa.int64())}),
        storage_options=options,
        writer_properties=WriterProperties(max_row_group_size=10_000),
    )
    delete_with_vector(uri, options, deleted, **how)  # type: ignore[arg-type]


def delete_with_vector(
    uri: str,
    options: dict[str, str],
    deleted: list[int],
    *,
    stored: bool = False,
    runs: bool = False,
    version: int = 1,
) -> None:
    """Version ``version``: the table's protocol gains the deletionVectors feature and the
    rows at ``deleted`` (row indexes of version 0's one file) are deleted by a deletion vector,
    as Spark and Databricks write them: inline in the log, or (``stored``) in a
    ``deletion_vector_<uuid>.bin`` file under a random prefix; ``runs``: run-length
    containers."""
    add = next(a["add"] for a in read_log_entry(uri, options, 0) if "add" in a)
    now = int(time.time() * 1000)
    vector = deletion_vector(deleted, runs=runs)
    dv: dict[str, object] = {"sizeInBytes": len(vector), "cardinality": len(set(deleted))}
    if stored:
        name = uuid.uuid4()
        prefix = "ab"
        content = b"\x01" + struct.pack(">i", len(vector)) + vector
        content += struct.pack(">I", zlib.crc32(vector))
        write_file(uri, options, f"{prefix}/deletion_vector_{name}.bin", content)
        dv.update(storageType="u", pathOrInlineDv=prefix + z85(name.bytes), offset=1)
    else:
        padded = vector + b"\x00" * (-len(vector) % 4)
        dv.update(storageType="i", pathOrInlineDv=z85(padded))
    protocol = {
        "minReaderVersion": 3,
        "minWriterVersion": 7,
        "readerFeatures": ["deletionVectors"],
        "writerFeatures": ["deletionVectors"],
    }
    write_log_entry(
        uri,
        options,
        version,
        [
            {"commitInfo": {"timestamp": now, "operation": "DELETE", "operationParameters": {}}},
            {"protocol": protocol},
            {
                "remove": {
                    "path": add["path"],
                    "deletionTimestamp": now,
                    "dataChange": True,
                    "extendedFileMetadata": True,
                    "partitionValues": {},
                    "size": add["size"],
                }
            },
            {"add": {**add, "modificationTime": now, "deletionVector": dv}},
        ],
    )


# -- the Delta protocol's encodings ---------------------------------------------------------------

Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
DV_MAGIC = 1681511377
ROARING_NO_RUNS = 12346  # the portable format's cookie when no container is run-encoded
ROARING_RUNS = 12347


def z85(data: bytes) -> str:
    """ZeroMQ's Base85 (Z85), which Delta uses for inline deletion vectors and UUIDs."""
    assert len(data) % 4 == 0
    out = []
    for i in range(0, len(data), 4):
        value = int.from_bytes(data[i : i + 4], "big")
        chunk = []
        for _ in range(5):
            value, digit = divmod(value, 85)
            chunk.append(Z85[digit])
        out.extend(reversed(chunk))
    return "".join(out)


def deletion_vector(rows: list[int], *, runs: bool = False) -> bytes:
    """Row indexes (under 2**32) as Delta's RoaringBitmapArray: the magic number, then a
    64-bit portable Roaring bitmap with one bucket. Its 16-bit containers are arrays (up to
    4,096 values), bitmaps (more), or with ``runs`` run-length encoded."""
    values = sorted(set(rows))
    assert values and values[-1] < 2**32
    containers: dict[int, list[int]] = {}
    for value in values:
        containers.setdefault(value >> 16, []).append(value & 0xFFFF)
    keys = sorted(containers)
    bodies = []
    for key in keys:
        low = containers[key]
        if runs:
            pairs: list[tuple[int, int]] = []
            for v in low:
                if pairs and pairs[-1][0] + pairs[-1][1] + 1 == v:
                    pairs[-1] = (pairs[-1][0], pairs[-1][1] + 1)
                else:
                    pairs.append((v, 0))
            flat = [x for pair in pairs for x in pair]
            bodies.append(struct.pack(f"<H{len(flat)}H", len(pairs), *flat))
        elif len(low) > 4096:
            bits = bytearray(8192)
            for v in low:
                bits[v // 8] |= 1 << (v % 8)
            bodies.append(bytes(bits))
        else:
            bodies.append(struct.pack(f"<{len(low)}H", *low))
    n = len(keys)
    if runs:
        header = struct.pack("<I", ROARING_RUNS | (n - 1) << 16)
        header += sum(1 << i for i in range(n)).to_bytes((n + 7) // 8, "little")
    else:
        header = struct.pack("<II", ROARING_NO_RUNS, n)
    header += b"".join(struct.pack("<HH", k, len(containers[k]) - 1) for k in keys)
    if not runs or n >= 4:
        offset = len(header) + 4 * n
        for body in bodies:
            header += struct.pack("<I", offset)
            offset += len(body)
    bucket = header + b"".join(bodies)
    return struct.pack("<i", DV_MAGIC) + struct.pack("<q", 1) + struct.pack("<i", 0) + bucket


# -- the log, read and written as files -------------------------------------------------------


def _log_folder(uri: str, options: dict[str, str]) -> tuple[pafs.FileSystem, str]:
    if uri.startswith("s3://"):
        fs = pafs.S3FileSystem(
            access_key=options["AWS_ACCESS_KEY_ID"],
            secret_key=options["AWS_SECRET_ACCESS_KEY"],
            endpoint_override=options["AWS_ENDPOINT_URL"],
            scheme="http",
            region=options.get("AWS_REGION", "us-east-1"),
        )
        return fs, f"{uri[len('s3://') :].rstrip('/')}/_delta_log"
    return pafs.LocalFileSystem(), os.path.join(uri, "_delta_log")


def read_log_entry(uri: str, options: dict[str, str], version: int) -> list[dict]:
    fs, folder = _log_folder(uri, options)
    with fs.open_input_stream(f"{folder}/{version:020d}.json") as f:
        return [json.loads(line) for line in f.read().decode().splitlines() if line.strip()]


def write_file(uri: str, options: dict[str, str], relative: str, content: bytes) -> None:
    fs, folder = _log_folder(uri, options)
    path = f"{folder.rsplit('/', 1)[0]}/{relative}"
    if isinstance(fs, pafs.LocalFileSystem):
        fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    with fs.open_output_stream(path) as f:
        f.write(content)


def write_log_entry(uri: str, options: dict[str, str], version: int, actions: list[dict]) -> None:
    fs, folder = _log_folder(uri, options)
    with fs.open_output_stream(f"{folder}/{version:020d}.json") as f:
        f.write(("\n".join(json.dumps(a) for a in actions) + "\n").encode())


def rewrite_log_entry(uri: str, options: dict[str, str], version: int, change) -> None:
    write_log_entry(
        uri, options, version, [change(a) for a in read_log_entry(uri, options, version)]
    )


def remove_log_entries(uri: str, options: dict[str, str], names: list[str]) -> None:
    fs, folder = _log_folder(uri, options)
    for name in names:
        fs.delete_file(f"{folder}/{name}")


def table_files(uri: str, options: dict[str, str]) -> list[str]:
    """The files of a table's folder outside its log, relative to it."""
    fs, folder = _log_folder(uri, options)
    base = folder.rsplit("/", 1)[0]
    infos = fs.get_file_info(pafs.FileSelector(base, recursive=True))
    return sorted(
        i.path[len(base) + 1 :]
        for i in infos
        if i.type == pafs.FileType.File and "_delta_log" not in i.path
    )


def log_names(uri: str, options: dict[str, str]) -> list[str]:
    fs, folder = _log_folder(uri, options)
    return sorted(i.base_name for i in fs.get_file_info(pafs.FileSelector(folder)))


def _drop_stats(action: dict) -> dict:
    if "add" in action:
        action["add"].pop("stats", None)
    return action


def _set_mapping_mode(action: dict, mode: str) -> dict:
    if "metaData" in action:
        action["metaData"]["configuration"]["delta.columnMapping.mode"] = mode
    return action


# -- checkpoints written by hand (deltalake cannot checkpoint a table with deletion vectors) ----

_DV_TYPE = pa.struct(
    [
        ("storageType", pa.string()),
        ("pathOrInlineDv", pa.string()),
        ("offset", pa.int32()),
        ("sizeInBytes", pa.int32()),
        ("cardinality", pa.int64()),
    ]
)
_ADD_TYPE = pa.struct(
    [
        ("path", pa.string()),
        ("partitionValues", pa.map_(pa.string(), pa.string())),
        ("size", pa.int64()),
        ("modificationTime", pa.int64()),
        ("dataChange", pa.bool_()),
        ("stats", pa.string()),
        ("deletionVector", _DV_TYPE),
    ]
)
_PROTOCOL_TYPE = pa.struct(
    [
        ("minReaderVersion", pa.int32()),
        ("minWriterVersion", pa.int32()),
        ("readerFeatures", pa.list_(pa.string())),
        ("writerFeatures", pa.list_(pa.string())),
    ]
)
_METADATA_TYPE = pa.struct(
    [
        ("id", pa.string()),
        ("name", pa.string()),
        ("description", pa.string()),
        (
            "format",
            pa.struct([("provider", pa.string()), ("options", pa.map_(pa.string(), pa.string()))]),
        ),
        ("schemaString", pa.string()),
        ("partitionColumns", pa.list_(pa.string())),
        ("createdTime", pa.int64()),
        ("configuration", pa.map_(pa.string(), pa.string())),
    ]
)


def checkpoint_by_hand(
    uri: str, options: dict[str, str], version: int, *, kind: str = "classic"
) -> None:
    """A checkpoint of ``version`` written after the protocol's "Checkpoints" section, from
    the commits 0..version: ``classic`` (one Parquet file), ``multi-part`` (two parts) or
    ``v2`` (a JSON top-level file naming a Parquet sidecar that holds the adds; the table's
    protocol then declares v2Checkpoint)."""
    import pyarrow.parquet as pq

    protocol: dict = {}
    metadata: dict = {}
    adds: dict[str, dict] = {}
    for number in range(version + 1):
        for action in read_log_entry(uri, options, number):
            if "protocol" in action:
                protocol = action["protocol"]
            if "metaData" in action:
                metadata = action["metaData"]
            if "remove" in action:
                adds.pop(action["remove"]["path"], None)
            if "add" in action:
                adds[action["add"]["path"]] = action["add"]
    if kind == "v2":
        protocol = {
            **protocol,
            "readerFeatures": sorted({*protocol.get("readerFeatures", []), "v2Checkpoint"}),
            "writerFeatures": sorted({*protocol.get("writerFeatures", []), "v2Checkpoint"}),
        }
    metadata = {**metadata, "format": {"provider": "parquet", "options": {}}}

    def add_row(add: dict) -> dict:
        return {
            "path": add["path"],
            "partitionValues": list(add.get("partitionValues", {}).items()),
            "size": add["size"],
            "modificationTime": add["modificationTime"],
            "dataChange": False,
            "stats": add.get("stats"),
            "deletionVector": add.get("deletionVector"),
        }

    def table(rows: list[dict]) -> pa.Table:
        return pa.table(
            {
                "protocol": pa.array([r.get("protocol") for r in rows], _PROTOCOL_TYPE),
                "metaData": pa.array([r.get("metaData") for r in rows], _METADATA_TYPE),
                "add": pa.array([r.get("add") for r in rows], _ADD_TYPE),
            }
        )

    meta_row = {
        **metadata,
        "format": {"provider": "parquet", "options": []},
        "configuration": list((metadata.get("configuration") or {}).items()),
    }
    head = [{"protocol": protocol}, {"metaData": meta_row}]
    add_rows = [{"add": add_row(a)} for a in adds.values()]
    fs, folder = _log_folder(uri, options)
    name = f"{version:020d}.checkpoint"
    if kind == "classic":
        pq.write_table(table(head + add_rows), f"{folder}/{name}.parquet", filesystem=fs)
    elif kind == "multi-part":
        pq.write_table(table(head), f"{folder}/{name}.{1:010d}.{2:010d}.parquet", filesystem=fs)
        pq.write_table(table(add_rows), f"{folder}/{name}.{2:010d}.{2:010d}.parquet", filesystem=fs)
    else:
        sidecar = f"{uuid.uuid4()}.parquet"
        if isinstance(fs, pafs.LocalFileSystem):
            fs.create_dir(f"{folder}/_sidecars", recursive=True)
        pq.write_table(
            pa.table({"add": pa.array([r["add"] for r in add_rows], _ADD_TYPE)}),
            f"{folder}/_sidecars/{sidecar}",
            filesystem=fs,
        )
        size = fs.get_file_info(f"{folder}/_sidecars/{sidecar}").size
        now = int(time.time() * 1000)
        top = [
            {"checkpointMetadata": {"version": version}},
            {"protocol": protocol},
            {"metaData": metadata},
            {"sidecar": {"path": sidecar, "sizeInBytes": size, "modificationTime": now}},
        ]
        with fs.open_output_stream(f"{folder}/{name}.{uuid.uuid4()}.json") as f:
            f.write(("\n".join(json.dumps(a) for a in top) + "\n").encode())


# -- writer requirements another engine adds (Spark's ALTER TABLE) -----------------------------


def alter(
    uri: str,
    options: dict[str, str],
    *,
    field_metadata: dict[str, dict[str, object]] | None = None,
    not_null: tuple[str, ...] = (),
    configuration: dict[str, str] | None = None,
    min_writer_version: int | None = None,
) -> int:
    """Commit what Spark's ``ALTER TABLE`` writes after the protocol: the table's metaData
    again with ``field_metadata`` merged into the fields at those dotted paths (invariants,
    generation expressions, identity), the fields ``not_null`` made NOT NULL, and
    ``configuration`` added; and a protocol raised to ``min_writer_version``. Returns the
    version committed."""
    dt = DeltaTable(uri, storage_options=options)
    meta = dt.metadata()
    schema = json.loads(dt.schema().to_json())

    def field_at(path: str) -> dict:
        fields, found = schema["fields"], None
        for part in path.split("."):
            found = next(f for f in fields if f["name"] == part)
            fields = found["type"]["fields"] if isinstance(found["type"], dict) else []
        assert found is not None
        return found

    for path, extra in (field_metadata or {}).items():
        field_at(path).setdefault("metadata", {}).update(extra)
    for path in not_null:
        field_at(path)["nullable"] = False
    version = dt.version() + 1
    actions: list[dict] = [
        {"commitInfo": {"timestamp": int(time.time() * 1000), "operation": "ALTER TABLE"}}
    ]
    if min_writer_version is not None:
        protocol = dt.protocol()
        actions.append(
            {
                "protocol": {
                    "minReaderVersion": protocol.min_reader_version,
                    "minWriterVersion": min_writer_version,
                }
            }
        )
    actions.append(
        {
            "metaData": {
                "id": meta.id,
                "format": {"provider": "parquet", "options": {}},
                "schemaString": json.dumps(schema),
                "partitionColumns": list(meta.partition_columns),
                "configuration": {**meta.configuration, **(configuration or {})},
                "createdTime": meta.created_time,
            }
        }
    )
    write_log_entry(uri, options, version, actions)
    return version


def rename_column(uri: str, options: dict[str, str], old: str, new: str) -> int:
    """Commit what Spark's ``ALTER TABLE ... RENAME COLUMN old TO new`` writes to a table
    without column mapping: mode ``name`` turned on (protocol 2/5), every field (struct
    fields at any depth too) given an id and its name as its physical name, then the
    top-level ``old`` renamed. Returns the version committed."""
    dt = DeltaTable(uri, storage_options=options)
    meta = dt.metadata()
    schema = json.loads(dt.schema().to_json())
    top = _map_fields(schema["fields"], 1) - 1
    for f in schema["fields"]:
        if f["name"] == old:
            f["name"] = new
    version = dt.version() + 1
    configuration = {
        **meta.configuration,
        "delta.columnMapping.mode": "name",
        "delta.columnMapping.maxColumnId": str(top),
    }
    write_log_entry(
        uri,
        options,
        version,
        [
            {"commitInfo": {"timestamp": int(time.time() * 1000), "operation": "RENAME COLUMN"}},
            {"protocol": {"minReaderVersion": 2, "minWriterVersion": 5}},
            {
                "metaData": {
                    "id": meta.id,
                    "format": {"provider": "parquet", "options": {}},
                    "schemaString": json.dumps(schema),
                    "partitionColumns": list(meta.partition_columns),
                    "configuration": configuration,
                    "createdTime": meta.created_time,
                }
            },
        ],
    )
    return version


def _map_fields(fields: list[dict], first: int) -> int:
    """Give each field, and each struct field inside it, the next column id from ``first`` and
    its name as its physical name; returns the next id left."""
    for f in fields:
        f["metadata"] = {
            **f.get("metadata", {}),
            "delta.columnMapping.id": first,
            "delta.columnMapping.physicalName": f["name"],
        }
        first = _map_type(f["type"], first + 1)
    return first


def _map_type(kind: object, first: int) -> int:
    if not isinstance(kind, dict):
        return first
    if kind["type"] == "struct":
        return _map_fields(kind["fields"], first)
    if kind["type"] == "array":
        return _map_type(kind["elementType"], first)
    if kind["type"] == "map":
        return _map_type(kind["valueType"], _map_type(kind["keyType"], first))
    return first


def change_mapped_columns(
    uri: str,
    options: dict[str, str],
    *,
    drop: tuple[str, ...] = (),
    add: tuple[tuple[str, str], ...] = (),
    rename: dict[str, str] | None = None,
) -> int:
    """Commit what Spark's ``ALTER TABLE ... DROP COLUMN``, ``ADD COLUMN`` and ``RENAME
    COLUMN`` write to a column-mapped table: the dropped columns leave the schema (their data
    stays in the old files, under their physical names), each added ``(name, Delta type)``
    gets the next column id and a physical name of its own (``col-<uuid>``), even when it
    takes a dropped column's name, and ``delta.columnMapping.maxColumnId`` follows; a renamed
    column keeps its physical name. Returns the version committed."""
    dt = DeltaTable(uri, storage_options=options)
    meta = dt.metadata()
    schema = json.loads(dt.schema().to_json())
    schema["fields"] = [f for f in schema["fields"] if f["name"] not in drop]
    for f in schema["fields"]:
        f["name"] = (rename or {}).get(f["name"], f["name"])
    top = int(meta.configuration["delta.columnMapping.maxColumnId"])
    for name, kind in add:
        top += 1
        schema["fields"].append(
            {
                "name": name,
                "type": kind,
                "nullable": True,
                "metadata": {
                    "delta.columnMapping.id": top,
                    "delta.columnMapping.physicalName": f"col-{uuid.uuid4()}",
                },
            }
        )
    version = dt.version() + 1
    write_log_entry(
        uri,
        options,
        version,
        [
            {"commitInfo": {"timestamp": int(time.time() * 1000), "operation": "ALTER TABLE"}},
            {
                "metaData": {
                    "id": meta.id,
                    "format": {"provider": "parquet", "options": {}},
                    "schemaString": json.dumps(schema),
                    "partitionColumns": list(meta.partition_columns),
                    "configuration": {
                        **meta.configuration,
                        "delta.columnMapping.maxColumnId": str(top),
                    },
                    "createdTime": meta.created_time,
                }
            },
        ],
    )
    return version


def in_commit_timestamps(uri: str, options: dict[str, str], times: list[tuple[int, int]]) -> None:
    """Two appends made into a table with in-commit timestamps (PROTOCOL.md "In-Commit
    Timestamps"), each commit's ``(timestamp, inCommitTimestamp)`` in milliseconds as
    ``times`` gives them: the first commit enables the feature, every commitInfo comes first
    and carries its ``inCommitTimestamp`` (deltalake cannot write such a table)."""
    for i in range(len(times)):
        rows = pa.table({"id": pa.array([i], pa.int64())})
        write_deltalake(uri, rows, mode="append", storage_options=options)
    for version, (stamp, in_commit) in enumerate(times):
        actions = read_log_entry(uri, options, version)
        for action in actions:
            if "protocol" in action:
                action["protocol"] = {
                    "minReaderVersion": 1,
                    "minWriterVersion": 7,
                    "writerFeatures": ["inCommitTimestamp"],
                }
            if "metaData" in action:
                action["metaData"]["configuration"]["delta.enableInCommitTimestamps"] = "true"
            if "commitInfo" in action:
                action["commitInfo"]["timestamp"] = stamp
                action["commitInfo"]["inCommitTimestamp"] = in_commit
        actions.sort(key=lambda a: "commitInfo" not in a)
        write_log_entry(uri, options, version, actions)
