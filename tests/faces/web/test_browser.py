"""The web catalog in a real browser (Debian's headless Chromium): what a person sees after
signing in, on the tables, a table and its time travel, the SQL console and the lineage
graphs, with a screenshot of each step in the test's folder, on both backend pairs. No
page may ask anything of a host other than the lake."""

from __future__ import annotations

import csv
import io

import pyarrow.parquet as pq

from tests.faces.web.conftest import sign_in


def test_sign_in_then_tables_and_a_table_with_time_travel_of_its_sample(site, browser, tmp_path):
    page = browser.new_page()
    sign_in(page, site, tmp_path)

    tables = page.locator("#tables")
    assert tables.locator("tr[data-name='web.clicks'] td").all_inner_texts()[:5] == [
        "web.clicks",
        "arrow",
        "4",
        tables.locator("tr[data-name='web.clicks'] td").nth(3).inner_text(),
        "1",
    ]
    assert "KB" in tables.locator("tr[data-name='web.clicks'] td").nth(3).inner_text()
    assert tables.locator("tr[data-name='web.events']").is_visible()
    page.screenshot(path=str(tmp_path / "tables.png"))
    page.fill("input[type=search]", "click")  # search as you type
    assert not tables.locator("tr[data-name='web.events']").is_visible()
    assert tables.locator("tr[data-name='web.clicks']").is_visible()

    page.click("a:has-text('web.clicks')")
    page.wait_for_url("**/tables/web.clicks")
    assert "at version 1" in page.inner_text("h1")
    schema = page.inner_text("#schema")
    assert "user_id" in schema and "amount" in schema and "double" in schema
    versions = page.inner_text("#versions")
    assert "golden" in versions and "training set churn" in versions
    assert page.locator("#sample tbody tr").count() == 4
    assert "refund" in page.inner_text("#sample")
    page.screenshot(path=str(tmp_path / "table.png"), full_page=True)

    page.select_option("#version", "0")  # time travel: the version's own rows and columns
    page.wait_for_url("**/tables/web.clicks?version=0")
    assert "at version 0 (latest is 1)" in page.inner_text("h1")
    assert page.locator("#sample tbody tr").count() == 3
    sample = page.inner_text("#sample")
    assert "refund" not in sample and "amount" not in sample and "home" in sample
    assert "amount" not in page.inner_text("#schema")
    page.screenshot(path=str(tmp_path / "table-version-0.png"), full_page=True)

    page.goto(site.url + "/")
    page.click("a:has-text('web.events')")  # its second file added a field: the drift ledger
    page.wait_for_url("**/tables/web.events")
    drift = page.inner_text("#drift")
    assert drift.startswith("v1") and "added amount" in drift and "refunds.jsonl" in drift
    assert "amount" not in page.locator("#versions").inner_text()
    page.screenshot(path=str(tmp_path / "table-drift.png"), full_page=True)
    assert site.foreign_requests() == []


def test_the_sql_console_shows_rows_and_downloads_csv_and_parquet(site, browser, tmp_path):
    page = browser.new_page()
    sign_in(page, site)
    page.click("nav a:has-text('SQL')")
    page.wait_for_url("**/sql")
    page.fill("#sql", "SELECT user_id, page FROM web.clicks VERSION AS OF 0 ORDER BY user_id")
    page.click("#sql-form button:has-text('Run')")
    page.wait_for_selector("#sql-result")
    assert page.inner_text("#sql-result h2").startswith("3 row(s)")
    cells = page.locator("#result tbody tr").first.locator("td").all_inner_texts()
    assert cells == ["1", "home"]
    assert "web.clicks@0" in page.inner_text("#sql-result")
    page.screenshot(path=str(tmp_path / "sql.png"), full_page=True)

    with page.expect_download() as done:
        page.click("button:has-text('Download CSV')")
    done.value.save_as(str(tmp_path / "download.csv"))
    text = (tmp_path / "download.csv").read_text()
    assert list(csv.reader(io.StringIO(text))) == [
        ["user_id", "page"],
        ["1", "home"],
        ["2", "cart"],
        ["3", "pay"],
    ]
    with page.expect_download() as done:
        page.click("button:has-text('Download PARQUET')")
    done.value.save_as(str(tmp_path / "download.parquet"))
    assert pq.read_table(tmp_path / "download.parquet").to_pylist()[2] == {
        "user_id": 3,
        "page": "pay",
    }

    page.fill("#sql", "SELECT * FROM read_csv('/etc/passwd')")  # read-only: lake tables only
    page.click("#sql-form button:has-text('Run')")
    error = page.inner_text("#sql-error")
    assert error.endswith(".") and "root:" not in page.content()
    page.screenshot(path=str(tmp_path / "sql-refused.png"), full_page=True)
    assert site.foreign_requests() == []


