"""Signing in to the web catalog, and what a browser without a session gets: a redirect to
the sign-in form and none of the lake's data, on every page (real `lake serve`, both
backend pairs)."""

from __future__ import annotations

import html
import re

import httpx
import pyarrow as pa

PAGES = [
    "/",
    "/?q=clicks",
    "/tables/web.clicks",
    "/tables/web.clicks?version=0",
    "/tables/web.clicks/versions/0/impact",
    "/impact?source=x",
    "/training-sets",
    "/models",
    "/models/churn_gbm/audit",
    "/runs",
    "/sql",
]


def _csrf(client: httpx.Client, url: str) -> str:
    page = client.get(url + "/sign-in")
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def _signed_in(site) -> httpx.Client:
    client = httpx.Client(timeout=30)
    csrf = _csrf(client, site.url)
    answer = client.post(
        site.url + "/sign-in", data={"csrf": csrf, "token": site.read, "next": "/runs"}
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/runs"
    return client


def test_every_page_without_a_session_redirects_to_sign_in_and_shows_no_data(site):
    run_id = httpx.get(
        site.url + "/api/v1/runs", headers={"Authorization": f"Bearer {site.read}"}
    ).json()["items"][0]["run_id"]
    for cookies in ({}, {"lake_session": "lake_not-a-token"}):
        with httpx.Client(timeout=30, cookies=cookies) as client:
            for path in [*PAGES, f"/runs/{run_id}"]:
                answer = client.get(site.url + path)
                assert answer.status_code == 303, path
                assert answer.headers["location"].startswith("/sign-in?next="), path
                for secret in ("web.clicks", "churn", "home", run_id[:8]):
                    assert secret not in answer.text, (path, secret)
            for path in ("/sql", "/sql/download"):
                answer = client.post(
                    site.url + path, data={"sql": "SELECT * FROM web.clicks", "format": "csv"}
                )
                assert answer.status_code == 303 and "home" not in answer.text
            if cookies:  # a stale cookie is deleted on the way to the form
                assert 'lake_session=""' in answer.headers.get("set-cookie", "")


def test_signing_in_sets_an_httponly_samesite_strict_cookie_and_signing_out_ends_it(site):
    with httpx.Client(timeout=30) as client:
        csrf = _csrf(client, site.url)
        wrong = client.post(site.url + "/sign-in", data={"csrf": csrf, "token": "lake_nope"})
        assert wrong.status_code == 401 and "unknown or revoked" in wrong.text
        answer = client.post(
            site.url + "/sign-in", data={"csrf": csrf, "token": site.read, "next": "/runs"}
        )
        cookie = answer.headers["set-cookie"].lower()
        assert "lake_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
        assert client.get(site.url + "/").status_code == 200
        assert client.get(site.url + "/api/v1/tables").status_code == 401  # bearer tokens only
        for target in ("//attacker.example/", "https://attacker.example/", "/\\attacker"):
            answer = client.post(  # where to go next: this site only
                site.url + "/sign-in", data={"csrf": csrf, "token": site.read, "next": target}
            )
            assert answer.headers["location"] == "/"
        client.post(site.url + "/sign-out", data={"csrf": csrf})
        assert client.get(site.url + "/").status_code == 303


def test_a_form_posted_from_another_site_is_refused(site):
    client = _signed_in(site)
    csrf = client.cookies["lake_csrf"]
    form = {"token": site.read, "sql": "SELECT * FROM web.clicks", "format": "csv"}
    for where in ("/sign-in", "/sign-out", "/sql", "/sql/download"):
        no_token = client.post(site.url + where, data=form)
        assert no_token.status_code == 403 and "home" not in no_token.text, where
        other_site = client.post(
            site.url + where,
            data={**form, "csrf": csrf},
            headers={"Origin": "http://attacker.example"},
        )
        assert other_site.status_code == 403 and "home" not in other_site.text, where
    assert client.get(site.url + "/").status_code == 200  # still signed in


def test_pages_and_api_docs_name_no_other_host(site):
    client = _signed_in(site)
    for path in [*PAGES, "/docs", "/redoc"]:
        page = client.get(site.url + path)
        # no source is named x: its impact is unknown, said in one sentence (not an empty graph)
        assert page.status_code == (400 if path == "/impact?source=x" else 200), path
        hosts = set(re.findall(r'(?:src|href)="(?:https?:)?//([^/"]+)', page.text))
        assert not hosts, (path, hosts)
    assert "default-src 'self'" in client.get(site.url + "/").headers["content-security-policy"]


def test_pages_that_cannot_show_something_say_why_in_one_sentence(own_site, lk):
    site = own_site
    client = _signed_in(site)
    for path, status, words in [
        ("/tables/web.nothing", 404, "web.nothing"),
        ("/tables/a.b.c", 400, "namespace.table"),
        ("/tables/web.clicks?version=99", 404, "99"),
        ("/tables/web.clicks?version=abc", 422, "version"),
        ("/models/nothing/audit", 404, "nothing"),
        ("/runs/nothing", 404, "nothing"),
    ]:
        page = client.get(site.url + path)
        assert page.status_code == status, path
        assert page.headers["content-type"].startswith("text/html"), path
        message = re.search(r'role="alert">([^<]*)<', page.text).group(1)
        assert words in message and message.endswith("."), (path, message)
        assert "Traceback" not in page.text

    lk.write_table("web.snapshots", pa.table({"n": [1]}), mode="overwrite")
    lk.write_table("web.snapshots", pa.table({"n": [2]}), mode="overwrite")
    lk.vacuum("web.snapshots", retain="0d", apply=True)  # version 0's file is gone
    page = client.get(site.url + "/tables/web.snapshots?version=0")  # the rest of it stands
    assert page.status_code == 200
    assert 'id="sample-error"' in page.text and 'id="sample"' not in page.text
    assert "OVERWRITE" in page.text and "<code>n</code>" in page.text
    latest = client.get(site.url + "/tables/web.snapshots")
    assert 'id="sample"' in latest.text and "sample-error" not in latest.text


def test_a_console_download_is_of_the_versions_its_page_showed_or_refused(own_site, lk):
    """Download CSV runs the query again: a table written after the console showed its rows
    gave a file of the new version's rows (one row more here) under the page's query, with
    no word; the page names the versions it read and the download keeps to them."""
    site = own_site
    client = _signed_in(site)
    csrf = client.cookies["lake_csrf"]
    page = client.post(
        site.url + "/sql", data={"csrf": csrf, "sql": "SELECT user_id FROM web.clicks ORDER BY 1"}
    )
    assert page.status_code == 200 and "web.clicks@1" in page.text
    download = re.search(
        r'<form method="post" action="/sql/download">(.*?)</form>', page.text, re.S
    )
    form = {
        name: html.unescape(value)
        for name, value in re.findall(r'name="(\w+)" value="([^"]*)"', download.group(1))
    }
    same = client.post(site.url + "/sql/download", data=form)
    assert same.status_code == 200 and same.text.split() == ['"user_id"', "1", "2", "3", "4"]

    lk.write_table("web.clicks", pa.table({"user_id": [5], "page": ["new"], "amount": [1.0]}))
    later = client.post(site.url + "/sql/download", data=form)
    assert later.status_code == 409, later.text
    assert later.headers["content-type"].startswith("text/html")
    message = html.unescape(re.search(r'role="alert">([^<]*)<', later.text).group(1))
    assert "web.clicks@1" in message and "web.clicks@2" in message and message.endswith(".")


def _external_runs(lk, ids: range, when: str = "2026-11-20T10:00:00Z") -> None:
    for i in ids:
        lk.record_lineage(
            {
                "eventType": "COMPLETE",
                "eventTime": when,
                "run": {"runId": f"00000000-0000-4000-8000-{i:012d}"},
                "job": {"namespace": "airflow", "name": "fill"},
                "producer": "https://example.invalid/test",
                "inputs": [],
                "outputs": [],
            }
        )


def _shown_runs(page: str) -> list[str]:
    return re.findall(r'<a href="/runs/([0-9a-f-]{36})">', page)


def _link(page: str, name: str) -> str | None:
    found = re.search(rf'<a id="{name}" href="([^"]+)"', page)
    return html.unescape(found.group(1)) if found else None


def test_the_runs_pages_older_and_newer_links_keep_their_runs_while_runs_start(own_site, lk):
    """The console paged runs by offset: each run started while a person read a page moved
    every later page by one (50 runs started between two clicks on "older": the next page
    showed the 50 runs already seen). Its links now carry a cursor (the last or first run's
    start time and id): older shows the runs just past the page, newer those just before,
    whatever started meanwhile; a page ending at the last run links to no older page. The
    filled runs share one start time, so the order among them is by id alone."""
    site = own_site
    client = _signed_in(site)
    _external_runs(lk, range(150 - len(lk.runs(limit=1000))))  # three pages of 50
    everything = [r.id for r in lk.runs(limit=1000)]
    assert len(everything) == 150

    first = client.get(site.url + "/runs").text
    assert _shown_runs(first) == everything[:50] and _link(first, "newer") is None
    _external_runs(lk, range(1000, 1050), when="2030-01-01T10:00:00Z")  # 50 start meanwhile
    second = client.get(site.url + _link(first, "older")).text
    assert _shown_runs(second) == everything[50:100]
    _external_runs(lk, range(2000, 2007), when="2030-01-02T10:00:00Z")
    third = client.get(site.url + _link(second, "older")).text
    assert _shown_runs(third) == everything[100:] and _link(third, "older") is None

    back = client.get(site.url + _link(third, "newer")).text
    assert _shown_runs(back) == everything[50:100]
    back = client.get(site.url + _link(back, "newer")).text
    assert _shown_runs(back) == everything[:50]
    newest = client.get(site.url + _link(back, "newer")).text  # the 57 started meanwhile
    started = [r.id for r in lk.runs(limit=57)]
    assert _shown_runs(newest) == started[7:] and _link(newest, "newer") is not None
    assert _shown_runs(client.get(site.url + _link(newest, "newer")).text) == started[:7]

    refused = client.get(site.url + "/runs", params={"after": "not-a-cursor"})
    assert refused.status_code == 400
    assert "is not a cursor of the runs" in html.unescape(refused.text)
