"""Relatedness, complexity, concentration and shift-share runs on an atlas.

Reads region × cluster (from the stored map results) or region × industry
(from the observations, withheld cells imputed) employment for one level
and year, runs :mod:`clusteratlas.relate`, and stores long tables:

- ``relate_regions``: one row per region (diversity, ECI, COI, HHI, Krugman, entropy);
- ``relate_items``: one row per cluster or industry (ubiquity, PCI, Hoover,
  locational Gini, HHI, Ellison–Glaeser γ where establishments exist);
- ``relate_cells``: one row per region × item (RCA, presence, density, COG);
- ``relate_pairs``: item pairs (proximity, co-location correlation, co-agglomeration),
  the ``top`` most related partners of each item;
- ``shift_share``: one row per region × item for two years (see relate.shiftshare).

A value that is undefined (NaN in :mod:`clusteratlas.relate`) is stored as
NULL, and the row's ``reason`` says why (docs/methods.md, "Degenerate input").
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from clusteratlas._sql import plain_connect
from clusteratlas.errors import InputError
from clusteratlas.i18n import _
from clusteratlas.relate import (
    Matrix,
    coagglomeration,
    colocation_correlation,
    eci_pci,
    ellison_glaeser,
    entries_exits,
    entropy,
    get_convention,
    getis_ord_star,
    herfindahl,
    hoover,
    krugman,
    local_moran,
    locational_gini,
    moran,
    outlook,
    plant_herfindahl_from_counts,
    presence,
    proximity,
    rca,
    shares,
    shift_share,
    to_matrix,
)
from clusteratlas.relate.concentration import NO_EMPLOYMENT, ONE_REGION
from clusteratlas.relate.spatial import FIRST, NO_VARIATION, needed_permutations, power_note

BY = ("cluster", "industry")


@dataclass
class RelateSummary:
    """What a relate run stored."""

    by: str
    level: str
    year: int
    regions: int
    items: int
    pairs: int
    #: The complexity convention (relate.CONVENTIONS) and why ECI/PCI are undefined throughout ('' if defined).
    convention: str = "atlas"
    complexity_reason: str = ""
    components: int = 1


def _long_data(con: duckdb.DuckDBPyConnection, by: str, level: str | None, years: list[int]
               ) -> tuple[pa.Table, str]:
    """region, item, year, employment, establishments for the given years."""
    if by not in BY:
        raise InputError(_("unknown breakdown"), value=by, expected=_("cluster or industry"))
    marks = ", ".join("?" for _ in years)
    if by == "cluster":
        _require_cluster_results(con)
        if level is None:
            level = con.execute("SELECT level FROM results_clusters GROUP BY level "
                                "ORDER BY count(DISTINCT region) DESC, level LIMIT 1").fetchall()[0][0]
        sql = (f"SELECT region, cluster AS item, year, employment, coalesce(establishments, 0) AS establishments "
               f"FROM results_clusters WHERE level = ? AND year IN ({marks})")
        table = con.sql(sql, params=[level, *years]).to_arrow_table()
    else:
        _require_observations(con)
        sql = (f"SELECT o.region, o.industry AS item, o.year, coalesce(o.employment, "
               f"CASE upper(o.size_class) {_size_case()} ELSE 0 END) AS employment, "
               f"coalesce(o.establishments, 0) AS establishments, coalesce(r.level, 'region') AS level "
               f"FROM observations o LEFT JOIN regions r USING (region) WHERE o.year IN ({marks})")
        table = con.sql(sql, params=list(years)).to_arrow_table()
        levels = sorted(set(table["level"].to_pylist()))
        if not levels:  # observations exist, but none in these years
            found = [r[0] for r in con.execute("SELECT DISTINCT year FROM observations ORDER BY 1").fetchall()]
            raise InputError(_("no observations for this year"), value=", ".join(map(str, years)),
                             expected=", ".join(map(str, found)))
        level = level or (levels[0] if len(levels) == 1 else None)
        if level is None:
            raise InputError(_("the observations have several region levels"), value=", ".join(levels),
                             hint=_("Choose one with --level"))
        mask = pa.compute.equal(table["level"], level)
        table = table.filter(mask).drop_columns(["level"])
    if table.num_rows == 0:
        raise InputError(_("no data for this level and year"), value=f"{level}, {years}")
    return table, level


def _require_observations(con: duckdb.DuckDBPyConnection) -> None:
    """Refuse to analyse an atlas without observations (e.g. after an import that failed, stored nothing)."""
    if not con.execute("SELECT 1 FROM observations LIMIT 1").fetchall():
        raise InputError(_("the atlas has no observations"),
                         hint=_("Import some with 'clusteratlas import observations FILE' (a failed import stores "
                              "nothing)"))


def _require_cluster_results(con: duckdb.DuckDBPyConnection) -> None:
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if "results_clusters" not in tables:
        raise InputError(_("the atlas has no cluster results yet"), hint=_("Run 'clusteratlas map' first"))


def _column(values: object, n: int) -> pa.Array:
    """An Arrow column: NaN becomes NULL (undefined, not a number), '' reasons NULL; scalars repeated."""
    if isinstance(values, pa.Array):
        return values
    if not isinstance(values, np.ndarray):
        return pa.array([values] * n)
    if values.dtype == object:
        return pa.array([v or None for v in values], type=pa.string())
    if values.dtype.kind == "f":
        return pa.array(values, from_pandas=True)
    return pa.array(values)


def _table(columns: dict[str, object]) -> pa.Table:
    """A table from arrays and scalars; scalars are repeated to the arrays' length."""
    n = max(len(v) for v in columns.values() if isinstance(v, np.ndarray))
    return pa.table({k: _column(v, n) for k, v in columns.items()})


