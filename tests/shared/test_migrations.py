"""The Alembic migrations build exactly the schema the models declare, on both databases."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect
from sqlmodel import SQLModel

from shared.db import alembic_config, import_models, make_engine, migrate


def test_migrated_schema_is_the_models_schema(db: Engine) -> None:
    import_models()
    with db.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []


def test_customer_lookups_use_the_unique_indexes_only(db: Engine) -> None:
    names = {t: {ix["name"] for ix in inspect(db).get_indexes(t)} for t in ("customer_account", "open_item")}
    assert "ix_customer_account_customer_id" not in names["customer_account"]
    assert "ix_open_item_customer_id" not in names["open_item"]


def test_down_to_the_first_revision_and_up_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    engine = make_engine(url)
    migrate(engine)
    command.downgrade(alembic_config(url), "0001")
    assert "ix_open_item_customer_id" in {ix["name"] for ix in inspect(engine).get_indexes("open_item")}
    migrate(engine)
    assert "ix_open_item_customer_id" not in {ix["name"] for ix in inspect(engine).get_indexes("open_item")}
    engine.dispose()
