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


def test_cheques_have_a_partial_index_that_deposit_matching_uses(db: Engine) -> None:
    from sqlalchemy import text

    from services.cashapp.models import CHEQUE_WHERE

    with db.connect() as conn:
        if db.dialect.name == "sqlite":
            (sql,) = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'ix_receipt_cheque'")).one()
            plan = " ".join(str(r[-1]) for r in conn.execute(text(
                "EXPLAIN QUERY PLAN SELECT id FROM receipt WHERE account = 'A' AND currency = 'EUR' "
                f"AND {CHEQUE_WHERE} AND booking_date >= '2026-01-01'")))
            assert "ix_receipt_cheque" in plan, plan
        else:
            (sql,) = conn.execute(text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_receipt_cheque' "
                                       "AND schemaname = current_schema()")).one()
    assert "CHEQUE" in sql and "WHERE" in sql.upper()


def test_down_to_the_first_revision_and_up_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    engine = make_engine(url)
    migrate(engine)
    command.downgrade(alembic_config(url), "0001")
    assert "ix_open_item_customer_id" in {ix["name"] for ix in inspect(engine).get_indexes("open_item")}
    migrate(engine)
    assert "ix_open_item_customer_id" not in {ix["name"] for ix in inspect(engine).get_indexes("open_item")}
    engine.dispose()
