"""Read any CSV, Parquet or Excel file into one of the atlas's tables.

A column mapping renames the user's columns to the canonical ones of
:mod:`clusteratlas.model`. Every value is checked before anything is
stored; the first problem is raised as an :class:`InputError` naming the
file, line, column and value.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from clusteratlas import model
from clusteratlas._sql import connect, first_row, ident, literal, scalar
from clusteratlas.errors import InputError, did_you_mean
from clusteratlas.i18n import _
from clusteratlas.reference.size_classes import SIZE_CLASS_MIDPOINTS
from clusteratlas.sources import codes
from clusteratlas.sources.files import LINE, READ_ERRORS, open_relation, read_error
from clusteratlas.timings import stage as timed


@dataclass(frozen=True)
class Check:
    """A rule on a staged table: rows where ``bad`` is true break it."""

    column: str
    bad: str
    problem: str
    expected: str | None = None
    #: Optional: the problem and the value to show, from the value found (for long or invisible values).
    explain: Callable[[str], tuple[str, str]] | None = None
    #: The rule looks for NaN or infinity, which a Parquet file's statistics leave out: never tested where
    #: DuckDB may answer from those statistics instead of the rows (see :func:`_first_violation`).
    non_finite: bool = False


#: Code columns of every import kind, with the longest code accepted (see :mod:`clusteratlas.sources.codes`).
CODE_COLUMNS: dict[str, dict[str, int]] = {
    "observations": {"region": codes.CODE_MAX_LENGTH, "industry": codes.CODE_MAX_LENGTH},
    "definitions": {"industry": codes.CODE_MAX_LENGTH, "cluster": codes.NAME_CODE_MAX_LENGTH,
                    "subcluster": codes.NAME_CODE_MAX_LENGTH},
    "regions": {"region": codes.CODE_MAX_LENGTH, "parent": codes.CODE_MAX_LENGTH,
                "level": codes.CODE_MAX_LENGTH, "hierarchy": codes.CODE_MAX_LENGTH},
    "custom-regions": {"region": codes.CODE_MAX_LENGTH, "member": codes.CODE_MAX_LENGTH},
    "industries": {"industry": codes.CODE_MAX_LENGTH, "parent": codes.CODE_MAX_LENGTH,
                   "classification": codes.CODE_MAX_LENGTH},
    "reference-totals": {"industry": codes.CODE_MAX_LENGTH},
    "weights": {"region": codes.CODE_MAX_LENGTH, "neighbor": codes.CODE_MAX_LENGTH},
    "indicators": {"region": codes.CODE_MAX_LENGTH, "indicator": codes.CODE_MAX_LENGTH},
}


def _code_checks(kind: str) -> list[Check]:
    """The code rule on every code column of ``kind`` (values already normalised by the staging view)."""
    def explain(limit: int) -> Callable[[str], tuple[str, str]]:
        return lambda value: (codes.code_problem(value, limit) or _("not a valid code"), codes.shown(value))

    return [Check(name, codes.bad_code_sql(ident(name), limit), _("not a valid code"),
                  _(codes.RULE).format(n=limit), explain(limit))
            for name, limit in CODE_COLUMNS[kind].items()]


def parse_mapping(pairs: list[str] | None) -> dict[str, str]:
    """Turn ``["employment=EMP", ...]`` (canonical=source) into a dict."""
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        canonical, sep, source = pair.partition("=")
        if not sep or not canonical.strip() or not source.strip():
            raise InputError(_("bad column mapping"), value=pair,
                             expected=_("CANONICAL=SOURCE, e.g. employment=EMP"))
        mapping[canonical.strip()] = source.strip()
    return mapping


#: DuckDB types kept as they are when the canonical column is numeric (no round trip through text).
_NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                  "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL")
#: A code already in normal form: printable ASCII, no blank at either end (NFKC and trim leave it as it is).
_PLAIN_CODE = "[!-~]([ -~]*[!-~])?"


def _is_numeric(sql_type: str) -> bool:
    return sql_type.split("(")[0].upper() in _NUMERIC_TYPES


def _plain_codes(rel: duckdb.DuckDBPyRelation, column: str, max_length: int) -> bool:
    """True when every value of a text column is already a code in normal form that the code rule accepts.

    Looks at the distinct values only (codes have few): a typed source's
    plain ASCII codes of an accepted length then need neither a per-row
    normalisation nor the code check.
    """
    with timed("plain codes"):
        found = rel.query("__codes", f"SELECT bool_and(regexp_full_match(v, {literal(_PLAIN_CODE)}) AND "
                                     f"length(v) <= {int(max_length)}) FROM "
                                     f"(SELECT DISTINCT {ident(column)} AS v FROM __codes WHERE v IS NOT NULL)"
                          ).fetchall()[0][0]
    return found is None or bool(found)


def _select_columns(rel: duckdb.DuckDBPyRelation, columns: tuple[model.Column, ...],
                    mapping: Mapping[str, str], label: str, code_columns: Mapping[str, int] | None = None,
                    checked: set[str] | None = None) -> list[str]:
    """SQL select items that rename source columns to canonical names; codes in normal form.

    Values come as text, except a numeric source column for a numeric
    canonical column (Parquet, Arrow), which keeps its type: the checks and
    the typing accept both, and a typed file is not cast to text and back.
    A code column whose distinct values are all plain, accepted codes (or
    numbers) is taken as it is, and its name is added to ``checked``.
    """
    found = {c.lower(): c for c in rel.columns if c != LINE}
    types = dict(zip(rel.columns, (str(t) for t in rel.types), strict=True))
    known = {c.name for c in columns}
    for canonical in mapping:
        if canonical not in known:
            raise InputError(_("the column mapping names an unknown column"), file=label, value=canonical,
                             hint=did_you_mean(canonical, sorted(known)))
    items = []
    for col in columns:
        source = mapping.get(col.name, col.name)
        actual = found.get(source.lower())
        if actual is None:
            if col.required or col.name in mapping:
                raise InputError(
                    _("required column '{name}' is missing").format(name=col.name), file=label, column=source,
                    hint=_("{choices}. Map another column to it with --map {name}=YOUR_COLUMN").format(
                        choices=did_you_mean(source, [c for c in rel.columns if c != LINE]), name=col.name),
                )
            items.append(f"NULL::VARCHAR AS {ident(col.name)}")
            continue
        if col.sql_type != "VARCHAR" and _is_numeric(types[actual]):
            items.append(f"{ident(actual)} AS {ident(col.name)}")
            continue
        text = ident(actual) if types[actual] == "VARCHAR" else f"{ident(actual)}::VARCHAR"
        if col.name in (code_columns or {}):
            limit = (code_columns or {})[col.name]
            if _is_numeric(types[actual]) or (types[actual] == "VARCHAR" and _plain_codes(rel, actual, limit)):
                items.append(f"{text} AS {ident(col.name)}")
                if checked is not None:
                    checked.add(col.name)
                continue
            value = codes.code_sql(text)
        else:
            value = f"trim({text})"
            if col.name == "year":
                value = _year_sql(value)
        items.append(f"NULLIF({value}, '') AS {ident(col.name)}")
    return items


#: A DuckDB function (registered per connection) reading a year as people write it (see dates.parse_year).
YEAR_FUNCTION = "clusteratlas_year"


def year_text(value: str | None) -> str | None:
    """The year of ``平成19年度``, ``H19``, ``2007年``, an Excel date…, as text; None when it is no year."""
    from clusteratlas.dates import parse_year

    try:
        return str(parse_year(value))
    except ValueError:
        return None


def register_year_function(con: duckdb.DuckDBPyConnection) -> None:
    """Make :data:`YEAR_FUNCTION` known to ``con`` (once)."""
    with contextlib.suppress(duckdb.NotImplementedException):  # already registered on this connection
        con.create_function(YEAR_FUNCTION, year_text, [duckdb.sqltype("VARCHAR")], duckdb.sqltype("VARCHAR"),
                            null_handling="special", side_effects=False)


def _year_sql(value: str) -> str:
    """A year column's text with Japanese era and fiscal years (平成19年度 -> 2007) read as years.

    Plain numbers pass untouched (the Python function runs only on the other cells, so a large file of
    numeric years costs nothing more); text that is no year is kept as written, for the checks to report.
    """
    return (f"CASE WHEN {value} IS NULL OR TRY_CAST({value} AS DOUBLE) IS NOT NULL THEN {value} "
            f"ELSE coalesce({YEAR_FUNCTION}({value}), {value}) END")


def _numeric_checks(name: str, *, required: bool, allow_empty_if: str | None = None,
                    limit: model.Limit | None = None) -> list[Check]:
    col = ident(name)
    num = f"TRY_CAST({col} AS DOUBLE)"
    checks = []
    if required:
        cond = f"{col} IS NULL" + (f" AND NOT ({allow_empty_if})" if allow_empty_if else "")
        checks.append(Check(name, cond, _("value is empty"), _("a number")))
    checks += [
        Check(name, f"{col} IS NOT NULL AND {num} IS NULL", _("not a number"), _("a number such as 1234 or 12.5")),
        Check(name, f"isnan({num}) OR isinf({num})", _("not a finite number"), _("a finite number"),
              non_finite=True),
        Check(name, f"{num} < 0", _("negative value"), _("zero or more")),
    ]
    if limit is not None and limit.maximum is not None:
        checks.append(Check(name, f"{num} > {limit.maximum}", _("implausibly large value"),
                            _("at most {maximum:,.0f} {unit} in one cell ({why})").format(
                                maximum=limit.maximum, unit=_(limit.unit), why=_(limit.why))))
    return checks


def _text_required(name: str, hint: str = "") -> Check:
    return Check(name, f"{ident(name)} IS NULL", _("value is empty"), _("a {name} code{hint}").format(
        name=name, hint=_(hint) if hint else ""))


def _year_checks() -> list[Check]:
    num = "TRY_CAST(year AS DOUBLE)"
    return [
        _text_required("year"),
        Check("year", f"year IS NOT NULL AND ({num} IS NULL OR {num} <> floor({num}))", _("not a whole year"),
              _("a year such as 2019, 平成31年, H31 or 2019年度")),
        Check("year", f"{num} < {model.MIN_YEAR} OR {num} > {model.MAX_YEAR}", _("year out of range"),
              _("a year between {MIN_YEAR} and {MAX_YEAR}").format(MIN_YEAR=model.MIN_YEAR, MAX_YEAR=model.MAX_YEAR)),
    ]


def _observation_checks(unit: str | None = None) -> list[Check]:
    """The rules of an observation file; ``unit`` is the declared unit of its employment column (persons)."""
    flags = ", ".join(literal(f) for f in model.FLAGS if f)
    classes = ", ".join(literal(c) for c in SIZE_CLASS_MIDPOINTS)
    withheld = f"coalesce(lower(flag) = {literal(model.FLAG_SUPPRESSED)}, false) OR size_class IS NOT NULL"
    return [
        _text_required("region"),
        _text_required("industry"),
        *_year_checks(),
        *_numeric_checks("employment", required=True, allow_empty_if=withheld,
                         limit=model.cell_limit("employment", unit)),
        *_numeric_checks("establishments", required=False, limit=model.cell_limit("establishments")),
        *_numeric_checks("payroll", required=False, limit=model.cell_limit("payroll")),
        Check("flag", f"flag IS NOT NULL AND lower(flag) NOT IN ({flags})", _("unknown flag"),
              _("empty or one of {value}").format(value=', '.join(f for f in model.FLAGS if f))),
        Check("size_class", f"size_class IS NOT NULL AND upper(size_class) NOT IN ({classes})",
              _("unknown employment size class"), _("one of {value}").format(value=', '.join(SIZE_CLASS_MIDPOINTS))),
    ]


def _definition_checks() -> list[Check]:
    types = ", ".join(literal(t) for t in model.CLUSTER_TYPES)
    return [
        _text_required("industry"),
        _text_required("cluster", " (to leave an industry out of every cluster, leave it out of the file; "
                                  "its employment is then reported as unmapped)"),
        Check("type", f"type IS NOT NULL AND lower(type) NOT IN ({types})", _("unknown cluster type"),
              _("'traded' or 'local'")),
    ]


def _region_checks() -> list[Check]:
    return [
        _text_required("region"),
        Check("parent", "parent = region", _("a region cannot be its own parent"), _("another region's id")),
    ]


def _custom_region_checks() -> list[Check]:
    return [_text_required("region"), _text_required("member"),
            Check("member", "member = region", _("a custom region cannot contain itself"), _("another region's id"))]


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
                           Check("value", "value IS NOT NULL AND TRY_CAST(value AS DOUBLE) IS NULL", _("not a number"),
                                 _("a number")),
                           Check("value", "isnan(TRY_CAST(value AS DOUBLE)) OR isinf(TRY_CAST(value AS DOUBLE))",
                                 _("not a finite number"), _("a finite number"), non_finite=True)],
    "weights": lambda: [_text_required("region"), _text_required("neighbor"),
                        Check("neighbor", "neighbor = region", _("a region cannot be its own neighbour"),
                              _("another region's id")),
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

#: Kinds where a repeated key is harmless if the whole row repeats (it then counts once).
EXACT_REPEATS_OK = {"definitions", "custom-regions", "regions"}


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
                     label: str, code_checks: list[Check] | None = None) -> None:
    """Raise for the first broken check (by check order, then line); ``code_checks`` come first.

    The code checks look at each column's distinct values (few), and the
    rows only when one fails; the other checks share one pass over the rows.
    """
    for check in code_checks or []:
        with timed("codes"):
            broken = scalar(con, f"SELECT count(*) FROM (SELECT DISTINCT {ident(check.column)} FROM {view}) "
                                 f"WHERE coalesce({check.bad}, false)")
        if broken:
            _raise_for(con, view, check, scalar(con, f"SELECT count(*) FROM {view} WHERE coalesce({check.bad}, false)"),
                       label)
    if not checks:
        return
    counts = ", ".join(f"count(*) FILTER (WHERE coalesce({c.bad}, false))" for c in checks)
    with timed("values"):
        # One pass asks whether any row breaks any rule (a quarter of the time of counting each rule); the
        # counts, which name the first broken rule, run only when one does. DuckDB may answer a bool_or from
        # a Parquet file's statistics (no negative value if the minimum is 0), which leave NaN out, so it
        # folds isnan(x) to false: the NaN and infinity rules are counted in a FILTER, which reads the rows.
        folded = " OR ".join(f"coalesce({c.bad}, false)" for c in checks if not c.non_finite) or "false"
        read = " OR ".join(f"coalesce({c.bad}, false)" for c in checks if c.non_finite) or "false"
        broken, non_finite = first_row(con, f"SELECT bool_or({folded}), count(*) FILTER (WHERE {read}) FROM {view}")
        if not broken and not non_finite:
            return
        found = first_row(con, f"SELECT {counts} FROM {view}")
    for check, n in zip(checks, found, strict=True):
        if n:
            _raise_for(con, view, check, n, label)


def _raise_for(con: duckdb.DuckDBPyConnection, view: str, check: Check, n: int, label: str) -> None:
    """Raise the InputError of a broken check: its first line and value, and how many lines break it."""
    # An aggregate FILTER, not a WHERE: DuckDB pushes a WHERE into the Parquet reader, whose statistics
    # leave NaN out, so "WHERE isnan(x)" can skip the very row group that holds the NaN.
    line = scalar(con, f"SELECT min({LINE}) FILTER (WHERE coalesce({check.bad}, false)) FROM {view}")
    value = scalar(con, f"SELECT {ident(check.column)}::VARCHAR FROM {view} WHERE {LINE} = ?", [line])
    more = _(" ({n} more line(s) with the same problem)").format(n=n - 1) if n > 1 else ""
    problem = check.problem
    if check.explain is not None and value is not None:
        problem, value = check.explain(value)
    raise InputError(problem + more, file=label, row=line, column=check.column,
                     value=value, expected=check.expected)


def _duplicate_keys(con: duckdb.DuckDBPyConnection, view: str, kind: str, label: str) -> None:
    key = KEYS[kind]
    cols = ", ".join(f"coalesce({ident(k)}::VARCHAR, '')" for k in key)
    # Blank-padded keys are equal after the trim in the staged view.
    distinct = "count(DISTINCT (" + ", ".join(f"{ident(c)}" for c in _all_names(kind)) + "))"
    allow_exact = kind in EXACT_REPEATS_OK
    if not allow_exact:
        # One pass that keeps only a 64-bit hash of each key (a large file's keys need not fit in memory), as a
        # count of distinct hashes (faster than grouping them); only when two hashes meet are the keys
        # themselves compared, by the query below.
        hashed = f"hash({', '.join(ident(k) for k in key)})"
        if scalar(con, f"SELECT count(*) = count(DISTINCT {hashed}) FROM {view}"):
            return
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
        problem = _("industry {industry} is mapped to more than one cluster (lines {first} and {second})").format(
            industry=values[0], first=lines[0], second=lines[1])
        expected = _("each industry in exactly one cluster and subcluster")
    elif kind == "regions":
        problem = _("region {region} is placed twice in hierarchy '{hierarchy}' (lines {first} and {second})").format(
            region=values[0], hierarchy=values[1] or "default", first=lines[0], second=lines[1])
        expected = _("at most one parent per region in each hierarchy")
    else:
        problem = _("duplicate rows for {shown} (lines {first} and {second}, {n} in all)").format(
            shown=shown, first=lines[0], second=lines[1], n=n)
        expected = _("one row per {columns}").format(columns=", ".join(key))
    raise InputError(problem, file=label, row=lines[1], column=key[-1], expected=expected,
                     hint=_("Remove or merge the repeated rows"))


def _all_names(kind: str) -> list[str]:
    return [c.name for c in model.TABLES[kind]]


def _kind_specific(con: duckdb.DuckDBPyConnection, view: str, kind: str, label: str) -> None:
    if kind == "definitions":
        row = first_row(con,
            f"SELECT cluster, list(DISTINCT coalesce(lower(type), 'traded')), min({LINE}) FROM {view} "
            f"GROUP BY cluster HAVING count(DISTINCT coalesce(lower(type), 'traded')) > 1 LIMIT 1"
        )
        if row:
            raise InputError(_("cluster {value} is given more than one type").format(value=row[0]), file=label,
                             row=row[2],
                             column="type", value=", ".join(sorted(row[1])),
                             expected=_("one type (traded or local) per cluster"))
    if kind == "regions":
        row = first_row(con,
            f"SELECT region, list(DISTINCT coalesce(level, '')), min({LINE}) FROM {view} GROUP BY region "
            f"HAVING count(DISTINCT coalesce(level, '')) > 1 OR count(DISTINCT coalesce(name, '')) > 1 LIMIT 1"
        )
        if row:
            raise InputError(_("region {value} appears with different names or levels").format(value=row[0]),
                             file=label,
                             row=row[2], column="level",
                             expected=_("the same name and level on every line of a region"))


@dataclass
class StagedTable:
    """A validated input: a temp view on the connection with canonical, typed columns.

    ``rows`` counts the file's rows; rows a reader adds that the file implies (line 0: the NUTS ancestors
    of a one-level file) are in the view but not counted, and the reader's notes say how many.
    """

    kind: str
    view: str
    label: str
    rows: int
    notes: list[str] = field(default_factory=list)
    #: Further views a reader found beside the rows, by name: ``region_totals`` (region, year, employment),
    #: a CBP file's total rows (see :func:`clusteratlas.sources.cbp.cbp_totals_view`).
    extras: dict[str, str] = field(default_factory=dict)


#: Readers of official formats: FORMAT -> function(con, raw view, label, **options) -> (view, notes[, extras]).
#: Each yields the canonical observation columns as text, then the ordinary checks run; ``extras`` names
#: further views the file holds (a CBP file's region totals).
def _readers():
    from clusteratlas.sources.cbp import cbp_view
    from clusteratlas.sources.estat import wide_view
    from clusteratlas.sources.eurostat import eurostat_view
    from clusteratlas.sources.qcew import qcew_view
    from clusteratlas.sources.us_regions import us_regions_view

    return {"cbp": cbp_view, "eurostat": eurostat_view, "wide": wide_view, "us-regions": us_regions_view,
            "qcew": qcew_view}


#: Readers that parse a whole file themselves: (FORMAT, kind) -> function(path, **options) -> table.
def _table_readers():
    from clusteratlas.reference.geometry import contiguity
    from clusteratlas.reference.japan import jsic, municipalities
    from clusteratlas.sources.estat import estat_csv, estat_regions
    from clusteratlas.sources.nuts import nuts_regions
    from clusteratlas.sources.us_regions import bea_economic_areas

    return {("jsic", "industries"): jsic, ("estat", "regions"): estat_regions,
            ("bea-ea", "regions"): bea_economic_areas, ("jp-municipalities", "regions"): municipalities,
            ("nuts", "regions"): nuts_regions, ("geojson", "weights"): contiguity,
            ("topojson", "weights"): contiguity, ("shapefile", "weights"): contiguity,
            ("estat-csv", "observations"): estat_csv}


#: What each official format holds (generic holds every kind).
FORMAT_KINDS = {
    "cbp": ("observations",), "qcew": ("observations",), "eurostat": ("observations", "indicators"),
    "wide": ("observations",), "estat": ("observations", "regions"), "estat-csv": ("observations",),
    "jsic": ("industries",), "us-regions": ("regions",), "bea-ea": ("regions",),
    "jp-municipalities": ("regions",), "nuts": ("regions",), "geojson": ("weights",), "topojson": ("weights",),
    "shapefile": ("weights",),
}
FORMATS = ("generic", *FORMAT_KINDS)


def _registered(con: duckdb.DuckDBPyConnection, table: pa.Table, prefix: str, path: Path) -> str:
    if LINE not in table.column_names:
        table = table.append_column(LINE, pa.array(range(2, table.num_rows + 2), pa.int64()))
    view = f"__{prefix}_{abs(hash(str(path))):x}"
    con.register(view, table)
    return view


def stage(con: duckdb.DuckDBPyConnection, path: str | os.PathLike[str], kind: str, *,
          mapping: Mapping[str, str] | None = None, encoding: str | None = None,
          file_format: str = "generic", options: Mapping[str, object] | None = None) -> StagedTable:
    """Open, rename, check and type a file as table ``kind`` of the data model.

    Returns a :class:`StagedTable` whose view has the canonical columns with
    their SQL types plus ``__line``. Raises :class:`InputError` for the first
    problem found; nothing is written anywhere. ``file_format`` names an
    official layout (see ``FORMAT_KINDS``), with ``options`` such as year,
    digits (CBP) or filters (Eurostat). For observations, the option
    ``recode`` (a concordance table: source, target, weight) converts region
    codes, e.g. NUTS 2013 to NUTS 2016 (see :func:`recode_regions`).
    """
    if file_format not in FORMATS:
        raise InputError(_("unknown file format"), value=file_format, expected=", ".join(FORMATS))
    if kind not in model.TABLES:
        raise InputError(_("unknown table kind"), value=kind, expected=", ".join(model.TABLES))
    if file_format != "generic" and kind not in FORMAT_KINDS[file_format]:
        raise InputError(_("the {file_format} format does not hold {kind}").format(file_format=file_format,
                                                                                   kind=kind), value=kind,
                         expected=" or ".join(FORMAT_KINDS[file_format]))
    options = dict(options or {})
    recode = options.pop("recode", None)
    unit = options.pop("unit", None)
    if unit is not None and kind != "observations":
        raise InputError(_("a unit is declared for observations only"), value=kind)
    label = str(path)
    columns = model.TABLES[kind]
    notes: list[str] = []
    extras: dict[str, str] = {}
    codes.register_code_function(con)
    try:
        raw, text_view, n_rows = _read_and_check(con, Path(path), kind, mapping or {}, encoding, file_format,
                                                 options, recode, label, notes, unit, extras)
    except READ_ERRORS as exc:  # DuckDB met a problem while reading the file lazily: name its line
        raise read_error(exc, label, Path(path), encoding or "utf-8") from None
    typed_view = raw + "_typed"
    con.execute(f"CREATE OR REPLACE TEMP VIEW {typed_view} AS SELECT {_typed_select(columns)}, {LINE} "
                f"FROM {text_view}")
    if recode is not None:
        extras.pop("region_totals", None)  # totals of the file's own codes: not carried through a recode
    return StagedTable(kind, typed_view, label, n_rows, notes, extras)


def _read_and_check(con: duckdb.DuckDBPyConnection, path: Path, kind: str, mapping: Mapping[str, str],
                    encoding: str | None, file_format: str, options: dict, recode: pa.Table | None, label: str,
                    notes: list[str], unit: str | None = None, extras: dict[str, str] | None = None,
                    ) -> tuple[str, str, int]:
    """Open the file with its reader, rename, normalise codes and run every check; (raw, text view, rows)."""
    with timed("open file"):
        raw, more = _open_raw(con, path, kind, encoding, file_format, options, label, extras)
    notes.extend(more)
    register_year_function(con)
    checked: set[str] = set()
    items = _select_columns(con.table(raw), model.TABLES[kind], mapping, label, CODE_COLUMNS[kind], checked)
    text_view = raw + "_text"
    con.execute(f"CREATE OR REPLACE TEMP VIEW {text_view} AS SELECT {', '.join(items)}, {LINE} FROM {raw}")
    # rows a reader implies beyond the file (NUTS ancestors, line 0) are stored but are not the file's rows
    with timed("count"):
        n_rows = scalar(con, f"SELECT count(*) FILTER (WHERE {LINE} IS DISTINCT FROM 0) FROM {text_view}")
    if n_rows == 0:
        raise InputError(_("the file has a header but no data rows"), file=label)
    checks = _observation_checks(unit) if kind == "observations" else CHECKS[kind]()
    _first_violation(con, text_view, checks, label, [c for c in _code_checks(kind) if c.column not in checked])
    limit = model.cell_limit("employment", unit)
    if kind == "observations" and unit is not None and limit is not None and limit.maximum is None:
        notes.append(f"{label}: " + _("the employment column holds values in {unit} (declared with --unit): no "
                                      "upper limit per cell").format(unit=limit.unit))
    if recode is not None and kind == "observations":
        with timed("recode"):
            text_view, note = recode_regions(con, text_view, recode, label)
            notes.append(note)
            n_rows = scalar(con, f"SELECT count(*) FROM {text_view}")  # merges and splits change the count
    with timed("duplicates"):
        _duplicate_keys(con, text_view, kind, label)
    with timed("consistency"):
        _kind_specific(con, text_view, kind, label)
    return raw, text_view, n_rows


def _open_raw(con: duckdb.DuckDBPyConnection, path: Path, kind: str, encoding: str | None, file_format: str,
              options: dict, label: str, extras: dict[str, str] | None) -> tuple[str, list[str]]:
    """Open the file with the reader of its format; (the raw view, the reader's notes)."""
    if file_format == "estat" and kind == "observations":
        from clusteratlas.sources.estat import estat_json_view

        raw, more = estat_json_view(con, path, label, **options)
    elif (file_format, kind) in _table_readers():
        if not path.is_file():
            raise InputError(_("file not found"), file=label)
        got = _table_readers()[(file_format, kind)](path, **options)
        table, more = got if isinstance(got, tuple) else (got, [])
        raw = _registered(con, table, file_format.replace("-", "_"), path)
    else:
        raw, more = open_relation(con, path, encoding=encoding), []
        if file_format == "eurostat":
            options["kind"] = kind
        if file_format != "generic":
            raw, more, *found = _readers()[file_format](con, raw, label, **options)
            if found and extras is not None:
                extras.update(found[0])
    return raw, more


def recode_regions(con: duckdb.DuckDBPyConnection, view: str, concordance: pa.Table,
                   label: str) -> tuple[str, str]:
    """Convert the region codes of checked observations through a concordance (source, target, weight).

    Regions the concordance does not list keep their code (version tables
    list only what changed). A region split among several targets must give
    weights that add up to 1 per source; its numbers are shared out by them
    and flagged ``estimated``. Several sources merging into one target are
    added up; a merged cell with a withheld part stays withheld (no size
    class); the sources' own flag letters are kept, merged. Numeric codes
    match without leading zeros (``1100`` = ``01100``) and keep the width the
    file uses.
    """
    table = f"__recode_{view}"
    concordance = _normal_concordance(concordance)
    con.register(table + "_raw", concordance)
    key = "CASE WHEN regexp_full_match({0}, '[0-9]+') THEN ltrim({0}, '0') ELSE {0} END"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {table} AS
        SELECT {key.format('trim(source)')} AS k, trim(source) AS source, trim(target) AS target,
               weight FROM {table}_raw""")
    bad = first_row(con, f"SELECT source, count(*), sum(weight) FROM {table} GROUP BY source "
                         "HAVING count(*) > 1 AND abs(sum(weight) - 1) > 1e-6 ORDER BY source LIMIT 1")
    if bad:
        raise InputError(_("region {value} is split among {value2} targets but its weights add up to "
                           "{value3:g}").format(value=bad[0], value2=bad[1], value3=bad[2]),
                         file=label, expected=_("shares that add up to 1 for each split region"),
                         hint=_("Give the concordance a weight column (e.g. population shares)"))
    num = "TRY_CAST({} AS DOUBLE)"
    w = "coalesce(c.weight, 1.0)"
    width = ("CASE WHEN regexp_full_match(c.target, '[0-9]+') THEN "
             "lpad(c.target, greatest(length(o.region), length(c.target))::INTEGER, '0') "
             "ELSE c.target END")
    out = view + "_recoded"
    con.execute(f"""CREATE OR REPLACE TEMP VIEW {out} AS
        SELECT coalesce({width}, o.region) AS region, o.industry, o.year,
               CASE WHEN bool_or(o.employment IS NULL) THEN NULL
                    ELSE sum({num.format('o.employment')} * {w})::VARCHAR END AS employment,
               sum({num.format('o.establishments')} * {w})::VARCHAR AS establishments,
               sum({num.format('o.payroll')} * {w})::VARCHAR AS payroll,
               CASE WHEN bool_or(o.employment IS NULL) THEN 'suppressed'
                    WHEN bool_or({w} < 1) OR bool_or(lower(coalesce(o.flag, '')) IN ('estimated', 'imputed'))
                    THEN 'estimated' ELSE '' END AS flag,
               CASE WHEN count(*) = 1 AND bool_and({w} = 1) THEN any_value(o.size_class) END AS size_class,
               nullif(array_to_string(list_sort(list_distinct(flatten(list(string_split(
                   coalesce(o.source_flag, ''), ''))))), ''), '') AS source_flag,
               min(o.{LINE}) AS {LINE}
        FROM {view} o LEFT JOIN {table} c ON c.k = {key.format('o.region')}
        GROUP BY ALL""")
    changed, merged, split = con.execute(f"""SELECT count(DISTINCT o.region) FILTER (WHERE c.target IS NOT NULL
            AND c.target <> o.region), count(DISTINCT c.target) FILTER (WHERE c.source IN
            (SELECT source FROM {table}) AND c.target IN (SELECT target FROM {table} GROUP BY target
            HAVING count(*) > 1)), count(DISTINCT o.region) FILTER (WHERE c.weight < 1)
        FROM (SELECT DISTINCT region FROM {view}) o LEFT JOIN {table} c ON c.k = {key.format('o.region')}""") \
        .fetchall()[0]
    return out, (f"{label}: {changed:,} region code(s) converted through the concordance "
                 f"({merged:,} merged target(s), {split:,} split region(s) shared out by weight)")


def read_table(path: str | os.PathLike[str], kind: str, *, mapping: Mapping[str, str] | None = None,
               encoding: str | None = None):
    """Read and validate a file as table ``kind``; return it as a pyarrow Table."""
    con = connect()
    staged = stage(con, Path(path), kind, mapping=mapping, encoding=encoding)
    return con.sql(f"SELECT * EXCLUDE ({LINE}) FROM {staged.view}").to_arrow_table()


def _normal_concordance(concordance: pa.Table) -> pa.Table:
    """The concordance with its source and target codes in normal form; refused where the code rule fails."""
    for name in ("source", "target"):
        if name not in concordance.column_names:
            continue
        values = codes.normalise_codes(concordance[name].cast(pa.string()))
        for number, value in enumerate(values.to_pylist(), start=2):
            problem = codes.code_problem(value) if value is not None else None
            if problem:
                raise InputError(problem, file="the --recode concordance", row=number, column=name,
                                 value=codes.shown(value), expected=_(codes.RULE).format(n=codes.CODE_MAX_LENGTH))
        concordance = concordance.set_column(concordance.column_names.index(name), name, values)
    return concordance
