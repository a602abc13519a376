"""Input checks shared by the reconciliation domain: columns present, money integer, dates dates.

The use cases feed these functions from the database; a wrong dtype there (a float amount, a
datetime where a date is expected) must fail loudly with a stable code, never be coerced silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum

import polars as pl

from shared.errors import ValidationError


class Kind(StrEnum):
    """What a column must hold; ``ANY`` only checks presence (ids may be text or integers)."""

    ANY = "any"
    INT = "int"
    DATE = "date"
    DATETIME = "datetime"
    TEXT = "text"
    BOOL = "bool"


class ReconInputError(ValidationError):
    """A frame handed to the reconciliation domain lacks a column or has the wrong type."""

    code = "RECON_BAD_INPUT"


def _fits(dtype: pl.DataType, kind: Kind) -> bool:
    if kind is Kind.ANY or dtype == pl.Null:
        return True
    if kind is Kind.INT:
        return dtype.is_integer()
    if kind is Kind.DATE:
        return dtype == pl.Date
    if kind is Kind.DATETIME:
        return isinstance(dtype, pl.Datetime)
    if kind is Kind.TEXT:
        return dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum)
    return dtype == pl.Boolean


def require(frame: pl.DataFrame, name: str, columns: Mapping[str, Kind]) -> pl.DataFrame:
    """Check ``frame`` has ``columns`` of the right kind; integers are widened to ``Int64``.

    Raises :class:`ReconInputError` naming the frame and column. Returns the frame with integer
    columns cast to Int64 and all-null columns cast to the expected type, so later joins line up.
    """
    casts: list[pl.Expr] = []
    for column, kind in columns.items():
        if column not in frame.columns:
            raise ReconInputError(f"{name}: missing column {column!r}", frame=name, column=column)
        dtype = frame.schema[column]
        if not _fits(dtype, kind):
            raise ReconInputError(
                f"{name}: column {column!r} must be {kind.value}, got {dtype}", frame=name, column=column
            )
        target = _TARGET.get(kind)
        if target is not None and dtype != target:
            casts.append(pl.col(column).cast(target))
    return frame.with_columns(casts) if casts else frame


_TARGET: dict[Kind, pl.DataType] = {
    Kind.INT: pl.Int64(),
    Kind.DATE: pl.Date(),
    Kind.TEXT: pl.String(),
    Kind.BOOL: pl.Boolean(),
}


def require_not_null(frame: pl.DataFrame, name: str, columns: Iterable[str]) -> None:
    """Refuse nulls in ``columns`` (money, dates and keys must always be known)."""
    cols = list(columns)
    if frame.height == 0 or not cols:
        return
    counts = frame.select(pl.col(cols).null_count()).row(0, named=True)
    for column, count in counts.items():
        if count:
            raise ReconInputError(
                f"{name}: column {column!r} has {count} empty value(s)", frame=name, column=column
            )
