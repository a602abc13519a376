"""Engine, sessions and schema migrations (Alembic) for SQLite and PostgreSQL alike."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Connection, Date, DateTime, Engine, Table, create_engine, event
from sqlmodel import Session

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def import_models() -> None:
    """Register every table on ``SQLModel.metadata`` (Alembic and tests need the full set)."""
    import services.cashapp.models
    import services.cashapp.models_outbox
    import services.cashapp.models_service
    import services.recon.models  # noqa: F401


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Python's sqlite3 opens transactions lazily and lets SQLAlchemy issue BEGIN itself,
            # so that `BEGIN IMMEDIATE` can be used where writers race (claim / resolve).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            # 64 MB of page cache (the default is 2 MB): bulk imports update several indexes whose
            # random keys (line hashes) would otherwise evict and re-read pages all the time.
            cur.execute("PRAGMA cache_size=-65536")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            mode = conn.get_execution_options().get("sqlite_begin", "")
            conn.exec_driver_sql(f"BEGIN {mode}".strip())

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (a no-op when it is current)."""
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


@contextmanager
def unit_of_work(engine: Engine, *, immediate: bool = False) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error. Use cases never commit.

    ``immediate`` takes SQLite's write lock up front (``BEGIN IMMEDIATE``) for racing writers.
    """
    bind = engine
    if immediate and engine.dialect.name == "sqlite":
        bind = engine.execution_options(sqlite_begin="IMMEDIATE")
    with Session(bind, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def driver_sql(conn: Connection, sql: str) -> str:
    """``sql`` written with ``?`` placeholders, in the driver's own parameter style."""
    return sql if conn.dialect.paramstyle == "qmark" else sql.replace("?", "%s")


def _bind_rows(conn: Connection, table: Table, names: list[str], rows: Sequence[Sequence[Any]],
               defaults: list[Any]) -> Sequence[Sequence[Any]]:
    """Rows with the defaults appended and dates/timestamps bound by their column types."""
    convert: list[tuple[int, Any]] = []
    for i, name in enumerate(names):
        t = table.c[name].type
        if isinstance(getattr(t, "impl", t), Date | DateTime):  # the only types that need binding
            proc = t._cached_bind_processor(conn.dialect)
            if proc is not None:
                convert.append((i, proc))
    width = len(names) - len(defaults)
    tail = list(defaults)
    for i, fn in convert:
        if i >= width:  # a default: the same value for every row, bound once
            tail[i - width] = fn(tail[i - width])
    convert = [(i, fn) for i, fn in convert if i < width]
    if not tail and not convert:
        return rows
    end = tuple(tail)
    if not convert:
        return [(*r, *end) for r in rows]
    return _rows_converter(width, tuple(i for i, _ in convert))(
        rows, end, *(_memo(fn) for _, fn in convert))


def _memo(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    # Dates repeat a lot within a batch: each distinct value is bound once (a C-level cache).
    return functools.lru_cache(maxsize=None)(fn)


@functools.cache
def _rows_converter(width: int, positions: tuple[int, ...]) -> Callable[..., list[tuple[Any, ...]]]:
    """A function that binds the values at ``positions`` of each row and appends the defaults.

    Written out for this row shape (one tuple display per row, no inner loop): this runs for
    every row of every bulk insert, and the generic loop cost more than the insert itself.
    """
    fns = {p: f"f{k}" for k, p in enumerate(positions)}
    items = ", ".join(f"{fns[i]}(r[{i}])" if i in fns else f"r[{i}]" for i in range(width))
    src = (f"def convert(rows, end, {', '.join(fns.values())}):\n"
           f"    return [({items}, *end) for r in rows]\n")
    scope: dict[str, Any] = {}
    exec(src, scope)  # generated from column positions only, never from data
    return scope["convert"]  # type: ignore[no-any-return]


def bulk_insert(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]],
                chunk: int = 5000, on_conflict_ignore: str | None = None) -> int:
    """``INSERT`` many rows of plain tuples straight through the driver's ``executemany``.

    For the hot paths (bank lines, decisions, allocations, outbox rows): SQLAlchemy's per-row
    parameter processing costs more than the insert itself. Values are what the column types take
    (``date``, ``datetime``, ``bool``, ``int``, ``str``); dates and timestamps go through their
    column type's own bind processing, so that ORM reads see the same values as after an ORM
    insert. Columns left out get their Python-side default (evaluated once per call), as an ORM
    insert would.
    ``on_conflict_ignore`` names a unique column: a row whose value is taken is skipped (SQLite
    and PostgreSQL both say ``ON CONFLICT (col) DO NOTHING``). Returns the number of rows given.
    """
    if not rows:
        return 0
    names = list(columns)
    defaults = []
    for c in table.columns:
        if c.name in names or c.default is None or c.primary_key:
            continue
        arg = c.default.arg  # type: ignore[attr-defined]
        defaults.append(arg(None) if callable(arg) and c.default.is_callable else arg)  # type: ignore[attr-defined]
        names.append(c.name)
    rows = _bind_rows(conn, table, names, rows, defaults)
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    prep = conn.dialect.identifier_preparer
    sql = (f"INSERT INTO {prep.format_table(table)} ({', '.join(prep.quote(n) for n in names)}) "
           f"VALUES ({', '.join([mark] * len(names))})")
    if on_conflict_ignore:
        sql += f" ON CONFLICT ({prep.quote(on_conflict_ignore)}) DO NOTHING"
    for i in range(0, len(rows), chunk):
        conn.exec_driver_sql(sql, [r if type(r) is tuple else tuple(r) for r in rows[i : i + chunk]])
    return len(rows)


def select_in(conn: Connection, column: Column[Any], values: Sequence[Any], chunk: int = 900) -> list[Any]:
    """The values of ``column`` that are among ``values`` (plain, unconverted types: str, int).

    Straight through the driver, ``chunk`` values a query (SQLite's limit on host parameters).
    """
    table = column.table
    prep = conn.dialect.identifier_preparer
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    name = prep.quote(column.name)
    found: list[Any] = []
    for i in range(0, len(values), chunk):
        part = tuple(values[i : i + chunk])
        sql = (f"SELECT {name} FROM {prep.format_table(table)} "  # type: ignore[arg-type]
               f"WHERE {name} IN ({', '.join([mark] * len(part))})")
        found.extend(r[0] for r in conn.exec_driver_sql(sql, part))
    return found
