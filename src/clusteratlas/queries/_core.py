"""Shared pieces of the query layer: results, errors, cursors, column checks.

Every query takes a DuckDB connection (read-only is enough) and plain
parameters, and returns a :class:`TableResult` (an Arrow table plus
metadata) or a dataclass of them. Nothing here prints or knows about HTTP:
the CLI, the REST API and the pages render the same results.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from clusteratlas.errors import InputError, close_matches_hint
from clusteratlas.i18n import _

#: The most rows one page of a paginated query may hold.
MAX_PAGE = 10_000


@dataclass
class NotFound(InputError):
    """An id that is not in the atlas (the API answers 404, with close matches)."""

    choices: list[str] = field(default_factory=list)

    @property
    def close_matches(self) -> list[str]:
        import difflib

        return difflib.get_close_matches(str(self.value), self.choices, n=3, cutoff=0.5)

    def suggestion(self) -> str | None:
        """The close matches and the first known ids, in the current language (None when there are none).

        Made when the message is, not when the error is raised, so a page shows it in the visitor's language.
        """
        from clusteratlas.i18n import _

        parts = []
        if self.close_matches:
            parts.append(_("Did you mean {names}?").format(names=_(" or ").join(repr(c) for c in self.close_matches)))
        if self.choices:  # the first known ids too: close matches by spelling can miss the one meant (S1C9 -> S1C1)
            more = _(", … ({n:,} in all)").format(n=len(self.choices)) if len(self.choices) > 20 else ""
            parts.append(_("Available: {shown}").format(shown=", ".join(self.choices[:20]) + more))
        return " ".join(parts) or None

    def __str__(self) -> str:
        from clusteratlas.i18n import _

        text = super().__str__()
        tip = self.suggestion()
        return _("{message}. {hint}").format(message=text, hint=tip) if tip and not self.hint else text


@dataclass
class Missing(InputError):
    """The atlas has not computed this yet (e.g. no map or relate run); the API answers 404."""


@dataclass
class TableResult:
    """Rows as an Arrow table and what they are (year, level, paging, notes)."""

    table: pa.Table
    meta: dict[str, Any] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        """The rows as plain Python values (non-finite numbers as None)."""
        return to_rows(self.table)


#: Facts about the atlas (its tables, columns, levels, years) kept while one version of it is read.
_MEMO: ContextVar[dict[tuple, Any] | None] = ContextVar("clusteratlas_query_memo", default=None)


@contextmanager
def memo(store: dict[tuple, Any] | None) -> Iterator[None]:
    """Within the block, queries keep facts about the atlas (which tables and columns it has, its levels and
    years, how many regions a level has) in ``store`` instead of asking DuckDB each time.

    Only for reads of one unchanging version of the atlas: the server passes a new dict whenever the atlas
    changes (:meth:`clusteratlas.server.service.AtlasService.memo`). ``None``: nothing kept (the CLI).
    """
    token = _MEMO.set(store)
    try:
        yield
    finally:
        _MEMO.reset(token)


#: At most this many facts are kept per atlas version (keys can hold a parameter: the store stays small).
MEMO_ITEMS = 10_000


def memo_active() -> bool:
    """Whether queries run within a :func:`memo` store (the server), not once (the CLI)."""
    return _MEMO.get() is not None


def memo_store() -> dict[tuple, Any] | None:
    """The current :func:`memo` store (the server's, for the atlas version read now), or None (the CLI)."""
    return _MEMO.get()


def memoised(key: tuple, compute: Callable[[], Any]) -> Any:
    """``compute()``, or its value kept under ``key`` in the current :func:`memo` store."""
    store = _MEMO.get()
    if store is None:
        return compute()
    if key in store:
        return store[key]
    value = compute()
    if len(store) < MEMO_ITEMS:
        store[key] = value
    return value


def tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Names of the tables and views of the atlas."""
    return memoised(("tables",), lambda: {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() UNION SELECT view_name FROM duckdb_views()").fetchall()})


def require(con: duckdb.DuckDBPyConnection, table: str, hint: str) -> None:
    """Raise :class:`Missing` when ``table`` is not in the atlas yet."""
    if table not in tables(con):
        raise Missing(_("the atlas has no {table} yet").format(table=table), hint=hint)


def columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """Column names of a table, in order."""
    return memoised(("columns", table), lambda: [r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index", [table]).fetchall()])


def check_choice(name: str, value: str, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``, else a 422-style error naming them."""
    if value not in choices:
        raise InputError(_("unknown {name}").format(name=_(name)), value=value, expected=", ".join(choices),
                         hint=close_matches_hint(value, choices))
    return value


def not_found(what: str, value: str, choices: Iterable[str]) -> NotFound:
    """A :class:`NotFound` whose message ends with the close matches and the known ids (see
    :meth:`NotFound.suggestion`)."""
    return NotFound(_("unknown {what}").format(what=_(what)), value=value, choices=list(choices))


#: The schema metadata key under which :func:`finite` lists the float columns it made finite (slices and
#: column selections keep it), so that :func:`to_rows` need not test them again for each slice.
FINITE_KEY = b"clusteratlas.finite"


def finite(table: pa.Table) -> pa.Table:
    """The table with NaN and infinite floats as nulls (JSON, CSV and Parquet then agree)."""
    out = table
    made = []
    for i, f in enumerate(table.schema):
        if pa.types.is_decimal(f.type):  # DuckDB sums and counts: whole numbers as integers, else floats
            out = out.set_column(i, f.name, pc.cast(table.column(i), pa.int64() if f.type.scale == 0
                                                    else pa.float64()))
            made.append(f.name)
        elif pa.types.is_floating(f.type):
            col = table.column(i)
            out = out.set_column(i, f.name, pc.if_else(pc.is_finite(col), col, pa.scalar(None, f.type)))
            made.append(f.name)
    return out.replace_schema_metadata({**(out.schema.metadata or {}), FINITE_KEY: json.dumps(made).encode()})


def split_sorted(table: pa.Table, column: str, keys: list[Any] | None = None,
                 drop: bool = False) -> dict[Any, pa.Table]:
    """The rows of ``table`` (sorted by ``column``) per value of ``column``, as zero-copy slices in their order;
    with ``keys``, every key has a table (empty when it has no rows). ``drop`` leaves ``column`` out.

    How a whole-level query is cut into the answers of its regions or clusters
    (:func:`clusteratlas.queries.region_profiles`, :mod:`clusteratlas.queries.clusters`).
    """
    values = table.column(column).to_pylist()
    if drop:
        table = table.drop_columns([column])
    out: dict[Any, pa.Table] = {}
    start = 0
    for i in range(1, len(values) + 1):
        if i == len(values) or values[i] != values[start]:
            out[values[start]] = table.slice(start, i - start)
            start = i
    for key in keys or ():
        out.setdefault(key, table.slice(0, 0))
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        value = int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _plain_already(table: pa.Table) -> bool:
    """Whether Arrow's own Python values are JSON-ready: only text, integers, booleans and finite floats."""
    marked = (table.schema.metadata or {}).get(FINITE_KEY)
    made = set(json.loads(marked)) if marked else set()
    for f, col in zip(table.schema, table.columns, strict=True):
        t = f.type
        if pa.types.is_floating(t):
            if f.name not in made and col.null_count < len(col) and not pc.all(pc.is_finite(col)).as_py():
                return False
        elif not (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_integer(t)
                  or pa.types.is_boolean(t) or pa.types.is_null(t)):
            return False  # times, decimals, lists, structs: converted value by value
    return True


def to_rows(table: pa.Table) -> list[dict[str, Any]]:
    """Rows of a table as JSON-ready dicts (value by value only when a column needs it: a 3,000-row map
    layer in about a fifth of the time)."""
    if _plain_already(table):
        return table.to_pylist()
    return [_plain(r) for r in table.to_pylist()]


def plain(value: Any) -> Any:
    """A value (dict, list, scalar) made JSON-ready: non-finite floats as None, dates as ISO text."""
    return _plain(value)


def _json_default(value: Any) -> Any:
    """What :func:`plain` makes of a value json cannot write itself."""
    plain_value = plain(value)
    return str(plain_value) if plain_value is value else plain_value


#: orjson's options for :func:`json_bytes`: numpy scalars as numbers, keys of any type as text, dates and times
#: through :func:`_json_default` (ISO text, as :func:`plain` writes them).
_ORJSON = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def json_bytes(value: Any) -> bytes:
    """Strict JSON (no NaN: null), UTF-8, Japanese kept readable: how answers are written (the API's bodies,
    the stored answers).

    Written by orjson (non-finite floats as null, as :func:`plain` makes them; numbers as Python writes
    them but for small exponents, 0.00001 for 1e-05); an integer beyond 64 bits, which orjson refuses,
    goes through :mod:`json` instead.
    """
    try:
        return orjson.dumps(value, default=_json_default, option=_ORJSON)
    except orjson.JSONEncodeError:
        pass
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_json_default)
    except ValueError:  # a NaN or infinity somewhere: null, as plain() writes it
        text = json.dumps(plain(value), ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=str)
    return text.encode("utf-8")


