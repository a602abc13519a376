"""Engine, sessions and schema migrations (Alembic) for SQLite and PostgreSQL alike."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Boolean, Column, Connection, Date, DateTime, Dialect, Engine, Table, create_engine, event
from sqlmodel import Session

from shared.sqlite_wal import WAL_CAP_PAGES, CheckpointingConnection

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
        background_checkpoints = False
        connect_args: dict[str, Any] = {"timeout": 30}
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            if "///" in url and not path.startswith("file:") and "?" not in url:
                background_checkpoints = True  # a plain database file (see shared.sqlite_wal)
                connect_args["factory"] = CheckpointingConnection
        engine = create_engine(url, connect_args=connect_args, **kwargs)

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
            if background_checkpoints:  # the writers leave checkpoints to it
                cur.execute(f"PRAGMA wal_autocheckpoint={WAL_CAP_PAGES}")
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


@dataclass(frozen=True, slots=True)
class _InsertPlan:
    """What a bulk insert of these columns needs, worked out once per table, columns and dialect."""

    sql: str
    defaults: tuple[Column[Any], ...]  # the columns left out that have a Python-side default
    width: int  # the values given per row (lead included)
    convert: tuple[tuple[int, Callable[[Any], Any]], ...]  # (position among the given, bind processor)
    convert_defaults: tuple[tuple[int, Callable[[Any], Any]], ...]  # (position among the defaults, ...)
    nulls: frozenset[int]  # positions (given, then defaults) whose NULL is bound as NaN, see _NULL


@functools.lru_cache(maxsize=256)
def _insert_plan(table: Table, columns: tuple[str, ...], dialect: Dialect,
                 on_conflict_ignore: str | None) -> _InsertPlan:
    defaults = tuple(c for c in table.columns
                     if c.name not in columns and c.default is not None and not c.primary_key)
    names = [*columns, *(c.name for c in defaults)]
    convert: list[tuple[int, Callable[[Any], Any]]] = []
    for i, name in enumerate(names):
        t = table.c[name].type
        if isinstance(getattr(t, "impl", t), Date | DateTime | Boolean):  # types whose values are bound
            proc = t._cached_bind_processor(dialect)
            if proc is not None:
                convert.append((i, proc))
    nulls = frozenset(i for i, name in enumerate(names) if table.c[name].nullable) if _nan_binds_null(dialect) \
        else frozenset()
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    prep = dialect.identifier_preparer
    sql = (f"INSERT INTO {prep.format_table(table)} ({', '.join(prep.quote(n) for n in names)}) "
           f"VALUES ({', '.join([mark] * len(names))})")
    if on_conflict_ignore:
        sql += f" ON CONFLICT ({prep.quote(on_conflict_ignore)}) DO NOTHING"
    width = len(columns)
    return _InsertPlan(sql=sql, defaults=defaults, width=width,
                       convert=tuple((i, f) for i, f in convert if i < width),
                       convert_defaults=tuple((i - width, f) for i, f in convert if i >= width), nulls=nulls)


# SQLite stores a NaN bound as a double as NULL (sqlite3_bind_double). Python's sqlite3 binds an
# exact float straight away, while None (like a bool, or anything but an exact int, float or str)
# first goes through its adapter lookup, several times slower: bank lines carry four or five
# empty columns each, and those lookups were about a quarter of the driver's work for them.
# Checked once per dialect against the library in use.
_NULL = float("nan")


@functools.lru_cache(maxsize=8)
def _nan_binds_null(dialect: Dialect) -> bool:
    """Whether ``dialect`` is Python's sqlite3, and its SQLite reads a bound NaN back as NULL."""
    dbapi = getattr(dialect, "loaded_dbapi", None)
    if dialect.name != "sqlite" or getattr(dbapi, "Connection", None) is not sqlite3.Connection:
        return False
    with closing(sqlite3.connect(":memory:")) as con:
        return bool(con.execute("SELECT ? IS NULL", (_NULL,)).fetchone()[0] == 1)