def _join_reasons(*parts: tuple[np.ndarray, str]) -> np.ndarray:
    """Per row, the reasons (``text`` where ``mask``) joined with '; ' ('' where none applies)."""
    n = len(parts[0][0])
    out = np.full(n, "", dtype=object)
    for mask, text in parts:
        out[mask] = [f"{r}; {text}" if r else text for r in out[mask]]
    return out


def _size_case() -> str:
    from clusteratlas.reference.size_classes import SIZE_CLASS_MIDPOINTS

    return " ".join(f"WHEN '{k}' THEN {v}" for k, v in SIZE_CLASS_MIDPOINTS.items())


def _aligned(table: pa.Table, year: int, regions: np.ndarray | None = None, items: np.ndarray | None = None,
             column: str = "employment") -> Matrix:
    sub = table.filter(pa.compute.equal(table["year"], year))
    mat = to_matrix(sub, industry="item", value=column)
    if regions is None:
        return mat
    out = np.zeros((len(regions), len(items)))
    r_pos = np.searchsorted(regions, mat.regions)
    i_pos = np.searchsorted(items, mat.industries)
    out[np.ix_(r_pos, i_pos)] = mat.values
    return Matrix(out, regions, items)


def run_relate(con: duckdb.DuckDBPyConnection, *, by: str = "cluster", year: int | None = None,
               level: str | None = None, top: int = 20, since: int | None = None,
               convention: str = "atlas") -> RelateSummary:
    """Compute every relatedness/complexity/concentration measure for one year and store it.

    With ``since`` (an earlier year), each cell also says whether the region
    gained (``entered``) or lost (``exited``) the specialisation since then.
    ``convention`` settles density, COI and the ECI scale as a peer package
    does (:data:`clusteratlas.relate.CONVENTIONS`); it is stored with the run.
    """
    conv = get_convention(convention)
    if by == "cluster":
        _require_cluster_results(con)
    else:
        _require_observations(con)
    if year is None:
        source = "results_clusters" if by == "cluster" else "observations"
        year = con.execute(f"SELECT max(year) FROM {source}").fetchall()[0][0]
        if year is None:
            raise InputError(_("no data to relate"), hint=_("Run 'clusteratlas map' first"))
    table, level = _long_data(con, by, level, [year])
    emp = _aligned(table, year)
    if emp.values.shape[0] < 2 or emp.values.shape[1] < 2:
        raise InputError(_("relatedness needs at least two regions and two items"), value=emp.values.shape)
    values = emp.values
    r = rca(values)
    m = presence(r, strict=conv.strict_presence)
    phi = proximity(m)
    cx = eci_pci(m, convention=conv)
    omega, coi, cog = outlook(m, cx, phi, convention=conv)
    groups = _groups(con, by, emp.industries)
    ent = entropy(values, groups)
    est = _aligned(table, year, emp.regions, emp.industries, "establishments").values.sum(axis=0)
    gamma = np.full(values.shape[1], np.nan)
    usable = est > 1
    if usable.any():
        gamma[usable] = ellison_glaeser(values[:, usable], plant_herfindahl_from_counts(est[usable]))
    region_total, item_total = values.sum(axis=1), values.sum(axis=0)
    regions = _table({
        "region": emp.regions, "level": level, "year": year, "diversity": cx.diversity, "eci": cx.eci,
        "coi": coi, "hhi": herfindahl(values), "krugman": krugman(values), **ent, "convention": conv.name,
        "reason": _join_reasons((region_total == 0, f"{NO_EMPLOYMENT}: every index undefined"),
                                ((region_total > 0) & (cx.diversity == 0), "no specialisation: ECI undefined"),
                                ((cx.diversity > 0) & bool(cx.reason), f"ECI and COI {cx.reason}")),
    })
    items = _table({
        "item": emp.industries, "breakdown": by, "year": year, "ubiquity": cx.ubiquity, "pci": cx.pci,
        "hoover": hoover(values), "locational_gini": locational_gini(values), "hhi": herfindahl(values, axis=0),
        "ellison_glaeser": gamma, "convention": conv.name,
        "reason": _join_reasons((item_total == 0, f"{NO_EMPLOYMENT}: every index undefined"),
                                ((cx.ubiquity > 0) & bool(cx.reason), f"PCI and COG {cx.reason}"),
                                ((item_total > 0) & (cx.ubiquity == 0),
                                 "no region specialised: PCI, density and COG undefined"),
                                ((item_total > 0) & ~usable, "fewer than two establishments: γ undefined"),
                                (np.isnan(gamma) & usable & (item_total > 0), f"{ONE_REGION}: γ undefined")),
    })
    n_r, n_i = values.shape
    cells = _table({
        "region": np.repeat(emp.regions, n_i), "item": np.tile(emp.industries, n_r), "year": year,
        "employment": values.ravel(), "rca": r.ravel(), "presence": m.ravel().astype(bool),
        "density": omega.ravel(), "cog": cog.ravel(),
    })
    if since is not None:
        if since >= year:
            raise InputError(_("--since must be a year before the one related"), value=since)
        before_table, _before = _long_data(con, by, level, [since])
        before = presence(rca(_aligned(before_table, since, emp.regions, emp.industries).values),
                          strict=conv.strict_presence)
        entered, exited = entries_exits(before, m)
        cells = cells.append_column("since", pa.array([since] * cells.num_rows))
        cells = cells.append_column("entered", pa.array(entered.ravel().astype(bool)))
        cells = cells.append_column("exited", pa.array(exited.ravel().astype(bool)))
    pairs = _top_pairs(emp.industries, phi, colocation_correlation(values), coagglomeration(values), top, year)
    _store(con, {"relate_regions": regions, "relate_items": items, "relate_cells": cells, "relate_pairs": pairs},
           keys={"breakdown": by, "level": level, "year": year})
    return RelateSummary(by, level, year, n_r, n_i, pairs.num_rows, conv.name, cx.reason, cx.components)