def encode_cursor(offset: int, key: str) -> str:
    """An opaque cursor for the next page of a query (``key`` ties it to the query's filters)."""
    raw = json.dumps({"o": offset, "k": key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, key: str) -> int:
    """The offset a cursor points at; a cursor of another query or a garbled one is a clear error."""
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        offset = int(data["o"])
        same = data["k"] == key
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise InputError(_("bad cursor"), value=cursor[:60],
                         expected=_("the 'next' cursor of an earlier page")) from None
    if not same or not 0 <= offset <= 2**40:
        raise InputError(_("this cursor belongs to another query"), value=cursor[:60],
                         expected=_("the 'next' cursor of the same query (same filters and sort)"))
    return offset


def query_key(**params: Any) -> str:
    """A short digest of a query's parameters (to tie a cursor to it)."""
    import hashlib

    text = json.dumps(params, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def equal_filters(prefix: str = "", **values: Any) -> tuple[list[str], list[Any]]:
    """``column = ?`` clauses and their parameters for the values given (None: no filter on that column)."""
    given = [(name, value) for name, value in values.items() if value is not None]
    return [f"{prefix}{name} = ?" for name, _ in given], [value for _, value in given]


def sort_clause(sort: str | None, allowed: Sequence[str], default: str) -> str:
    """An ORDER BY clause from ``col`` or ``-col`` (descending), checked against ``allowed``."""
    spec = sort or default
    parts = []
    for item in spec.split(","):
        item = item.strip()
        desc = item.startswith("-")
        name = item.lstrip("-+")
        if name not in allowed:
            raise InputError(_("unknown sort column"), value=name,
                             expected=_("one of {columns} (prefix - for descending)").format(
                                 columns=", ".join(allowed)),
                             hint=close_matches_hint(name, allowed))
        parts.append(f'"{name}" {"DESC" if desc else "ASC"} NULLS LAST')
    return ", ".join(parts)


def latest_year(con: duckdb.DuckDBPyConnection, table: str, year: int | None, where: str = "true",
                params: Sequence[Any] = ()) -> int:
    """``year`` if the table has rows for it, else the latest year; a clear error for a year without data."""
    years = memoised(("years", table, where, tuple(params)), lambda: [r[0] for r in con.execute(
        f"SELECT DISTINCT year FROM {table} WHERE {where} ORDER BY 1", list(params)).fetchall()])
    if not years:
        raise Missing(_("no rows in {table}").format(table=table), hint=_("Run the step that fills it first"))
    if year is None:
        return years[-1]
    if year not in years:
        raise InputError(_("no results for this year"), value=year, expected=", ".join(map(str, years)))
    return year


#: The levels whose regions overlap: two regions of the level share a region below them, or one holds another.
#: Their regions' figures add up to more than the economy (a region's jobs counted once per region holding
#: it), so no total is given for them and they are not the default level.
_OVERLAPPING_LEVELS = """
    WITH RECURSIVE edges AS (SELECT parent AS up, region AS down FROM region_links
                             UNION SELECT region, member FROM custom_members),
    mapped AS (SELECT DISTINCT level, region FROM results_regions),
    walk(level, root, node) AS (
        SELECT m.level, m.region, e.down FROM mapped m JOIN edges e ON e.up = m.region
        UNION SELECT w.level, w.root, e.down FROM walk w JOIN edges e ON e.up = w.node)
    SELECT level FROM walk GROUP BY level, node HAVING count(DISTINCT root) > 1
    UNION SELECT w.level FROM walk w JOIN mapped m ON m.level = w.level AND m.region = w.node"""


def level_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """The number of regions of each level the map results have (any year), largest level first.

    This is how every face counts regions: the pages, the API and ``map``'s summary (a region known to the
    region list but without results, e.g. a nation with no observations of its own, is not counted).
    """
    rows = memoised(("level_counts",), lambda: con.execute(
        "SELECT level, count(DISTINCT region) FROM results_regions GROUP BY level ORDER BY 2 DESC, 1").fetchall())
    return {level: int(n) for level, n in rows}


def overlapping_levels(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The levels of the results whose regions overlap (see :data:`_OVERLAPPING_LEVELS`), e.g. programme
    regions that share a prefecture."""
    def compute() -> list[str]:
        if not {"region_links", "custom_members"} <= tables(con):
            return []
        return sorted(r[0] for r in con.execute(_OVERLAPPING_LEVELS).fetchall())

    return memoised(("overlapping_levels",), compute)


def default_level(con: duckdb.DuckDBPyConnection) -> str:
    """The level a question without a level is answered at: of the levels whose regions do not overlap, the
    one with the most regions (usually the observed one), then by name.

    Totals are given for this level only (a sum over overlapping regions, such as programme regions sharing
    a prefecture, counts the same jobs several times). When every level overlaps, the largest one.
    """
    counts = level_counts(con)
    if not counts:
        raise Missing(_("the atlas has no results yet"), hint=_("Run 'clusteratlas map' first"))
    overlapping = set(overlapping_levels(con))
    disjoint = [level for level in counts if level not in overlapping]
    return (disjoint or list(counts))[0]


def check_level(con: duckdb.DuckDBPyConnection, level: str | None, table: str = "results_regions") -> str:
    """``level`` if the results have it (default: :func:`default_level`), else a clear error."""
    if level is None:
        return default_level(con)
    levels = memoised(("levels", table), lambda: [r[0] for r in con.execute(
        f"SELECT DISTINCT level FROM {table} ORDER BY 1").fetchall()])
    if level not in levels:
        raise InputError(_("unknown region level"), value=level, expected=", ".join(levels),
                         hint=close_matches_hint(level, levels))
    return level
