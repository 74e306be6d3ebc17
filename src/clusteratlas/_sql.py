"""Small SQL helpers shared by the readers and the store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb


def ident(name: str) -> str:
    """Quote an identifier for SQL."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """Quote a string literal for SQL."""
    return "'" + text.replace("'", "''") + "'"


def first_row(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None,
              ) -> tuple[Any, ...] | None:
    """The first row of a query, or None; the result is read to the end (DuckDB 2 needs that)."""
    rows = con.execute(sql, list(params or [])).fetchall()
    return rows[0] if rows else None


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None) -> Any:
    """The first value of the first row of a query."""
    row = first_row(con, sql, params)
    return None if row is None else row[0]