def _groups(con: duckdb.DuckDBPyConnection, by: str, items: np.ndarray) -> np.ndarray | None:
    """Groups for related variety: the cluster of each industry (or none for clusters)."""
    if by == "cluster":
        return None
    rows = dict(con.execute("SELECT industry, any_value(cluster) FROM definitions GROUP BY industry").fetchall())
    return np.array([rows.get(i) or f"unclustered:{i[:2]}" for i in items])


def _top_pairs(items: np.ndarray, phi: np.ndarray, colocation: np.ndarray, coagg: np.ndarray, top: int,
               year: int) -> pa.Table:
    n = len(items)
    k = min(top, n - 1)
    scores = phi.copy()
    np.fill_diagonal(scores, -np.inf)
    partners = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    a = np.repeat(np.arange(n), k)
    b = partners.ravel()
    return _table({
        "item": items[a], "related": items[b], "rank": np.tile(np.arange(1, k + 1), n), "year": year,
        "proximity": phi[a, b], "colocation": colocation[a, b], "coagglomeration": coagg[a, b],
    })


def _store(con: duckdb.DuckDBPyConnection, tables: dict[str, pa.Table], keys: dict[str, object]) -> None:
    """Replace the rows of this run (same breakdown, level and year) in each table, in one transaction."""
    con.execute("BEGIN TRANSACTION")
    try:
        for name, table in tables.items():
            for key, value in keys.items():
                if key not in table.column_names:
                    table = table.append_column(key, pa.array([value] * table.num_rows))
            con.register("__incoming", table)
            existing = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
            if name not in existing:
                con.execute(f"CREATE TABLE {name} AS SELECT * FROM __incoming LIMIT 0")
            else:  # an atlas written before a column (e.g. ``reason``) existed: add it, NULL for old rows
                have = {r[0] for r in con.execute(f"SELECT column_name FROM duckdb_columns() "
                                                  f"WHERE table_name = '{name}'").fetchall()}
                for column in con.table("__incoming").columns:
                    if column not in have:
                        kind = con.table("__incoming").select(f'"{column}"').types[0]
                        con.execute(f'ALTER TABLE {name} ADD COLUMN "{column}" {kind}')
            where = " AND ".join(f'"{k}" = ?' for k in keys)
            con.execute(f"DELETE FROM {name} WHERE {where}", list(keys.values()))
            con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM __incoming")
            con.unregister("__incoming")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def run_shift_share(con: duckdb.DuckDBPyConnection, start: int, end: int, *, by: str = "cluster",
                    level: str | None = None) -> pa.Table:
    """Dunn and Esteban-Marquillas components per region × item between two years; stored and returned."""
    if start >= end:
        raise InputError(_("the start year must come before the end year"), value=f"{start}, {end}")
    table, level = _long_data(con, by, level, [start, end])
    years = set(table["year"].to_pylist())
    for y in (start, end):
        if y not in years:
            raise InputError(_("no data for this year"), value=y, expected=", ".join(map(str, sorted(years))))
    a = _aligned(table, start)
    b = _aligned(table, end)
    regions, items = np.union1d(a.regions, b.regions), np.union1d(a.industries, b.industries)
    e0 = _aligned(table, start, regions, items).values
    e1 = _aligned(table, end, regions, items).values
    parts = shift_share(e0, e1)
    n_r, n_i = e0.shape
    out = _table({
        "region": np.repeat(regions, n_i), "item": np.tile(items, n_r), "start_year": start, "end_year": end,
        "employment_start": e0.ravel(), "employment_end": e1.ravel(),
        **{k: v.ravel() for k, v in parts.items()},
    })
    _store(con, {"shift_share": out}, keys={"breakdown": by, "level": level, "start_year": start, "end_year": end})
    return out


