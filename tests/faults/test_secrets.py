"""Known secrets never land in anything the lake writes or prints.

A full run on S3 + Postgres with a catalog password and the S3 secret key set (plus
failing commands whose messages could quote them), then every byte the lake wrote is
searched: each catalog table dumped through SQLAlchemy, every object under the
warehouse prefix (Delta logs included), the working folder (lake.toml, manifests,
training-set shards), and all the command output.
"""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import MetaData, create_engine, select

from tests.backends import S3_SECRET
from tests.faults.conftest import S3_POSTGRES

PG_PASSWORD = "pg-Pa55word-" + uuid.uuid4().hex[:10]
S3_SESSION_TOKEN = "s3-Sess10nToken-" + uuid.uuid4().hex[:10]
SOURCE_PASSWORD = "src-Pa55word-" + uuid.uuid4().hex[:10]


@pytest.fixture
def secret_lake(s3_only, monkeypatch):
    """The backend's lake, its catalog URL carrying a password of a role that owns it."""
    backend = s3_only
    role = f"lake_secret_{uuid.uuid4().hex[:8]}"
    admin = backend.pg.admin()
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE ROLE {role} LOGIN PASSWORD %s", (PG_PASSWORD,))
            cursor.execute(f'ALTER DATABASE "{backend.database}" OWNER TO {role}')
    finally:
        admin.close()
    url = f"postgresql+psycopg2://{role}:{PG_PASSWORD}@{backend.pg.host}:{backend.pg.port}/{backend.database}"
    monkeypatch.setenv("LAKE_CATALOG_URL", url)
    monkeypatch.setenv("AWS_SESSION_TOKEN", S3_SESSION_TOKEN)
    backend.env.update({"LAKE_CATALOG_URL": url, "AWS_SESSION_TOKEN": S3_SESSION_TOKEN})
    yield backend, url
    backend.pg.drop_database(backend.database)
    admin = backend.pg.admin()
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP ROLE IF EXISTS {role}")
    finally:
        admin.close()


SECRETS = (PG_PASSWORD, S3_SECRET, S3_SESSION_TOKEN, SOURCE_PASSWORD)


def _leaks(blob: bytes | str, where: str) -> list[str]:
    text = blob if isinstance(blob, str) else blob.decode("latin-1")
    return [f"{secret} in {where}" for secret in SECRETS if secret in text]


