"""Configuration: one precedence order, every origin named, secrets never shown."""

from __future__ import annotations

import pytest

from lake.core.config import require_lake, resolve
from lake.core.errors import ConfigError, NoLakeHere


def test_the_embedded_default_is_a_local_folder_and_a_sqlite_file(tmp_path):
    config = resolve(cwd=tmp_path, environ={})
    assert config.warehouse == str(tmp_path / ".lake" / "warehouse")
    assert config.catalog_url == f"sqlite:///{tmp_path / '.lake' / 'catalog.db'}"
    assert config.origins["warehouse"] == "default"
    assert config.origins["catalog_url"] == "default"


def test_flags_beat_environment_which_beats_lake_toml(tmp_path):
    (tmp_path / "lake.toml").write_text('warehouse = "from-toml"\ncatalog = "sqlite:///toml.db"\n')
    from_file = resolve(cwd=tmp_path, environ={})
    assert from_file.warehouse == str(tmp_path / "from-toml")
    assert from_file.origins["warehouse"].startswith("lake.toml")

    from_env = resolve(cwd=tmp_path, environ={"LAKE_WAREHOUSE": "s3://bucket/env"})
    assert from_env.warehouse == "s3://bucket/env"
    assert from_env.origins["warehouse"] == "environment LAKE_WAREHOUSE"
    assert from_env.catalog_url == f"sqlite:///{tmp_path / 'toml.db'}"

    from_flag = resolve(
        cwd=tmp_path, warehouse="s3://bucket/flag/", environ={"LAKE_WAREHOUSE": "s3://b/env"}
    )
    assert from_flag.warehouse == "s3://bucket/flag"
    assert from_flag.origins["warehouse"] == "flag --warehouse"


def test_s3_settings_come_from_the_standard_aws_variables(tmp_path):
    config = resolve(
        cwd=tmp_path,
        environ={
            "LAKE_WAREHOUSE": "s3://bucket/prefix",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9000/",
            "AWS_ACCESS_KEY_ID": "key",
            "AWS_SECRET_ACCESS_KEY": "very-secret",
            "AWS_REGION": "eu-west-1",
            "AWS_ALLOW_HTTP": "true",
        },
    )
    assert config.is_s3
    assert config.s3.endpoint_url == "http://127.0.0.1:9000"
    assert config.s3.region == "eu-west-1"
    assert config.s3.allow_http is True
    assert "very-secret" not in repr(config)
    shown = config.describe()
    assert shown["s3.secret_access_key"]["value"] == "****"
    assert "very-secret" not in str(shown)


def test_a_catalog_password_is_masked_wherever_the_configuration_is_shown(tmp_path):
    config = resolve(
        cwd=tmp_path,
        environ={"LAKE_CATALOG_URL": "postgresql+psycopg2://lake:hunter2@db:5432/lake"},
    )
    assert config.secrets == ("hunter2",)
    assert "hunter2" not in str(config.describe())
    assert (
        config.describe()["catalog_url"]["value"] == "postgresql+psycopg2://lake:***@db:5432/lake"
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"LAKE_WAREHOUSE": "gs://bucket/x"},
            r"gs://bucket/x.*environment LAKE_WAREHOUSE.*--warehouse flag, "
            r"the environment variable LAKE_WAREHOUSE or `warehouse` in lake.toml",
        ),
        ({"LAKE_WAREHOUSE": "s3:///nobucket"}, r"names no bucket"),
        (
            {"LAKE_CATALOG_URL": "mysql://root@localhost/x"},
            r"uses 'mysql'.*--catalog flag, the environment variable LAKE_CATALOG_URL",
        ),
        ({"LAKE_CATALOG_URL": "not a url"}, r"not a SQLAlchemy URL"),
        (
            {"LAKE_CATALOG_URL": "postgresql+psycopg2://postgres@db:port/lake"},
            r"not a SQLAlchemy URL.*LAKE_CATALOG_URL",
        ),
        (
            {"AWS_ALLOW_HTTP": "perhaps"},
            r"s3.allow_http is 'perhaps' \(from environment AWS_ALLOW_HTTP\)",
        ),
        ({"AWS_ENDPOINT_URL": "127.0.0.1:9000"}, r"not an http\(s\) URL"),
        (
            {"LAKE_OPENLINEAGE_URL": "marquez:5000"},
            r"OpenLineage URL 'marquez:5000' \(from environment LAKE_OPENLINEAGE_URL\) is not an "
            r"http\(s\) URL.*LAKE_OPENLINEAGE_URL or `openlineage.url` in lake.toml",
        ),
    ],
)
def test_a_wrong_setting_names_its_origin_and_every_place_to_set_it(tmp_path, environ, message):
    with pytest.raises(ConfigError, match=message):
        resolve(cwd=tmp_path, environ=environ)