VALUES = ("lq", "employment", "share")


@dataclass
class HotspotSummary:
    """What a hot-spot run stored."""

    by: str
    level: str
    year: int
    value: str
    regions: int
    items: int
    hot_spots: int
    unlinked_regions: int
    constant_items: int = 0  # series with no variation: no statistic, no p-value (stored NULL with a reason)
    #: How the local tests were run ("sequential: 999 to N per local test" or "N per test"), and, with a fixed
    #: number too small for the false-discovery control over this many regions, why nothing can be significant.
    permutations: str = ""
    power_note: str = ""
    #: The same as numbers: the fixed permutations (None: sequential), the most a test may run, the tests
    #: per series (regions with neighbours).
    fixed_permutations: int | None = None
    max_permutations: int = 0
    tests: int = 0


def _weights(con: duckdb.DuckDBPyConnection, regions: np.ndarray):
    """Row-standardised sparse weights over ``regions`` from the stored neighbour links."""
    import scipy.sparse as sp

    links = con.execute("SELECT region, neighbor, weight FROM region_neighbors").fetchall()
    if not links:
        raise InputError(_("the atlas has no region neighbours"), hint=_("Import them with 'clusteratlas import "
                         "weights FILE' (columns region, neighbor, optional weight)"))
    index = {r: i for i, r in enumerate(regions)}
    rows, cols, vals = [], [], []
    for a, b, wt in links:
        if a in index and b in index:
            rows.append(index[a])
            cols.append(index[b])
            vals.append(wt)
    if not rows:
        raise InputError(_("no neighbour link joins two regions of these results"),
                         hint=_("Check that the weights use the same region ids and level"))
    w = sp.csr_matrix((vals, (rows, cols)), shape=(len(regions), len(regions)))
    row_sums = np.asarray(w.sum(axis=1)).ravel()
    scale = sp.diags(np.where(row_sums > 0, 1.0 / np.where(row_sums > 0, row_sums, 1.0), 0.0))
    return sp.csr_matrix(scale @ w), int((row_sums == 0).sum())