def test_the_audit_graph_clicks_through_to_the_source_and_back_by_impact(site, browser, tmp_path):
    page = browser.new_page()
    sign_in(page, site)
    page.click("nav a:has-text('Models')")
    page.wait_for_url("**/models")
    page.click("a.button:has-text('Audit')")
    page.wait_for_selector("svg.lineage")
    graph = page.locator("svg.lineage")
    for key in (
        "model:churn_gbm@1",
        "training_set:churn@1",
        "table:web.clicks@1",
        "table:web.events@1",
    ):
        assert graph.locator(f"[data-key='{key}']").is_visible(), key
    assert graph.locator(".node-run").count() == 4  # two writes of web.clicks, two ingests
    source = graph.locator(f"[data-key='source:{site.events_file}']")
    assert source.text_content().startswith("events.jsonl")
    page.screenshot(path=str(tmp_path / "audit.png"), full_page=True)

    source.click()  # the impact of the source file: it reached the training set and model
    page.wait_for_url("**/impact?source=*")
    assert page.inner_text("h1") == f"Impact of source {site.events_file}"
    impact = page.locator("svg.lineage")
    assert impact.locator("[data-key='training_set:churn@1']").is_visible()
    model = impact.locator("[data-key='model:churn_gbm@1']")
    assert model.is_visible()
    page.screenshot(path=str(tmp_path / "impact-of-source.png"), full_page=True)

    model.click()  # and back to the model's audit
    page.wait_for_url("**/models/churn_gbm/audit?version=1")
    page.locator("svg.lineage [data-key='table:web.clicks@1']").click()
    page.wait_for_url("**/tables/web.clicks?version=1")
    page.click("#versions a:has-text('impact') >> nth=1")  # the rows are newest first: v0
    page.wait_for_url("**/tables/web.clicks/versions/0/impact")
    assert page.locator("svg.lineage [data-key='model:churn_gbm@1']").is_visible()
    page.screenshot(path=str(tmp_path / "impact-of-version.png"), full_page=True)
    assert site.foreign_requests() == []


def test_runs_and_training_sets_show_parameters_inputs_and_content_hashes(site, browser, tmp_path):
    page = browser.new_page()
    sign_in(page, site)
    page.click("nav a:has-text('Training sets')")
    page.wait_for_url("**/training-sets")
    row = page.locator("#ts-churn-1")
    assert "web.clicks@1" in row.inner_text() and "web.events@1" in row.inner_text()
    assert "churn_gbm@1" in row.inner_text()
    page.screenshot(path=str(tmp_path / "training-sets.png"), full_page=True)
    page.click("nav a:has-text('Runs')")
    page.wait_for_url("**/runs")
    assert page.locator("#runs tbody tr").count() == 6  # 2 writes, 2 ingests, materialize, model
    page.click("#runs tbody tr:has-text('materialize') a")
    page.wait_for_url("**/runs/*")
    assert "completed" in page.inner_text("h1")
    assert "web.clicks" in page.inner_text("#inputs") and "churn" in page.inner_text("#outputs")
    assert "SELECT c.user_id" in page.inner_text("#parameters")
    page.screenshot(path=str(tmp_path / "run.png"), full_page=True)
    assert site.foreign_requests() == []


