"""Scalars and arrays built without pyarrow's pandas probe are the ones pyarrow makes."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone

import pyarrow as pa
import pytest

from lake.core.arrow_values import array, scalar

EVENT_TIME = pa.timestamp("us", tz="UTC")
CASES = [
    (pa.int64(), [0, 1, -7, 2**63 - 1, -(2**63)]),
    (pa.int32(), [0, 5, -(2**31), 2**31 - 1]),
    (pa.int8(), [0, -128, 127]),
    (pa.uint8(), [0, 255]),
    (pa.uint64(), [0, 2**64 - 1]),
    (pa.float64(), [0.0, -1.5, 1e300, float("inf")]),
    (pa.bool_(), [True, False, True, True, False, False, False, False, True]),
    (pa.string(), ["", "a", "é日本", "x" * 1000]),
    (pa.large_string(), ["", "ab"]),
    (pa.binary(), [b"", b"\x00\xff"]),
    (pa.large_binary(), [b"z"]),
    (pa.date32(), [date(1970, 1, 1), date(1969, 12, 31), date(2026, 12, 6), date(1, 1, 1)]),
    (
        EVENT_TIME,
        [
            datetime(1970, 1, 1, tzinfo=UTC),
            datetime(2026, 12, 6, 1, 2, 3, 456789, tzinfo=UTC),
            datetime(2026, 12, 6, 1, 2, 3, 5, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
            datetime(1900, 3, 1, 0, 0, 0, 1, tzinfo=UTC),
        ],
    ),
    (pa.timestamp("us"), [datetime(2026, 1, 1, 12), datetime(1969, 12, 31, 23, 59, 59, 999999)]),
    (pa.timestamp("ns", tz="UTC"), [datetime(2026, 1, 1, 0, 0, 0, 7, tzinfo=UTC)]),
]


@pytest.mark.parametrize(("type_", "values"), CASES, ids=lambda v: str(v)[:30])
def test_a_scalar_is_the_one_pyarrow_makes(type_, values):
    for value in [*values, None]:
        made = scalar(value, type_)
        expected = pa.scalar(value, type_)
        assert made.type == expected.type and made.equals(expected), value
        assert made.as_py() == expected.as_py()


@pytest.mark.parametrize(("type_", "values"), CASES, ids=lambda v: str(v)[:30])
def test_an_array_is_the_one_pyarrow_makes(type_, values):
    made = array(values, type_)
    expected = pa.array(values, type_)
    made.validate(full=True)
    assert made.type == expected.type and made.equals(expected)
    assert array([], type_).equals(pa.array([], type_))


@pytest.mark.parametrize("type_", [pa.string(), pa.large_string()], ids=str)
@pytest.mark.parametrize(
    "values", [[None], ["a", None, "é日本"], [None] * 9 + ["x"], ["", None, ""]], ids=str
)
def test_a_string_array_with_nulls_is_the_one_pyarrow_makes(type_, values):
    made = array(values, type_)
    expected = pa.array(values, type_)
    made.validate(full=True)
    assert made.type == expected.type and made.equals(expected)
    assert made.null_count == expected.null_count


@pytest.mark.parametrize(
    ("value", "type_"),
    [
        (2**63, pa.int64()),
        (True, pa.int64()),
        (1, pa.float64()),
        (1.5, pa.int64()),
        ("1", pa.int64()),
        (datetime(2026, 1, 1), EVENT_TIME),
        (datetime(2026, 1, 1, tzinfo=UTC), pa.timestamp("ms", tz="UTC")),
    ],
    ids=str,
)
def test_values_of_another_kind_get_what_pyarrow_gives_them(value, type_):
    try:
        expected = pa.scalar(value, type_)
    except (pa.ArrowException, OverflowError, TypeError, ValueError) as error:
        with pytest.raises(type(error)):
            scalar(value, type_)
        return
    assert scalar(value, type_).equals(expected)


def test_building_them_does_not_import_pandas():
    code = (
        "import sys\n"
        "from datetime import date, datetime, timezone\n"
        "import pyarrow as pa, pyarrow.compute as pc\n"
        "from lake.core.arrow_values import array, scalar\n"
        "ints = array([1, 2, 3], pa.int64())\n"
        "pc.equal(ints, scalar(2, pa.int64()))\n"
        "scalar('x', pa.string()); scalar(None, pa.string()); scalar(True, pa.bool_())\n"
        "scalar(date(2026, 1, 1), pa.date32())\n"
        "scalar(datetime.now(timezone.utc), pa.timestamp('us', tz='UTC'))\n"
        "assert 'pandas' not in sys.modules\n"
        "pa.scalar(1)\n"
        "print('pandas' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # pa.scalar itself still imports pandas here (installed for the tests): the probe is real.
    assert done.stdout.strip() == "True"