def run_hotspots(con: duckdb.DuckDBPyConnection, *, by: str = "cluster", year: int | None = None,
                 level: str | None = None, value: str = "lq", permutations: int | None = None, alpha: float = 0.05,
                 seed: int = 0) -> HotspotSummary:
    """Global and local Moran's I and Gi* of every cluster (or industry) for one year; stored.

    ``permutations`` None: each local test runs as many conditional permutations as a region needs to be
    significant alone after the false-discovery control (sequential, :mod:`clusteratlas.relate.spatial`);
    a number: that many for every test (and the summary says when too few to find anything). Global
    Moran's I uses whole permutations, 999 by default.
    """
    if value not in VALUES:
        raise InputError(_("unknown value for hot spots"), value=value, expected=", ".join(VALUES))
    if not 0 < alpha < 1 or (permutations is not None and permutations < 19):
        raise InputError(_("bad inference settings"), value=f"alpha={alpha}, permutations={permutations}",
                         expected=_("0 < alpha < 1 and at least 19 permutations"))
    if by == "cluster":
        _require_cluster_results(con)
    if year is None:
        year = con.execute("SELECT max(year) FROM " + ("results_clusters" if by == "cluster" else "observations")
                           ).fetchall()[0][0]
    table, level = _long_data(con, by, level, [year])
    emp = _aligned(table, year)
    data = {"lq": lambda: rca(emp.values), "employment": lambda: emp.values,
            "share": lambda: shares(emp.values, axis=1)}[value]()
    w, unlinked = _weights(con, emp.regions)
    lisa = local_moran(data, w, permutations=permutations, seed=seed, alpha=alpha)
    binary = w.copy()
    binary.data[:] = 1.0
    gstar = getis_ord_star(data, binary, permutations=permutations, seed=seed, alpha=alpha)
    glob = moran(data, w, permutations=permutations or FIRST, seed=seed)
    n_r, n_i = data.shape
    tests = n_r - unlinked
    if permutations is None:
        how = f"sequential: {FIRST:,} to {needed_permutations(tests, alpha):,} per local test"
        note = ""
    else:
        how, note = f"{permutations:,} per test", power_note(permutations, tests, alpha)
    # local Moran and Gi* are undefined for the same cells (constant series, regions without neighbours)
    reason = np.where(lisa.reason != "", lisa.reason, gstar.reason).ravel()
    quadrant = lisa.quadrant.ravel()
    cells = _table({
        "region": np.repeat(emp.regions, n_i), "item": np.tile(emp.industries, n_r), "year": year, "value": value,
        "x": data.ravel(), "local_i": lisa.Is.ravel(),
        "quadrant": pa.array(quadrant, mask=quadrant == 0),  # NULL where local I is undefined
        "p_sim": lisa.p_sim.ravel(), "p_two_sided": lisa.p_two_sided.ravel(),
        "permutations": lisa.permutations.ravel().astype(np.int64), "significant": lisa.significant.ravel(),
        "gi_star": gstar.Gs.ravel(), "gi_z": gstar.Zs.ravel(), "gi_p_sim": gstar.p_sim.ravel(),
        "gi_p_two_sided": gstar.p_two_sided.ravel(), "gi_permutations": gstar.permutations.ravel().astype(np.int64),
        "gi_significant": gstar.significant.ravel(), "reason": reason,
    })
    globals_ = _table({"item": emp.industries, "year": year, "value": value, "moran_i": glob.I,
                       "expected_i": np.full(n_i, glob.EI), "p_sim": glob.p_sim,
                       "p_two_sided": np.minimum(2 * glob.p_sim, 1.0), "reason": glob.reason})
    _store(con, {"hotspots": cells, "hotspots_global": globals_},
           keys={"breakdown": by, "level": level, "year": year, "value": value})
    hot = int((lisa.significant & (lisa.quadrant == 1)).sum())
    return HotspotSummary(by, level, year, value, n_r, n_i, hot, unlinked, int((glob.reason == NO_VARIATION).sum()),
                          how, note, permutations, permutations or needed_permutations(tests, alpha), tests)


