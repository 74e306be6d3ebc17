"""Small SQL helpers shared by the readers and the store."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import duckdb

from clusteratlas.errors import InputError

MEMORY_LIMIT_ENV = "CLUSTERATLAS_MEMORY_LIMIT"


def connect(path: str = ":memory:", *, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection set up for clusteratlas's work.

    Row order is not preserved (results are keyed, and unordered writes are
    faster). ``memory_limit`` (e.g. "800MB"; default: the environment
    variable CLUSTERATLAS_MEMORY_LIMIT, else DuckDB's 80 % of RAM) caps
    DuckDB's memory; above it DuckDB spills to disk.
    """
    config: dict[str, Any] = {"preserve_insertion_order": False}
    limit = memory_limit or os.environ.get(MEMORY_LIMIT_ENV)
    if limit:
        try:
            duckdb.connect(config={"memory_limit": limit}).close()
        except duckdb.Error:
            raise InputError("invalid memory limit", value=limit, expected="a size such as 800MB or 2GB") from None
        config["memory_limit"] = limit
    return duckdb.connect(path, config=config)


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
