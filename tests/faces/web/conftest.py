"""The web catalog's fixtures: a small lake with a lineage chain, served by a real
`lake serve` process on a free loopback port, and Debian's headless Chromium driven by
Playwright (never a browser of Playwright's own).

The lake: ``web.clicks`` (v0: 3 rows; v1: one more row and a new column ``amount``; v0
tagged ``golden``), ``web.events`` ingested from two JSON lines files (source files in the
lineage; the second adds a field, an entry of the drift ledger), a training set ``churn``
joining both, and a model ``churn_gbm`` trained on it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pytest

from tests.backends import lake_environment, unavailable
from tests.conftest import BACKENDS
from tests.faces.service.test_service import start_service, stop_service

CHROMIUM = "/usr/bin/chromium"
# The machine's notes: without the background-networking flags Chromium tries Google's
# hosts at every start, and this machine has no network.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Site:
    url: str
    read: str
    events_file: str
    requests: list[str] = field(default_factory=list)
    """Every URL the browser asked for (to prove nothing left the lake)."""

    def foreign_requests(self) -> list[str]:
        return [
            u for u in self.requests if not u.startswith(self.url) and not u.startswith("data:")
        ]


def _site(
    lk, folder: Path, env: dict[str, str] | None = None, *, lineage: bool = True
) -> Iterator[Site]:
    """The lake described above, written through ``lk`` (its log files in ``folder``) and
    served by `lake serve` with the environment ``env`` on top of this process's own; without
    ``lineage``, only ``web.clicks`` (its two versions, v0 tagged)."""
    lk.write_table("web.clicks", pa.table({"user_id": [1, 2, 3], "page": ["home", "cart", "pay"]}))
    lk.write_table("web.clicks", pa.table({"user_id": [4], "page": ["refund"], "amount": [12.5]}))
    lk.tag("web.clicks@0", "golden")
    if not lineage:
        yield from _served(lk, env, events_file="")
        return
    events = folder / "events.jsonl"
    events.write_text(
        "".join(
            f'{{"ts": "2026-11-20T10:0{i}:00Z", "user_id": {i % 4 + 1}, "action": "view"}}\n'
            for i in range(6)
        )
    )
    lk.ingest_logs("web.events", str(events))
    refunds = folder / "refunds.jsonl"  # a new field: the drift ledger records it
    refunds.write_text(
        '{"ts": "2026-11-21T09:00:00Z", "user_id": 4, "action": "refund", "amount": 12.5}\n'
    )
    lk.ingest_logs("web.events", str(refunds))
    lk.materialize(
        "churn",
        sql="SELECT c.user_id, c.page, count(e.action) AS events "
        "FROM web.clicks c LEFT JOIN web.events e USING (user_id) GROUP BY ALL",
        out=folder / "churn",
    )
    lk.register_model("churn_gbm", training_set="churn", metrics={"auc": 0.81})
    yield from _served(lk, env, events_file=events.as_uri())


def _served(lk, env: dict[str, str] | None, *, events_file: str) -> Iterator[Site]:
    read = lk.create_token(role="read", name="analyst").secret
    process, url = start_service(env)
    try:
        yield Site(url, read, events_file)
    finally:
        stop_service(process)


@pytest.fixture(scope="package", params=BACKENDS)
def site(request, tmp_path_factory, s3_server, pg_server) -> Iterator[Site]:
    """The site, built once per backend pair for the tests that only look at it (building
    it and starting its server was most of each test's time); a test that changes the lake
    takes :func:`own_site`."""
    root = tmp_path_factory.mktemp("site")
    with lake_environment(request.param, root, s3_server, pg_server) as env:
        import lake

        with lake.connect(environ=env, cwd=root) as lk:
            yield from _site(lk, root, env)


@pytest.fixture
def own_site(lk, tmp_path) -> Iterator[Site]:
    """The site on the test's own lake (``lk``), for a test that changes it: ``web.clicks``
    alone (the tests that change the lake look at nothing of the lineage chain, whose two
    ingests, training set and model were most of such a test's set-up)."""
    yield from _site(lk, tmp_path, lineage=False)


@pytest.fixture(scope="package")
def chromium() -> Iterator:
    """One Chromium process for the package's browser tests: starting it (and a new profile
    of its own) for each test was about a third of each test's time."""
    if not os.access(CHROMIUM, os.X_OK):
        unavailable(f"no {CHROMIUM}: `make install` installs Debian's chromium when run as root")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def browser(chromium, site) -> Iterator:
    """A fresh browser context per test (its own cookies, storage and cache, as a new
    profile has); every request its pages make is recorded."""
    site.requests.clear()  # the site is shared: only this test's requests
    context = chromium.new_context(viewport={"width": 1360, "height": 860}, accept_downloads=True)
    context.set_default_timeout(15_000)
    context.on("request", lambda request: site.requests.append(request.url))
    try:
        yield context
    finally:
        context.close()


def sign_in(page, site: Site, shots: Path | None = None) -> None:
    page.goto(site.url + "/")
    assert "/sign-in" in page.url
    if shots is not None:
        page.screenshot(path=str(shots / "sign-in.png"))
    page.fill("#token", site.read)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(site.url + "/")


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups (tests/test_suite_groups.py)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests of one backend pair's shared site run on one xdist worker, so it is built
    once, not once on each worker; the two pairs' sites are two groups, which the two workers
    can run at once (one group held both, on one worker, while the other could be idle)."""
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here) and "site" in getattr(item, "fixturenames", ()):
            pair = item.callspec.params["site"]  # type: ignore[attr-defined]
            item.add_marker(pytest.mark.xdist_group(f"web-site-{pair}"))
