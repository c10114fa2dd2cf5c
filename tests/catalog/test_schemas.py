"""How the catalog describes a table's schema (its fingerprint and columns)."""

from __future__ import annotations

import pyarrow as pa

from catalog.schemas import describe_schema
from lake.delta.types import JSON_ENCODING_KEY


def test_schemas_equal_but_for_a_nested_json_mark_are_described_apart_every_time():
    """Appends describe the schema described before, which is kept: a schema Arrow calls
    equal (its equality ignores field metadata) but whose nested field is JSON text must
    not take the other's fingerprint, in either order."""
    plain = pa.schema([pa.field("r", pa.struct([pa.field("v", pa.string())])), ("n", pa.int64())])
    marked = pa.schema(
        [
            pa.field(
                "r", pa.struct([pa.field("v", pa.string(), metadata={JSON_ENCODING_KEY: b"json"})])
            ),
            ("n", pa.int64()),
        ]
    )
    assert plain == marked  # what a cache keyed by Arrow's equality would take as one
    first = describe_schema(plain)
    assert ("r.v", "string", True) in first[2]
    assert ("r.v", "json", True) in describe_schema(marked)[2]
    assert describe_schema(plain) == first
    assert describe_schema(marked)[0] != first[0]
    # The columns handed out are the caller's own: changing them changes no later answer.
    describe_schema(plain)[2].clear()
    assert describe_schema(plain) == first
