"""The service tests' scheduling: the tests of one backend pair's shared lake
(``shared_lake`` in test_service.py) run on one xdist worker, so it is built and served once,
not once on each worker; the two pairs are two groups, which the two workers can run at once."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups (tests/test_suite_groups.py)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here) and "shared_lake" in getattr(item, "fixturenames", ()):
            pair = item.callspec.params["shared_lake"]  # type: ignore[attr-defined]
            item.add_marker(pytest.mark.xdist_group(f"service-lake-{pair}"))
