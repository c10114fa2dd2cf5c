"""Rows written under an older inferred schema, converted to a widened one.

When a later ingest widens a column (``int`` to ``float``, or a conflict that turns a
column into JSON text), the rows already in the table are rewritten in the same commit as
the new rows, so every version has one type per column and no value is lost:

* ``int`` -> ``float``: the same number as a double;
* anything -> JSON: the value's JSON text (:func:`ingest.logs.inference.json_text`), a JSON
  column that was JSON already is kept as it is, and a string becomes a JSON string
  (``abc`` -> ``"abc"``);
* struct and list: field by field, element by element, by the same rules;
* a column the old rows did not have: null.

Struct keys renamed on ingest (``_blank``, ``_2``) keep their column names inside the JSON
text; the record's original text is always in ``_raw``.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from ingest.logs.inference import FLOAT, INT, JSON, NULL, List, Struct, Type, from_arrow, json_text


def widen(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` in ``schema``, whose types are equal to or wider than the batch's own."""
    columns = []
    for field in schema:
        index = batch.schema.get_field_index(field.name)
        if index < 0:
            columns.append(pa.nulls(batch.num_rows, field.type))
            continue
        columns.append(_widen_array(batch.column(index), batch.schema.field(index), field))
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _widen_array(array: pa.Array, old: pa.Field, new: pa.Field) -> pa.Array:
    old_type, new_type = from_arrow(old.type, old.metadata), from_arrow(new.type, new.metadata)
    if old_type == new_type:
        return array if array.type == new.type else array.cast(new.type)
    if old_type == INT and new_type == FLOAT:
        return pc.cast(array, new.type)
    values = [_widen_value(v, old_type, new_type) for v in array.to_pylist()]
    return pa.array(values, type=new.type)


def _widen_value(value: object, old: Type, new: Type) -> object:
    if value is None or old == new:
        return value
    if new == JSON:
        return json_text(value)
    if old == NULL:
        return None
    if new == FLOAT and old == INT:
        return float(value)  # type: ignore[arg-type]
    if isinstance(new, Struct) and isinstance(old, Struct) and isinstance(value, dict):
        old_fields = dict(old.fields)
        return {
            name: _widen_value(value.get(name), old_fields.get(name, NULL), t)
            for name, t in new.fields
        }
    if isinstance(new, List) and isinstance(old, List) and isinstance(value, list):
        return [_widen_value(v, old.item, new.item) for v in value]
    return value