def _square_from_long(path, items: np.ndarray, columns: tuple[str, str, str]) -> np.ndarray:
    """An items × items (or items × others) matrix from a long CSV/Parquet/Excel file."""
    from clusteratlas.sources.files import LINE, open_relation

    con = plain_connect()
    view = open_relation(con, path)
    names = [c for c in con.table(view).columns if c != LINE]
    missing = [c for c in columns if c not in names]
    if missing:
        raise InputError(_("column '{value}' is missing").format(value=missing[0]), file=str(path),
                         expected=", ".join(columns))
    a, b, v = columns
    rows = con.sql(f'SELECT "{a}"::VARCHAR, "{b}"::VARCHAR, TRY_CAST("{v}" AS DOUBLE), {LINE} FROM {view}'
                   ).fetchall()
    for row in rows:
        if row[2] is None or not np.isfinite(row[2]) or row[2] < 0:
            raise InputError(_("not a number ≥ 0"), file=str(path), row=row[3], column=v, value=row[2])
    index = {k: i for i, k in enumerate(items)}
    if b == "occupation":
        others = sorted({r[1] for r in rows})
        col_index = {k: i for i, k in enumerate(others)}
        out = np.zeros((len(items), len(others)))
    else:
        col_index = index
        out = np.zeros((len(items), len(items)))
    for r_key, c_key, value, _other in rows:
        if r_key in index and c_key in col_index:
            out[index[r_key], col_index[c_key]] += value
    return out


@dataclass
class DefineReport:
    """What ``define`` did: the definition, the measures it used, and how it compares with a reference."""

    result: object  # clusteratlas.relate.definitions.DerivedDefinition
    level: str
    year: int
    industries: int
    measures: list[str]
    notes: list[str]
    split: dict | None = None
    comparison: list[tuple[str, dict]] | None = None
    contributions: list[tuple[str, dict]] | None = None
    names: dict | None = None


def _reference_definition(con: duckdb.DuckDBPyConnection, reference) -> tuple[str, dict[str, tuple[str, str]]]:
    """industry → (cluster, type) of a definitions file (industry, cluster, type) or of a stored definition."""
    from pathlib import Path

    from clusteratlas.sources.dps_inputs import _read_text

    if Path(str(reference)).exists():
        names, rows = _read_text(reference)
        lower = [n.lower() for n in names]
        if "industry" not in lower or "cluster" not in lower:
            raise InputError(_("the reference definition needs columns industry and cluster"), file=str(reference),
                             value=names, expected=_("industry, cluster[, type]"))
        i, c = lower.index("industry"), lower.index("cluster")
        t = lower.index("type") if "type" in lower else None
        out = {str(r[i]).strip(): (str(r[c]).strip(), (str(r[t]).strip().lower() if t is not None and r[t]
                                                         else "traded")) for r in rows if r[i] and r[c]}
        label = Path(str(reference)).name
    else:
        rows = con.execute("SELECT industry, cluster, coalesce(lower(type), 'traded') FROM definitions "
                           "WHERE definition = ?", [str(reference)]).fetchall()
        out = {r[0]: (r[1], r[2]) for r in rows}
        label = str(reference)
    if not out:
        raise InputError(_("the reference definition is neither a file nor a definition in the atlas, or is empty"),
                         value=str(reference))
    return label, out


def _record_define(con: duckdb.DuckDBPyConnection, out, parameters: dict, report: DefineReport) -> None:
    """Keep the parameters (seed included) and scores of a define run in the atlas (table define_runs)."""
    import json

    con.execute("CREATE TABLE IF NOT EXISTS define_runs (run_at TIMESTAMP, file VARCHAR, level VARCHAR, "
                "year INTEGER, k INTEGER, parameters VARCHAR, scores VARCHAR, comparison VARCHAR)")
    comparison = {name: {k: v for k, v in c.items() if k not in ("best_jaccard", "best_match")}
                  for name, c in (report.comparison or []) + (report.contributions or [])}
    con.execute("INSERT INTO define_runs VALUES (now(), ?, ?, ?, ?, ?, ?, ?)",
                [str(out), report.level, report.year, report.result.k, json.dumps(parameters, default=str),
                 json.dumps(report.result.scores), json.dumps(comparison) if comparison else None])


