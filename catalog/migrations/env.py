"""Alembic environment for the lake's catalog.

Migrations run through ``catalog.migrate`` with a live connection handed over in
``config.attributes["connection"]``; there is no alembic.ini to keep in sync.
"""

from __future__ import annotations

from alembic import context

from catalog.definitions import METADATA

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only `alembic revision --autogenerate` by hand
    from sqlalchemy import create_engine

    connection = create_engine(config.get_main_option("sqlalchemy.url")).connect()


def render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    # Migrations must not import the models (they change; migrations do not).
    if type_ == "type" and type(obj).__name__ == "UTCDateTime":
        return "sa.DateTime(timezone=True)"
    return False


context.configure(
    connection=connection,
    render_item=render_item,
    target_metadata=METADATA,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
