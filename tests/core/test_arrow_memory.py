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


def test_stages_that_overlap_leave_the_previous_pool_behind_whichever_ends_first():
    # Two stages at once (the HTTP service runs ingests and materializations on threads): the
    # one that started second must not put back the pool the first one set.
    before = pa.default_memory_pool().backend_name
    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        pytest.skip("this pyarrow wheel has no jemalloc")
    first, second = pages_kept(), pages_kept()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert pa.default_memory_pool().backend_name == "jemalloc"  # the second still runs
    second.__exit__(None, None, None)
    assert pa.default_memory_pool().backend_name == before
