"""The lake reads and writes catalog URLs without SQLAlchemy (lake.core.catalog_url), and must
read and write them exactly as SQLAlchemy does: the same URL reaches create_engine."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from lake.core.catalog_url import CatalogUrl

EXAMPLES = [
    "sqlite:///./.lake/catalog.db",
    "sqlite:////tmp/x/catalog.db",
    "sqlite://",
    "sqlite:///:memory:",
    "sqlite:///a%20b/c.db",
    "sqlite:///with space/c.db?timeout=3",
    "postgresql+psycopg2://postgres@127.0.0.1:5432/lake",
    "postgresql://user:p%40ss%3Aword@db.example.com/lake?sslmode=require&application_name=x",
    "postgresql+psycopg2://u:pw@[::1]:5433/db",
    "postgresql://u@host/db?options=a&options=b",
    "postgresql://u:@host/db",
    "postgresql://host",
    "postgresql://u@host:notaport/db",
    "postgresql://u@host:/db",
    "mysql+pymysql://u:p@h/d",
    "not a url",
    "://nothing",
]


def _sqlalchemy(text: str) -> tuple | None:
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):
        return None
    return (
        url.drivername,
        url.username,
        url.password,
        url.host,
        url.port,
        url.database,
        {k: (v if isinstance(v, str) else tuple(v)) for k, v in url.query.items()},
        url.get_backend_name(),
        url.render_as_string(hide_password=False),
        url.render_as_string(hide_password=True),
    )


def _ours(text: str) -> tuple | None:
    try:
        url = CatalogUrl.parse(text)
    except ValueError:
        return None
    return (
        url.drivername,
        url.username,
        url.password,
        url.host,
        url.port,
        url.database,
        url.query,
        url.backend,
        url.render(hide_password=False),
        url.render(hide_password=True),
    )


@pytest.mark.parametrize("text", EXAMPLES)
def test_a_catalog_url_is_read_and_written_as_sqlalchemy_does(text: str) -> None:
    assert _ours(text) == _sqlalchemy(text)


_PART = st.text(alphabet=st.sampled_from("ab:/@?&=%+ [].-_#é1"), max_size=8)


@settings(max_examples=400, deadline=None)
@given(
    driver=st.sampled_from(["sqlite", "postgresql", "postgresql+psycopg2", "x"]),
    user=_PART,
    password=_PART,
    host=_PART,
    rest=_PART,
)
def test_any_catalog_url_is_read_as_sqlalchemy_reads_it(driver, user, password, host, rest):
    for text in (
        f"{driver}://{user}:{password}@{host}/{rest}",
        f"{driver}://{host}{rest}",
        f"{driver}:///{rest}",
    ):
        assert _ours(text) == _sqlalchemy(text)


def test_changing_a_part_renders_as_sqlalchemy_does() -> None:
    text = "postgresql+psycopg2://lake:secret@db:5432/lake?sslmode=require"
    assert (
        CatalogUrl.parse(text).set(password=None).render(hide_password=False)
        == "postgresql+psycopg2://lake@db:5432/lake?sslmode=require"
    )
    assert CatalogUrl.parse(text).set(password="n3w/pw").render(hide_password=False) == make_url(
        text
    ).set(password="n3w/pw").render_as_string(hide_password=False)
    assert CatalogUrl.parse("sqlite:///./c.db").set(database="/abs/c d.db").render(
        hide_password=False
    ) == make_url("sqlite:///./c.db").set(database="/abs/c d.db").render_as_string(False)
