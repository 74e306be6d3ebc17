"""The API's tokens and write log as stored in the atlas: the ``api_tokens`` and ``api_writes`` tables.

Only storage lives here (rows in, rows out); what a token is, how it is hashed and checked, and which role
may do what is :mod:`clusteratlas.server.auth`'s business. Every function takes the connection it works
on, so the command line (``token create|list|revoke``) and the server's writer share it.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pyarrow as pa

from clusteratlas.queries._core import not_found, tables
from clusteratlas.store.schema import DDL as SCHEMA_DDL

#: The token and write-log tables (part of the atlas's schema: clusteratlas.store.schema).
DDL = [statement for statement in SCHEMA_DDL if "api_tokens" in statement or "api_writes" in statement]


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the token and write-log tables if missing (no-op when both exist, so a read-only connection works;
    an atlas opened by :class:`clusteratlas.store.Atlas` has them)."""
    have = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = "
                                      "current_database()").fetchall()}
    for statement in DDL:
        if statement.split("EXISTS ")[1].split(" ")[0] not in have:
            con.execute(statement)


def insert_token(con: duckdb.DuckDBPyConnection, token_id: str, name: str | None, role: str, digest: str,
                 created: datetime, expires: datetime | None) -> None:
    """Store a new token's row (its hash, never the token)."""
    ensure_tables(con)
    con.execute("INSERT INTO api_tokens VALUES (?, ?, ?, ?, ?, ?, NULL)",
                [token_id, name, role, digest, created, expires])


def token_table(con: duckdb.DuckDBPyConnection, now: datetime) -> pa.Table:
    """Every token (never its secret or hash), newest first, with its state at ``now``."""
    ensure_tables(con)
    return con.sql("SELECT id, name, role, created_at, expires_at, revoked_at, CASE WHEN revoked_at IS NOT NULL "
                   "THEN 'revoked' WHEN expires_at IS NOT NULL AND expires_at <= ? THEN 'expired' ELSE 'active' "
                   "END AS state FROM api_tokens ORDER BY created_at DESC", params=[now]).to_arrow_table()


def revoke(con: duckdb.DuckDBPyConnection, token_id: str, now: datetime) -> None:
    """Mark a token revoked at ``now`` (a revoked one keeps its first time); an unknown id is a
    :class:`~clusteratlas.queries._core.NotFound` naming the known ids."""
    ensure_tables(con)
    rows = con.execute("SELECT revoked_at FROM api_tokens WHERE id = ?", [token_id]).fetchall()
    if not rows:
        known = [r[0] for r in con.execute("SELECT id FROM api_tokens ORDER BY 1").fetchall()]
        raise not_found("token", token_id, known)
    if rows[0][0] is None:
        con.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ?", [now, token_id])


def token_row(con: duckdb.DuckDBPyConnection,
              token_id: str) -> tuple[str | None, str, str, datetime | None, datetime | None] | None:
    """(name, role, hash, expires_at, revoked_at) of a token, or None when there is no such token (or no token
    table: an atlas from before tokens, read-only)."""
    if "api_tokens" not in tables(con):
        return None
    rows = con.execute("SELECT name, role, hash, expires_at, revoked_at FROM api_tokens WHERE id = ?",
                       [token_id]).fetchall()
    return rows[0] if rows else None


def replace_hash(con: duckdb.DuckDBPyConnection, token_id: str, new_hash: str, unless_prefix: str) -> None:
    """Replace a token's stored hash, unless it already starts with ``unless_prefix`` (a revoked row keeps its
    state)."""
    con.execute("UPDATE api_tokens SET hash = ? WHERE id = ? AND hash NOT LIKE ?",
                [new_hash, token_id, unless_prefix + "%"])


def insert_write(con: duckdb.DuckDBPyConnection, at: datetime, token: str | None, name: str | None, role: str,
                 action: str, detail: str, sha256: str | None) -> None:
    """Log one write: when, who (token id, name, role), what, the checksum of what was sent."""
    ensure_tables(con)
    con.execute("INSERT INTO api_writes VALUES (?, ?, ?, ?, ?, ?, ?)",
                [at, token, name, role, action, detail, sha256])