@pytest.mark.timeout(240)
@S3_POSTGRES
@pytest.mark.empty_catalog_database  # the secret role makes the catalog, as its owner
def test_no_secret_reaches_the_catalog_the_warehouse_files_or_any_output(
    secret_lake, cli, tmp_path, monkeypatch
):
    backend, url = secret_lake
    monkeypatch.setenv("LAKE_CATALOG_RETRY_WAIT", "0.01")  # the closed catalog's tries, quicker
    outputs: list[tuple[str, str]] = []

    def run(*args: str) -> object:
        result = cli(*args)
        outputs.append((" ".join(args), result.stdout + result.stderr))
        return result

    log = tmp_path / "events.jsonl"
    log.write_text(
        "".join(json.dumps({"ts": f"2026-11-20T10:00:0{i}Z", "n": i}) + "\n" for i in range(5))
    )
    assert run("init").exit_code == 0
    assert run("ingest", "logs", "sec.events", str(log), "--output", "json").exit_code == 0
    assert run("sql", "SELECT count(*) AS n FROM sec.events", "--output", "json").exit_code == 0
    source = url.replace(
        "postgresql+psycopg2://", "postgresql+psycopg2://"
    )  # the same role and password
    extracted = run(
        "ingest",
        "db",
        "sec.src",
        "--source",
        source,
        "--query",
        "SELECT 1 AS x, 'y' AS y",
        "--output",
        "json",
    )
    assert extracted.exit_code == 0, extracted.stderr
    refused = run(
        "ingest",
        "db",
        "sec.src2",
        "--source",
        source.replace(f":{backend.pg.port}/", ":1/"),
        "--query",
        "SELECT 1 AS x",
    )
    assert refused.exit_code == 1
    assert (
        run(
            "materialize",
            "sec_set",
            "--sql",
            "SELECT n FROM sec.events",
            "--out",
            str(tmp_path / "set"),
        ).exit_code
        == 0
    )
    for command in (
        ("config", "--output", "json"),
        ("config",),
        ("tables", "--output", "json"),
        ("runs", "--output", "json"),
        ("history", "sec.events", "--output", "json"),
        ("describe", "sec.events", "--output", "json"),
        ("catalog", "sync", "--output", "json"),
    ):
        assert run(*command).exit_code == 0, command
    # Failures whose messages could quote a URL or a credential.
    assert (
        run("sql", "SELECT * FROM read_parquet('s3://no-such-bucket-here/x.parquet')").exit_code
        == 1
    )
    assert (
        run("ingest", "logs", "sec.events", f"s3://{backend.s3.bucket}/missing/*.jsonl").exit_code
        == 1
    )
    closed = url.replace(f":{backend.pg.port}/", ":1/")
    refused = run("tables", "--catalog", closed)
    assert refused.exit_code == 1 and "unreachable" in refused.stderr.lower(), refused.stderr
    bad_s3 = run(
        "ingest", "logs", "sec.other", str(log), "--warehouse", "s3://no-such-bucket-here/w"
    )
    assert bad_s3.exit_code == 1

    leaks: list[str] = []
    for where, text in outputs:
        leaks += _leaks(text, f"output of `lake {where}`")
    engine = create_engine(url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        with engine.connect() as connection:
            for table in metadata.sorted_tables:
                rows = connection.execute(select(table)).all()
                leaks += _leaks(repr(rows), f"catalog table {table.name}")
                assert table.name != "runs" or rows, "the run records were written"
    finally:
        engine.dispose()
    client = backend.s3.client()
    prefix = backend.warehouse.split("/", 3)[3]
    keys = [
        item["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=backend.s3.bucket, Prefix=prefix
        )
        for item in page.get("Contents", [])
    ]
    assert any("_delta_log" in key for key in keys)
    for key in keys:
        leaks += _leaks(
            client.get_object(Bucket=backend.s3.bucket, Key=key)["Body"].read(), f"s3 object {key}"
        )
    for path in tmp_path.rglob("*"):
        if path.is_file():
            leaks += _leaks(path.read_bytes(), f"file {path.relative_to(tmp_path)}")
    assert leaks == []


@pytest.mark.timeout(120)
@S3_POSTGRES
def test_a_source_password_never_appears_in_extract_errors(s3_only):
    from ingest.db.source import open_source
    from lake.core.errors import LakeError

    for url in (
        f"postgresql+psycopg2://nobody:{SOURCE_PASSWORD}@127.0.0.1:1/db",
        f"mysql+pymysql://nobody:{SOURCE_PASSWORD}@127.0.0.1:3306/nodb",
        f"postgresql+psycopg2://nobody:{SOURCE_PASSWORD}@127.0.0.1:{s3_only.pg.port}/no_such_db_{uuid.uuid4().hex[:6]}",
    ):
        with pytest.raises(LakeError) as caught:
            with open_source(url) as source:
                source.schema(table="t")
        chain = []
        error: BaseException | None = caught.value
        while error is not None:
            chain.append(f"{type(error).__name__}: {error}")
            error = error.__cause__ or error.__context__
        assert SOURCE_PASSWORD not in "\n".join(chain), url
        assert "\n" not in str(caught.value)


@pytest.mark.timeout(120)
@S3_POSTGRES
@pytest.mark.empty_catalog_database  # the secret role makes the catalog, as its owner
def test_lake_init_never_writes_the_catalog_password_into_lake_toml(
    secret_lake, cli, tmp_path, monkeypatch
):
    backend, url = secret_lake
    monkeypatch.delenv("LAKE_CATALOG_URL")
    result = cli("init", "--catalog", url)
    assert result.exit_code == 0, result.stderr
    assert "without the catalog password" in result.stdout + result.stderr
    written = (tmp_path / "lake.toml").read_text()
    assert _leaks(written, "lake.toml") == []
    assert f"@{backend.pg.host}:{backend.pg.port}/{backend.database}" in written
    # The password then comes from libpq's PGPASSWORD ...
    monkeypatch.setenv("PGPASSWORD", PG_PASSWORD)
    assert cli("tables").exit_code == 0
    monkeypatch.delenv("PGPASSWORD")
    # ... or from the variable lake.toml names.
    (tmp_path / "lake.toml").write_text(written + 'catalog_password_env = "MY_CATALOG_PW"\n')
    monkeypatch.setenv("MY_CATALOG_PW", PG_PASSWORD)
    shown = cli("config", "--output", "json")
    assert shown.exit_code == 0 and PG_PASSWORD not in shown.stdout
    assert cli("tables").exit_code == 0
