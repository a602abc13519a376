"""Alembic environment: runs on the connection handed over by ``shared.db.migrate``."""

from alembic import context
from sqlalchemy import create_engine
from sqlmodel import SQLModel

from shared.db import import_models

import_models()
target_metadata = SQLModel.metadata
config = context.config


def run() -> None:
    conn = config.attributes.get("connection")
    if conn is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
        with engine.begin() as conn:
            _run_on(conn)
    else:
        _run_on(conn)


def _run_on(conn) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=conn,
        target_metadata=target_metadata,
        render_as_batch=conn.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