@pytest.mark.parametrize(
    ("environ", "toml", "origin"),
    [
        ({"LAKE_CATALOG_RETRY_WAIT": "soon"}, "", "environment LAKE_CATALOG_RETRY_WAIT"),
        ({"LAKE_CATALOG_RETRY_WAIT": "-1"}, "", "environment LAKE_CATALOG_RETRY_WAIT"),
        ({"LAKE_CATALOG_RETRY_WAIT": "nan"}, "", "environment LAKE_CATALOG_RETRY_WAIT"),
        ({}, "catalog_retry_wait = 86400\n", "lake.toml"),
    ],
)
def test_a_wrong_catalog_retry_wait_is_refused_in_one_sentence(tmp_path, environ, toml, origin):
    (tmp_path / "lake.toml").write_text(toml)
    with pytest.raises(ConfigError) as refused:
        resolve(cwd=tmp_path, environ=environ)
    message = str(refused.value)
    assert message.startswith("catalog_retry_wait is ") and origin in message, message
    assert "write seconds from 0 to 3600" in message and "\n" not in message, message
    assert (
        "the environment variable LAKE_CATALOG_RETRY_WAIT or `catalog_retry_wait` in lake.toml"
        in message
    )


def test_the_catalog_retry_wait_comes_from_the_environment_or_lake_toml(tmp_path):
    assert resolve(cwd=tmp_path, environ={}).catalog_retry_wait_s == 0.5
    (tmp_path / "lake.toml").write_text("catalog_retry_wait = 0\n")
    config = resolve(cwd=tmp_path, environ={})
    assert config.catalog_retry_wait_s == 0.0
    assert config.describe()["catalog_retry_wait"]["value"] == "0 s"
    config = resolve(cwd=tmp_path, environ={"LAKE_CATALOG_RETRY_WAIT": "2.5"})
    assert config.catalog_retry_wait_s == 2.5
    assert config.describe()["catalog_retry_wait"] == {
        "value": "2.5 s",
        "from": "environment LAKE_CATALOG_RETRY_WAIT",
    }


def test_a_broken_lake_toml_is_reported_with_its_path(tmp_path):
    (tmp_path / "lake.toml").write_text("warehouse = \n")
    with pytest.raises(ConfigError, match=r"lake.toml is not valid TOML"):
        resolve(cwd=tmp_path, environ={})


def test_lake_toml_values_are_relative_to_its_folder(tmp_path):
    (tmp_path / "lake.toml").write_text(
        'warehouse = "data/wh"\n[s3]\nregion = "eu-central-1"\nallow_http = true\n'
    )
    config = resolve(cwd=tmp_path, environ={})
    assert config.warehouse == str(tmp_path / "data" / "wh")
    assert config.s3.region == "eu-central-1"
    assert config.s3.allow_http is True


def test_openlineage_is_off_unless_a_url_is_set_and_its_api_key_is_a_secret(tmp_path):
    assert resolve(cwd=tmp_path, environ={}).openlineage.url is None
    assert resolve(cwd=tmp_path, environ={"LAKE_OPENLINEAGE_URL": "  "}).openlineage.url is None

    (tmp_path / "lake.toml").write_text('[openlineage]\nurl = "http://toml:5000"\n')
    from_file = resolve(cwd=tmp_path, environ={})
    assert from_file.openlineage.url == "http://toml:5000"
    assert from_file.origins["openlineage.url"].startswith("lake.toml")

    config = resolve(
        cwd=tmp_path,
        environ={
            "LAKE_OPENLINEAGE_URL": "http://marquez:5000",
            "LAKE_OPENLINEAGE_API_KEY": "ol-secret",
        },
    )
    assert config.openlineage.url == "http://marquez:5000"
    assert config.origins["openlineage.url"] == "environment LAKE_OPENLINEAGE_URL"
    assert config.openlineage.api_key == "ol-secret"
    assert config.secrets == ("ol-secret",)
    assert "ol-secret" not in repr(config)
    shown = config.describe()
    assert shown["openlineage.api_key"] == {
        "value": "****",
        "from": "environment LAKE_OPENLINEAGE_API_KEY",
    }
    assert "ol-secret" not in str(shown)


