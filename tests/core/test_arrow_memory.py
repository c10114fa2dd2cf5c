import pyarrow as pa
import pytest

from lake.core.arrow_memory import pages_kept


def test_arrow_buffers_come_from_jemalloc_inside_and_the_previous_pool_after_even_on_error():
    before = pa.default_memory_pool().backend_name
    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        pytest.skip("this pyarrow wheel has no jemalloc")
    with pytest.raises(RuntimeError, match="inside"), pages_kept():
        assert pa.default_memory_pool().backend_name == "jemalloc"
        assert pa.array(range(1000)).to_pylist()[-1] == 999
        raise RuntimeError("inside")
    assert pa.default_memory_pool().backend_name == before