def run_define(con: duckdb.DuckDBPyConnection, out, *, k: int | None = None, k_range: tuple[int, int] | None = None,
               year: int | None = None, level: str | None = None, io_path=None, io_crosswalk=None,
               io_make=None, occupations_path=None, method: str = "ward", weights: dict[str, float] | None = None,
               seed: int = 0, starts: int = 20, occupation_transform: str = "shares",
               colocation_transform: str = "loglq", traded_only: bool = False,
               compare=None, local_threshold: float = 0.3, prefix: int | None = None) -> DefineReport:
    """Derive cluster definitions from the observations, write them to ``out`` and record the run.

    Industries: every industry with employment, or (``traded_only``) the
    reference's traded industries when ``compare`` is given, else the
    industries the data call traded (:func:`~clusteratlas.relate.definitions.local_industries`).
    Every input is read and checked before anything is written.
    """
    from pathlib import Path

    from clusteratlas.relate import definitions as d
    from clusteratlas.sources import dps_inputs as dps
    from clusteratlas.store.export import export_format, write_table

    out = Path(out)
    export_format(out)
    if year is None:
        year = con.execute("SELECT max(year) FROM observations").fetchall()[0][0]
        if year is None:
            raise InputError(_("the atlas has no observations"), hint=_("Import some first"))
    table, level = _long_data(con, "industry", level, [year])
    emp = _aligned(table, year)
    est = _aligned(table, year, emp.regions, emp.industries, "establishments").values
    region_totals, establishment_totals = emp.values.sum(axis=1), est.sum(axis=1)
    codes = np.asarray(emp.industries).astype(str)
    alive = emp.values.sum(axis=0) > 0
    is_local, dissimilarity = d.local_industries(emp.values, region_totals, threshold=local_threshold)
    notes: list[str] = []
    ref_label, reference = _reference_definition(con, compare) if compare is not None else (None, None)
    split = None
    if reference is not None:
        known = np.array([c in reference for c in codes]) & alive
        ref_local = np.array([reference.get(c, ("", ""))[1] == "local" for c in codes])
        split = {"industries": int(known.sum()),
                 "agreement": float((is_local[known] == ref_local[known]).mean()) if known.any() else float("nan"),
                 "local_found": float(is_local[known & ref_local].mean()) if (known & ref_local).any() else
                 float("nan"), "traded_found": float((~is_local[known & ~ref_local]).mean())
                 if (known & ~ref_local).any() else float("nan"), "threshold": local_threshold}
    keep = alive.copy()
    if traded_only:
        if reference is not None:
            keep &= np.array([reference.get(c, ("", "local"))[1] == "traded" for c in codes])
            notes.append(f"traded industries of {ref_label}")
        else:
            keep &= ~is_local
            notes.append(f"traded industries by the data (Hoover dissimilarity ≥ {local_threshold})")
    codes, values, est = codes[keep], emp.values[:, keep], est[:, keep]
    if len(codes) < 3:
        raise InputError(_("fewer than three industries with employment to cluster"), value=len(codes))
    io_link = occ_link = None
    if io_path is not None:
        table_io = dps.read_io_table(io_path, io_make)
        crosswalk = dps.read_crosswalk(io_crosswalk) if io_crosswalk is not None else None
        io_link, matched = dps.io_link_for(codes, table_io, crosswalk, file=str(io_path))
        notes.append(f"input-output: {matched:,} of {len(codes):,} industries matched a BEA industry"
                     + (f"; {table_io.negatives} negative cells counted as 0" if table_io.negatives else ""))
    if occupations_path is not None:
        matrix = dps.read_occupations(occupations_path)
        rows, matched = dps.occupations_for(codes, matrix, file=str(occupations_path))
        occ_link = d.occupation_linkage(rows, transform=occupation_transform)
        notes.append(f"occupations: {matched:,} of {len(codes):,} industries matched the matrix"
                     + (f"; {matrix.suppressed:,} suppressed cells left out" if matrix.suppressed else ""))
    options = {"method": method, "weights": weights, "seed": seed, "starts": starts,
               "colocation_transform": colocation_transform, "establishment_totals": establishment_totals}
    result = d.derive_clusters(values, k=k, k_range=k_range, establishments=est, region_totals=region_totals,
                               io_link=io_link, occupation_link=occ_link,
                               occupation_transform=occupation_transform, **options)
    if io_link is None and occ_link is None:
        notes.append("co-location only: no input-output or occupation table was given")
    weight = values.sum(axis=0)
    comparison = contributions = None
    match = None
    if reference is not None:
        in_ref = np.array([c in reference for c in codes])
        if in_ref.sum() < 2:
            raise InputError(_("the reference definition shares fewer than two industries with the data"),
                             file=ref_label)
        ref = np.array([reference[c][0] for c in codes[in_ref]])
        labels = result.labels[in_ref]
        main = d.compare_partitions(labels, ref, weight[in_ref])
        if prefix is None:  # one level up the classification: NAICS-6 → 3 digits, JSIC/NACE 3-digit → 2
            longest = max(len(c) for c in codes[in_ref])
            prefix = 3 if longest >= 5 else max(1, longest - 1)
        comparison = [("derived", main)] + [
            (name, d.compare_partitions(base, ref, weight[in_ref]))
            for name, base in d.baseline_partitions(labels, codes[in_ref], prefix=prefix, seed=seed).items()]
        inverse = {}
        for r, c in main["best_match"].items():
            if main["best_jaccard"][r] > inverse.get(c, ("", -1))[1]:
                inverse[c] = (r, main["best_jaccard"][r])
        match = {c: r for c, (r, _) in inverse.items()}
        if len(result.measures) > 1:
            contributions = []
            steps = [m for m in d.MEASURES if m in result.measures]
            for n in range(1, len(steps) + 1):
                sub = d.derive_clusters(values, k=result.k, establishments=est, region_totals=region_totals,
                                        io_link=io_link if "input_output" in steps[:n] else None,
                                        occupation_link=occ_link if "occupations" in steps[:n] else None,
                                        validate=False, **options)
                contributions.append((" + ".join(steps[:n]), d.compare_partitions(sub.labels[in_ref], ref,
                                                                                    weight[in_ref])))
    names_en = dict(con.execute("SELECT industry, name FROM industries WHERE name IS NOT NULL").fetchall())
    if io_crosswalk is not None:  # BEA's crosswalk names the NAICS codes the atlas does not name
        names_en = {**dps.crosswalk_names(io_crosswalk), **names_en}
    names_ja = dict(con.execute("SELECT industry, name_ja FROM industries WHERE name_ja IS NOT NULL").fetchall())
    order = sorted(set(result.labels), key=lambda c: -weight[result.labels == c].sum())
    code = {c: f"D{n + 1:02d}" for n, c in enumerate(order)}
    name_en = d.cluster_names(result.labels, codes, weight, names_en, reference_match=match)
    name_ja = d.cluster_names(result.labels, codes, weight, names_ja) if names_ja else {}
    local_share = {c: float(is_local[keep][result.labels == c].mean()) for c in order}
    kind = {c: "local" if local_share[c] > 0.5 else "traded" for c in order}
    columns = {"industry": codes, "cluster": np.array([code[c] for c in result.labels]),
               "type": np.array([kind[c] for c in result.labels]),
               "cluster_name": np.array([name_en[c] for c in result.labels])}
    if names_ja:
        columns["cluster_name_ja"] = np.array([name_ja[c] if any(str(x) in names_ja for x in codes[
            result.labels == c]) else None for c in result.labels], dtype=object)
    report = DefineReport(result, level, year, len(codes), list(result.measures), notes, split, comparison,
                          contributions, {code[c]: name_en[c] for c in order})
    parameters = {**result.parameters, "year": year, "level": level, "traded_only": traded_only,
                  "compare": ref_label, "io": str(io_path) if io_path else None,
                  "io_crosswalk": str(io_crosswalk) if io_crosswalk else None,
                  "io_make": str(io_make) if io_make else None,
                  "occupations": str(occupations_path) if occupations_path else None,
                  "local_threshold": local_threshold, "dissimilarity_median": float(np.nanmedian(dissimilarity))}
    write_table(con.from_arrow(_table(columns)), out)
    _record_define(con, out, parameters, report)
    return report