def _bind_rows(plan: _InsertPlan, rows: Sequence[Sequence[Any]],
               lead: Sequence[Sequence[Any]] | None) -> Sequence[Sequence[Any]]:
    """Rows (after their ``lead`` values) with the defaults appended, values bound by column type.

    Dates, timestamps and booleans go through their types' bind processing (as Core would bind
    them); where the plan says so, None is bound as NaN (see ``_NULL``). Defaults are evaluated
    once per call, as an ORM flush of the rows would. Returns ``rows`` themselves when nothing is
    to be done, else a new list of tuples.
    """
    width, nulls = plan.width, plan.nulls
    tail = []
    for c in plan.defaults:
        arg = c.default.arg  # type: ignore[union-attr]
        tail.append(arg(None) if callable(arg) and c.default.is_callable else arg)  # type: ignore[union-attr]
    for i, fn in plan.convert_defaults:  # a default: the same value for every row, bound once
        tail[i] = fn(tail[i])
    tail = [_NULL if v is None and width + i in nulls else v for i, v in enumerate(tail)]
    if not tail and not plan.convert and not nulls and lead is None:
        return rows
    lead_width = 0 if lead is None else len(lead[0])
    converted = tuple(i for i, _ in plan.convert)
    plain_nulls = tuple(i for i in sorted(nulls) if i < width and i not in converted)
    fill = _rows_converter(width, lead_width, converted, plain_nulls)
    args = (rows, tuple(tail), _NULL, *(_Memo(fn, i in nulls) for i, fn in plan.convert))
    return fill(*args) if lead is None else fill(lead, *args)


class _Memo(dict[Any, Any]):
    """``fn`` of each distinct value, computed once: dates repeat a lot within a batch.

    Looked up by subscript (a C-level dict lookup per value, no call); one per bulk insert.
    ``null``: a None that ``fn`` keeps None is bound as NaN (see ``_NULL``).
    """

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[Any], Any], null: bool) -> None:
        super().__init__()
        self.fn = fn
        if null and fn(None) is None:
            self[None] = _NULL

    def __missing__(self, value: Any) -> Any:
        bound = self[value] = self.fn(value)
        return bound


@functools.cache
def _rows_converter(width: int, lead_width: int, memos: tuple[int, ...],
                    nulls: tuple[int, ...]) -> Callable[..., list[tuple[Any, ...]]]:
    """A function that joins each row to its lead and binds its values, then adds the defaults.

    Written out for this row shape (one tuple display per row, no inner loop): this runs for
    every row of every bulk insert, and the generic loop cost more than the insert itself.
    Positions count from the first lead value; a row holds the ``width - lead_width`` after them.
    The values at ``memos`` are looked up in their memo, a None at ``nulls`` becomes ``null``.
    """
    names = {p: f"m{k}" for k, p in enumerate(memos)}
    items = []
    for i in range(width):
        v = f"h[{i}]" if i < lead_width else f"r[{i - lead_width}]"
        items.append(f"{names[i]}[{v}]" if i in names else f"(null if {v} is None else {v})" if i in nulls else v)
    if lead_width:
        head, loop = "lead, rows", "for h, r in zip(lead, rows)"
    else:
        head, loop = "rows", "for r in rows"
    src = (f"def convert({head}, end, null, {', '.join(names.values())}):\n"
           f"    return [({', '.join(items)}, *end) {loop}]\n")
    scope: dict[str, Any] = {}
    exec(src, scope)  # generated from column positions only, never from data
    return scope["convert"]  # type: ignore[no-any-return]


def bulk_insert(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]],
                chunk: int = 5000, on_conflict_ignore: str | None = None,
                lead: Sequence[Sequence[Any]] | None = None) -> int:
    """``INSERT`` many rows of plain tuples straight through the driver's ``executemany``.

    For the hot paths (bank lines, decisions, allocations, outbox rows): SQLAlchemy's per-row
    parameter processing costs more than the insert itself. Values are what the column types take
    (``date``, ``datetime``, ``bool``, ``int``, ``str``); dates, timestamps and booleans go through
    their column type's own bind processing, so that ORM reads see the same values as after an ORM
    insert. Columns left out get their Python-side default (evaluated once per call), as an ORM
    insert would.
    ``on_conflict_ignore`` names a unique column: a row whose value is taken is skipped (SQLite
    and PostgreSQL both say ``ON CONFLICT (col) DO NOTHING``). Returns the number of rows given.
    ``lead``: one tuple per row with the values of the first columns, the row holding the rest
    (rows that share a few leading values, such as a parent id, need not be copied to add them).
    """
    if not rows:
        return 0
    if lead is not None and len(lead) != len(rows):
        raise ValueError(f"{len(lead)} lead tuples for {len(rows)} rows")
    plan = _insert_plan(table, tuple(columns), conn.dialect, on_conflict_ignore)
    bound = _bind_rows(plan, rows, lead)
    for i in range(0, len(bound), chunk):
        part = bound if len(bound) <= chunk else bound[i : i + chunk]
        if bound is rows:  # as given: the driver wants tuples
            part = [r if type(r) is tuple else tuple(r) for r in part]
        conn.exec_driver_sql(plan.sql, part)  # type: ignore[arg-type]
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
