"""Read any CSV, Parquet or Excel file into one of the atlas's tables.

A column mapping renames the user's columns to the canonical ones of
:mod:`clusteratlas.model`. Every value is checked before anything is
stored; the first problem is raised as an :class:`InputError` naming the
file, line, column and value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from clusteratlas import model
from clusteratlas._sql import connect, first_row, ident, literal, scalar
from clusteratlas.errors import InputError, did_you_mean
from clusteratlas.reference.size_classes import SIZE_CLASS_MIDPOINTS
from clusteratlas.sources.files import LINE, open_relation


@dataclass(frozen=True)
class Check:
    """A rule on a staged table: rows where ``bad`` is true break it."""

    column: str
    bad: str
    problem: str
    expected: str | None = None


def parse_mapping(pairs: list[str] | None) -> dict[str, str]:
    """Turn ``["employment=EMP", ...]`` (canonical=source) into a dict."""
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        canonical, sep, source = pair.partition("=")
        if not sep or not canonical.strip() or not source.strip():
            raise InputError("bad column mapping", value=pair,
                             expected="CANONICAL=SOURCE, e.g. employment=EMP")
        mapping[canonical.strip()] = source.strip()
    return mapping


def _select_columns(rel: duckdb.DuckDBPyRelation, columns: tuple[model.Column, ...],
                    mapping: Mapping[str, str], label: str) -> list[str]:
    """SQL select items that rename source columns to canonical names (text)."""
    found = {c.lower(): c for c in rel.columns if c != LINE}
    known = {c.name for c in columns}
    for canonical in mapping:
        if canonical not in known:
            raise InputError("the column mapping names an unknown column", file=label, value=canonical,
                             hint=did_you_mean(canonical, sorted(known)))
    items = []
    for col in columns:
        source = mapping.get(col.name, col.name)
        actual = found.get(source.lower())
        if actual is None:
            if col.required or col.name in mapping:
                raise InputError(
                    f"required column '{col.name}' is missing", file=label, column=source,
                    hint=did_you_mean(source, [c for c in rel.columns if c != LINE])
                    + f". Map another column to it with --map {col.name}=YOUR_COLUMN",
                )
            items.append(f"NULL::VARCHAR AS {ident(col.name)}")
        else:
            items.append(f"NULLIF(trim({ident(actual)}::VARCHAR), '') AS {ident(col.name)}")
    return items


def _numeric_checks(name: str, *, required: bool, allow_empty_if: str | None = None,
                    maximum: float | None = None) -> list[Check]:
    col = ident(name)
    num = f"TRY_CAST({col} AS DOUBLE)"
    checks = []
    if required:
        cond = f"{col} IS NULL" + (f" AND NOT ({allow_empty_if})" if allow_empty_if else "")
        checks.append(Check(name, cond, "value is empty", "a number"))
    checks += [
        Check(name, f"{col} IS NOT NULL AND {num} IS NULL", "not a number", "a number such as 1234 or 12.5"),
        Check(name, f"isnan({num}) OR isinf({num})", "not a finite number", "a finite number"),
        Check(name, f"{num} < 0", "negative value", "zero or more"),
    ]
    if maximum is not None:
        checks.append(Check(name, f"{num} > {maximum}", "implausibly large value",
                            f"at most {maximum:,.0f} for one cell"))
    return checks


def _text_required(name: str, hint: str = "") -> Check:
    return Check(name, f"{ident(name)} IS NULL", "value is empty", f"a {name} code{hint}")


def _year_checks() -> list[Check]:
    num = "TRY_CAST(year AS DOUBLE)"
    return [
        _text_required("year"),
        Check("year", f"year IS NOT NULL AND ({num} IS NULL OR {num} <> floor({num}))", "not a whole year",
              "a year such as 2019"),
        Check("year", f"{num} < {model.MIN_YEAR} OR {num} > {model.MAX_YEAR}", "year out of range",
              f"a year between {model.MIN_YEAR} and {model.MAX_YEAR}"),
    ]


def _observation_checks() -> list[Check]:
    flags = ", ".join(literal(f) for f in model.FLAGS if f)
    classes = ", ".join(literal(c) for c in SIZE_CLASS_MIDPOINTS)
    withheld = f"coalesce(lower(flag) = {literal(model.FLAG_SUPPRESSED)}, false) OR size_class IS NOT NULL"
    return [
        _text_required("region"),
        _text_required("industry"),
        *_year_checks(),
        *_numeric_checks("employment", required=True, allow_empty_if=withheld,
                         maximum=model.MAX_CELL_EMPLOYMENT),
        *_numeric_checks("establishments", required=False, maximum=model.MAX_CELL_EMPLOYMENT),
        *_numeric_checks("payroll", required=False),
        Check("flag", f"flag IS NOT NULL AND lower(flag) NOT IN ({flags})", "unknown flag",
              f"empty or one of {', '.join(f for f in model.FLAGS if f)}"),
        Check("size_class", f"size_class IS NOT NULL AND upper(size_class) NOT IN ({classes})",
              "unknown employment size class", f"one of {', '.join(SIZE_CLASS_MIDPOINTS)}"),
    ]


def _definition_checks() -> list[Check]:
    types = ", ".join(literal(t) for t in model.CLUSTER_TYPES)
    return [
        _text_required("industry"),
        _text_required("cluster", " (to leave an industry out of every cluster, leave it out of the file; "
                                  "its employment is then reported as unmapped)"),
        Check("type", f"type IS NOT NULL AND lower(type) NOT IN ({types})", "unknown cluster type",
              "'traded' or 'local'"),
    ]


def _region_checks() -> list[Check]:
    return [
        _text_required("region"),
        Check("parent", "parent = region", "a region cannot be its own parent", "another region's id"),
    ]


def _custom_region_checks() -> list[Check]:
    return [_text_required("region"), _text_required("member"),
            Check("member", "member = region", "a custom region cannot contain itself", "another region's id")]


def _reference_checks() -> list[Check]:
    return [_text_required("industry"), *_year_checks(),
            *_numeric_checks("employment", required=True)]


CHECKS = {
    "observations": _observation_checks,
    "definitions": _definition_checks,
    "regions": _region_checks,
    "custom-regions": _custom_region_checks,
    "reference-totals": _reference_checks,
    "industries": lambda: [_text_required("industry")],
    "indicators": lambda: [_text_required("region"), *_year_checks(), _text_required("value"),
                           Check("value", "value IS NOT NULL AND TRY_CAST(value AS DOUBLE) IS NULL", "not a number",
                                 "a number"),
                           Check("value", "isnan(TRY_CAST(value AS DOUBLE)) OR isinf(TRY_CAST(value AS DOUBLE))",
                                 "not a finite number", "a finite number")],
    "weights": lambda: [_text_required("region"), _text_required("neighbor"),
                        Check("neighbor", "neighbor = region", "a region cannot be its own neighbour",
                              "another region's id"),
                        *_numeric_checks("weight", required=False)],
}

#: Columns that identify a row: two rows with the same key are an error.
KEYS = {
    "observations": ("region", "industry", "year"),
    "reference-totals": ("industry", "year"),
    "definitions": ("industry",),
    "regions": ("region", "hierarchy"),
    "custom-regions": ("region", "member"),
    "industries": ("industry",),
    "weights": ("region", "neighbor"),
    "indicators": ("indicator", "region", "year"),
}

#: Key columns where a repeated key is harmless if the whole row repeats.
_EXACT_REPEATS_OK = {"definitions", "custom-regions", "regions"}


def _typed_select(columns: tuple[model.Column, ...]) -> str:
    items = []
    for col in columns:
        if col.sql_type == "VARCHAR":
            expr = ident(col.name)
            if col.name in ("flag",):
                expr = f"coalesce(lower({expr}), '')"
            elif col.name in ("type",):
                expr = f"coalesce(lower({expr}), 'traded')"
            elif col.name == "size_class":
                expr = f"upper({expr})"
            elif col.name == "hierarchy":
                expr = f"coalesce({expr}, 'default')"
        else:
            expr = f"CAST({ident(col.name)} AS {col.sql_type})"
        items.append(f"{expr} AS {ident(col.name)}")
    return ", ".join(items)


def _first_violation(con: duckdb.DuckDBPyConnection, view: str, checks: list[Check],
                     label: str) -> None:
    """Raise for the first broken check (by check order, then line)."""
    if not checks:
        return
    counts = ", ".join(f"count(*) FILTER (WHERE coalesce({c.bad}, false))" for c in checks)
    found = first_row(con, f"SELECT {counts} FROM {view}")
    for check, n in zip(checks, found, strict=True):
        if n:
            line, value = first_row(con,
                f"SELECT {LINE}, {ident(check.column)}::VARCHAR FROM {view} "
                f"WHERE coalesce({check.bad}, false) ORDER BY {LINE} LIMIT 1"
            )
            more = f" ({n - 1} more line(s) with the same problem)" if n > 1 else ""
            raise InputError(check.problem + more, file=label, row=line, column=check.column,
                             value=value, expected=check.expected)


def _duplicate_keys(con: duckdb.DuckDBPyConnection, view: str, kind: str, label: str) -> None:
    key = KEYS[kind]
    cols = ", ".join(f"coalesce({ident(k)}, '')" for k in key)
    # Blank-padded keys are equal after the trim in the staged view.
    distinct = "count(DISTINCT (" + ", ".join(f"{ident(c)}" for c in _all_names(kind)) + "))"
    allow_exact = kind in _EXACT_REPEATS_OK
    having = f"{distinct} > 1" if allow_exact else "count(*) > 1"
    row = first_row(con,
        f"SELECT {cols}, list({LINE} ORDER BY {LINE})[1:2], count(*) FROM {view} "
        f"GROUP BY {cols} HAVING {having} ORDER BY min({LINE}) LIMIT 1"
    )
    if row is None:
        return
    *values, lines, n = row
    shown = ", ".join(f"{k}={v}" for k, v in zip(key, values, strict=True))
    if kind == "definitions":
        problem = f"industry {values[0]} is mapped to more than one cluster (lines {lines[0]} and {lines[1]})"
        expected = "each industry in exactly one cluster and subcluster"
    elif kind == "regions":
        problem = (f"region {values[0]} is placed twice in hierarchy '{values[1] or 'default'}' "
                   f"(lines {lines[0]} and {lines[1]})")
        expected = "at most one parent per region in each hierarchy"
    else:
        problem = f"duplicate rows for {shown} (lines {lines[0]} and {lines[1]}, {n} in all)"
        expected = f"one row per {', '.join(key)}"
    raise InputError(problem, file=label, row=lines[1], column=key[-1], expected=expected,
                     hint="Remove or merge the repeated rows")


def _all_names(kind: str) -> list[str]:
    return [c.name for c in model.TABLES[kind]]


def _kind_specific(con: duckdb.DuckDBPyConnection, view: str, kind: str, label: str) -> None:
    if kind == "definitions":
        row = first_row(con,
            f"SELECT cluster, list(DISTINCT coalesce(lower(type), 'traded')), min({LINE}) FROM {view} "
            f"GROUP BY cluster HAVING count(DISTINCT coalesce(lower(type), 'traded')) > 1 LIMIT 1"
        )
        if row:
            raise InputError(f"cluster {row[0]} is given more than one type", file=label, row=row[2],
                             column="type", value=", ".join(sorted(row[1])),
                             expected="one type (traded or local) per cluster")
    if kind == "regions":
        row = first_row(con,
            f"SELECT region, list(DISTINCT coalesce(level, '')), min({LINE}) FROM {view} GROUP BY region "
            f"HAVING count(DISTINCT coalesce(level, '')) > 1 OR count(DISTINCT coalesce(name, '')) > 1 LIMIT 1"
        )
        if row:
            raise InputError(f"region {row[0]} appears with different names or levels", file=label,
                             row=row[2], column="level",
                             expected="the same name and level on every line of a region")


@dataclass
class StagedTable:
    """A validated input: a temp view on the connection with canonical, typed columns."""

    kind: str
    view: str
    label: str
    rows: int
    notes: list[str] = field(default_factory=list)


#: Readers of official formats: FORMAT -> function(con, raw view, label, **options) -> (view, notes).
#: Each yields the canonical observation columns as text, then the ordinary checks run.
def _readers():
    from clusteratlas.sources.cbp import cbp_view
    from clusteratlas.sources.estat import wide_view
    from clusteratlas.sources.eurostat import eurostat_view
    from clusteratlas.sources.us_regions import us_regions_view

    return {"cbp": cbp_view, "eurostat": eurostat_view, "wide": wide_view, "us-regions": us_regions_view}


FORMATS = ("generic", "cbp", "eurostat", "estat", "wide", "jsic", "us-regions")


def _estat_view(con: duckdb.DuckDBPyConnection, path: Path, kind: str, label: str,
                options: Mapping[str, object]) -> tuple[str, list[str]]:
    """e-Stat JSON: observations from the values, or regions from the area class."""
    from clusteratlas.sources.estat import estat_json_view, estat_regions

    if kind == "regions":
        table = estat_regions(path)
        table = table.append_column(LINE, pa.array(range(1, table.num_rows + 1), pa.int64()))
        view = f"__estat_regions_{abs(hash(str(path))):x}"
        con.register(view, table)
        return view, []
    return estat_json_view(con, path, label, **options)


def stage(con: duckdb.DuckDBPyConnection, path: str | os.PathLike[str], kind: str, *,
          mapping: Mapping[str, str] | None = None, encoding: str | None = None,
          file_format: str = "generic", options: Mapping[str, object] | None = None) -> StagedTable:
    """Open, rename, check and type a file as table ``kind`` of the data model.

    Returns a :class:`StagedTable` whose view has the canonical columns with
    their SQL types plus ``__line``. Raises :class:`InputError` for the first
    problem found; nothing is written anywhere. ``file_format`` 'cbp' or
    'eurostat' reads an official layout (observations only), with
    ``options`` such as year, digits (CBP) or filters (Eurostat).
    """
    if file_format not in FORMATS:
        raise InputError("unknown file format", value=file_format, expected=", ".join(FORMATS))
    allowed = {("estat", "regions"), ("jsic", "industries"), ("us-regions", "regions")}
    region_or_list = file_format in ("jsic", "us-regions")
    if file_format != "generic" and (kind != "observations" or region_or_list) and \
            (file_format, kind) not in allowed:
        raise InputError(f"the {file_format} format does not hold {kind}", value=kind)
    if kind not in model.TABLES:
        raise InputError("unknown table kind", value=kind, expected=", ".join(model.TABLES))
    label = str(path)
    columns = model.TABLES[kind]
    notes: list[str] = []
    if file_format == "estat":
        raw, notes = _estat_view(con, Path(path), kind, label, options or {})
    elif file_format == "jsic":
        from clusteratlas.reference.japan import jsic

        table = jsic(path)
        raw = f"__jsic_{abs(hash(str(path))):x}"
        con.register(raw, table.append_column(LINE, pa.array(range(2, table.num_rows + 2), pa.int64())))
    else:
        raw = open_relation(con, path, encoding=encoding)
        if file_format != "generic":
            raw, notes = _readers()[file_format](con, raw, label, **(options or {}))
    items = _select_columns(con.table(raw), columns, mapping or {}, label)
    text_view = raw + "_text"
    con.execute(f"CREATE OR REPLACE TEMP VIEW {text_view} AS SELECT {', '.join(items)}, {LINE} FROM {raw}")
    try:
        n_rows = scalar(con, f"SELECT count(*) FROM {text_view}")
    except duckdb.Error as exc:
        raise InputError(f"cannot read the file: {str(exc).strip().splitlines()[0]}", file=label) from None
    if n_rows == 0:
        raise InputError("the file has a header but no data rows", file=label)
    _first_violation(con, text_view, CHECKS[kind](), label)
    _duplicate_keys(con, text_view, kind, label)
    _kind_specific(con, text_view, kind, label)
    typed_view = raw + "_typed"
    con.execute(f"CREATE OR REPLACE TEMP VIEW {typed_view} AS SELECT {_typed_select(columns)}, {LINE} "
                f"FROM {text_view}")
    return StagedTable(kind, typed_view, label, n_rows, notes)


def read_table(path: str | os.PathLike[str], kind: str, *, mapping: Mapping[str, str] | None = None,
               encoding: str | None = None):
    """Read and validate a file as table ``kind``; return it as a pyarrow Table."""
    con = connect()
    staged = stage(con, Path(path), kind, mapping=mapping, encoding=encoding)
    return con.sql(f"SELECT * EXCLUDE ({LINE}) FROM {staged.view}").to_arrow_table()