def test_the_api_docs_render_from_the_lakes_own_files(site, browser, tmp_path):
    page = browser.new_page()
    page.goto(site.url + "/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    assert page.inner_text(".swagger-ui .info .title").startswith("lake")
    assert page.locator(".opblock-summary-path:has-text('/api/v1/sql')").count() == 1
    page.screenshot(path=str(tmp_path / "docs.png"))
    assert site.foreign_requests() == []


BIG = (
    "SELECT 9007199254740993::BIGINT AS big, (-9223372036854775808)::BIGINT AS least, "
    "18446744073709551615::UBIGINT AS ubig, "
    "170141183460469231731687303715884105727::HUGEINT AS huge, "
    "12345678901234567890.123456789::DECIMAL(38, 9) AS dec, "
    "[9007199254740993]::BIGINT[] AS list, {'n': 9007199254740993::BIGINT} AS obj "
    "FROM web.clicks VERSION AS OF 0 LIMIT 1"
)
BIG_SHOWN = [
    "9007199254740993",
    "-9223372036854775808",
    "18446744073709551615",
    "170141183460469231731687303715884105727",
    "12345678901234567890.123456789",
    "[9007199254740993]",
    '{"n": 9007199254740993}',
]


def test_the_console_shows_integers_beyond_2_53_exactly_and_the_api_keeps_their_digits(
    site, browser, tmp_path
):
    """JavaScript reads a JSON number as a double: 9007199254740993 becomes ...992, silently.
    The console renders its rows on the server, so a person sees every BIGINT, UBIGINT,
    HUGEINT and DECIMAL digit for digit, nested ones too. The API's rule goes by type, never
    by value: integers up to 64 bits are JSON numbers with all their digits, HUGEINT and
    DECIMAL text. The browser's own JSON.parse gets ...992, and the README's way (JSON.parse's
    reviver reading each number's source text, as Chromium and Node 21+ give it) gets the
    exact value; this test runs both."""
    page = browser.new_page()
    sign_in(page, site)
    page.goto(site.url + "/sql")
    page.fill("#sql", BIG)
    page.click("#sql-form button:has-text('Run')")
    page.wait_for_selector("#sql-result")
    cells = page.locator("#result tbody tr").first.locator("td").all_inner_texts()
    assert cells == BIG_SHOWN
    page.screenshot(path=str(tmp_path / "sql-big-integers.png"), full_page=True)

    read = page.evaluate(
        """async ([sql, token]) => {
            const answer = await fetch("/api/v1/sql", {
                method: "POST",
                headers: {"Authorization": `Bearer ${token}`, "Content-Type": "application/json"},
                body: JSON.stringify({sql}),
            });
            const text = await answer.text();
            const exact = (key, value, context) =>
                typeof value === "number" && !Number.isSafeInteger(value)
                    && /^-?\\d+$/.test(context.source) ? BigInt(context.source) : value;
            const row = JSON.parse(text, exact);
            return {
                text,
                naive: String(JSON.parse(text).big),
                exact: [row.big, row.least, row.ubig, row.huge, row.list[0], row.obj.n].map(String),
                dec: row.dec,
                huge: typeof row.huge,
            };
        }""",
        [BIG, site.read],
    )
    assert '"big": 9007199254740993' in read["text"] or '"big":9007199254740993' in read["text"]
    assert read["naive"] == "9007199254740992"  # what a plain JSON.parse silently gets
    assert read["exact"] == [
        "9007199254740993",
        "-9223372036854775808",
        "18446744073709551615",
        "170141183460469231731687303715884105727",
        "9007199254740993",
        "9007199254740993",
    ]
    assert (read["dec"], read["huge"]) == ("12345678901234567890.123456789", "string")
    assert site.foreign_requests() == []