def test_a_password_in_the_openlineage_url_is_masked_when_shown(tmp_path):
    config = resolve(cwd=tmp_path, environ={"LAKE_OPENLINEAGE_URL": "https://ol:pw-123@host/x"})
    assert config.openlineage.url == "https://ol:pw-123@host/x"
    assert config.describe()["openlineage.url"]["value"] == "https://ol:***@host/x"


def test_lake_toml_is_found_in_the_nearest_folder_above(tmp_path):
    (tmp_path / "lake.toml").write_text('catalog = "sqlite:///meta/catalog.db"\n')
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    config = resolve(cwd=deep, environ={})
    assert config.root == tmp_path
    assert config.found == f"lake.toml ({tmp_path / 'lake.toml'})"
    assert config.catalog_url == f"sqlite:///{tmp_path / 'meta' / 'catalog.db'}"
    assert config.warehouse == str(tmp_path / ".lake" / "warehouse")  # the default, there too
    (tmp_path / "a" / "lake.toml").write_text('warehouse = "wh"\n')
    assert resolve(cwd=deep, environ={}).warehouse == str(tmp_path / "a" / "wh")


def test_without_flag_environment_or_lake_toml_no_lake_is_found(tmp_path):
    config = resolve(cwd=tmp_path, environ={})
    assert config.found is None
    with pytest.raises(NoLakeHere, match=r"^no lake here: run `lake init` \(no lake.toml in "):
        require_lake(config)
    named = resolve(cwd=tmp_path, environ={"LAKE_CATALOG_URL": "sqlite:///c.db"})
    assert named.found == "environment LAKE_CATALOG_URL"
    assert resolve(cwd=tmp_path, environ={}, warehouse="wh").found == "flag --warehouse"


def test_init_reads_lake_toml_of_its_own_folder_only(tmp_path):
    (tmp_path / "lake.toml").write_text('warehouse = "wh"\n')
    (tmp_path / "sub").mkdir()
    config = resolve(cwd=tmp_path / "sub", environ={}, search_parents=False)
    assert config.found is None and config.root == tmp_path / "sub"


def test_lake_toml_is_written_without_the_catalog_password(tmp_path):
    from lake.core.config import write_config_file

    write_config_file(
        tmp_path, warehouse="w", catalog_url="postgresql+psycopg2://lake:hunter2@db:5432/lake"
    )
    text = (tmp_path / "lake.toml").read_text()
    assert "hunter2" not in text
    assert 'catalog = "postgresql+psycopg2://lake@db:5432/lake"' in text


def test_the_catalog_password_comes_from_the_variable_lake_toml_names(tmp_path):
    (tmp_path / "lake.toml").write_text(
        'catalog = "postgresql+psycopg2://lake@db:5432/lake"\n'
        'catalog_password_env = "LAKE_CATALOG_PASSWORD"\n'
    )
    config = resolve(cwd=tmp_path, environ={"LAKE_CATALOG_PASSWORD": "hunter2"})
    assert config.secrets == ("hunter2",)
    assert "hunter2" not in str(config.describe())
    assert resolve(cwd=tmp_path, environ={}).secrets == ()
    (tmp_path / "lake.toml").write_text('catalog_password_env = "not a name"\n')
    with pytest.raises(ConfigError, match="must name an environment variable"):
        resolve(cwd=tmp_path, environ={})


