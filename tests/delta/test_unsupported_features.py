"""A table whose protocol names writer features deltalake cannot write (row tracking asks
every new file for its row ids). deltalake refuses them with a ``CommitFailedError``, the
class of a conflict; the lake must say what is wrong, not that another writer committed."""

from __future__ import annotations

import pyarrow as pa
import pytest

from lake.core.errors import UnsupportedTableFeature
from lake.core.names import TableName
from tests.delta import external

TABLE = "feat.events"


def _upgraded(lk) -> tuple[str, dict[str, str]]:
    """Two appends by the lake, then another writer's protocol upgrade to row tracking."""
    for first in (0, 3):
        lk.write_table(TABLE, pa.table({"id": pa.array(range(first, first + 3), pa.int64())}))
    location = lk.catalog.get_table(TableName.parse(TABLE)).location
    options = lk.storage.delta_options()
    features = ["appendOnly", "invariants", "domainMetadata", "rowTracking"]
    protocol = {"minReaderVersion": 1, "minWriterVersion": 7, "writerFeatures": features}
    info = {"timestamp": 1, "operation": "UPGRADE PROTOCOL", "clientVersion": "test"}
    external.write_log_entry(location, options, 2, [{"commitInfo": info}, {"protocol": protocol}])
    return location, options


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(lambda lk: lk.optimize(TABLE), id="optimize"),
        pytest.param(
            lambda lk: lk.write_table(TABLE, pa.table({"id": pa.array([9], pa.int64())})),
            id="append",
        ),
        pytest.param(
            lambda lk: lk.write_table(
                TABLE, pa.table({"id": pa.array([9], pa.int64())}), mode="overwrite"
            ),
            id="overwrite",
        ),
    ],
)
def test_a_write_to_a_table_with_writer_features_deltalake_cannot_write_says_so(lk, write):
    location, options = _upgraded(lk)
    with pytest.raises(
        UnsupportedTableFeature, match=r"requires the writer features .*RowTracking"
    ) as raised:
        write(lk)
    message = str(raised.value)
    assert "Another writer" not in message and "Other writers" not in message
    assert message.count(". ") == 0 and message.endswith("."), message  # one sentence
    assert external.log_names(location, options)[-1] == f"{2:020d}.json"  # nothing committed