@pytest.mark.parametrize("name", ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT"])
def test_an_s3_server_named_only_where_some_clients_look_is_refused(tmp_path, name):
    """deltalake and obstore read these variables, pyarrow and DuckDB do not: with no
    endpoint set, the lake's writes and reads would go to two servers."""
    environ = {"LAKE_WAREHOUSE": "s3://bucket/prefix", name: "http://127.0.0.1:9000"}
    with pytest.raises(ConfigError, match=rf"{name} names the S3 server .* AWS_ENDPOINT_URL"):
        resolve(cwd=tmp_path, environ=environ)
    # Named where every client looks, the lake's own setting is the one all of them use.
    agreed = resolve(cwd=tmp_path, environ={**environ, "AWS_ENDPOINT_URL": "http://s3.local"})
    assert agreed.s3.endpoint_url == "http://s3.local"
    # A local warehouse does not use S3.
    resolve(cwd=tmp_path, environ={name: "http://127.0.0.1:9000"})


@pytest.mark.parametrize(
    ("folder", "said"),
    [
        (
            "x%20y",
            "holds '%' and two hex digits, which deltalake reads as an escape (a%20b as 'a b', "
            "a%2Fb as 'a/b') while the lake's other readers take it literally, so they would "
            "read different objects; choose a location without '%' before two hex digits",
        ),
        (
            "C#proj",
            "holds '?' or '#', which deltalake's history and pyarrow's S3 client take for the "
            "start of a URL's query or fragment, so the table's versions would not be found; "
            "choose a location without '?' and '#'",
        ),
    ],
)
def test_a_warehouse_deltalake_would_misread_is_refused_before_anything_is_written(
    backend, monkeypatch, tmp_path, folder, said
):
    """deltalake decodes a location's %XX (twice, in its log reader), the lake's own requests
    do not: on S3 version 0 of a table landed under "x y" and version 1 under "x%20y";
    locally the first write failed in deltalake's log reader. Under "C#proj" the first
    write said its commit was not in the table's history (deltalake's history is empty)."""
    import lake

    warehouse = f"{backend.warehouse}/{folder}" if backend.s3 else str(tmp_path / folder)
    monkeypatch.setenv("LAKE_WAREHOUSE", warehouse)

    with pytest.raises(ConfigError) as refused:
        lake.connect()

    assert str(refused.value) == (
        f"The warehouse {warehouse!r} (from environment LAKE_WAREHOUSE) {said} and set it with "
        f"the --warehouse flag, the environment variable LAKE_WAREHOUSE or `warehouse` in "
        f"lake.toml."
    )


def _write_read_and_vacuum(warehouse: str) -> tuple[list[dict], int]:
    import pyarrow as pa

    import lake

    with lake.connect(warehouse=warehouse) as lk:
        lk.write_table("ml.t", pa.table({"id": [1, 2]}))
        lk.write_table("ml.t", pa.table({"id": [3]}))
        lk.vacuum("ml.t", retain="0d")
        return lk.sql("SELECT sum(id) AS s FROM ml.t").table.to_pylist(), len(lk.history("ml.t"))


@pytest.mark.parametrize("folder", ["p100%", "a%zz", "50%-off"])
def test_a_warehouse_whose_percent_sign_starts_no_escape_works(backend, tmp_path, folder):
    """Only '%' and two hex digits is an escape deltalake decodes; a lake in "p100%" wrote,
    read and vacuumed on main, and the first refusal of every '%' shut it out."""
    warehouse = f"{backend.warehouse}/{folder}" if backend.s3 else str(tmp_path / folder)

    assert _write_read_and_vacuum(warehouse) == ([{"s": 6}], 2)


def test_a_local_warehouse_with_a_dot_dot_segment_is_one_folder_for_every_reader(backend, tmp_path):
    """deltalake resolves "link/../wh" by its letters, the operating system through the link:
    data files went to one folder and the log to another, and the first write failed."""
    if backend.s3 is not None:
        pytest.skip("an S3 location with a '..' segment is refused")
    (tmp_path / "real" / "sub").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "real" / "sub")

    assert _write_read_and_vacuum(str(tmp_path / "link" / ".." / "wh")) == ([{"s": 6}], 2)
    assert (tmp_path / "wh" / "ml" / "t" / "_delta_log").is_dir()
    assert not (tmp_path / "real" / "wh").exists()
