"""The truth of an atlas: every figure the pages, the API and the CLI show, computed again from the stored
inputs (observations, definitions, regions, reference totals, the region totals a source published) with
plain SQL and pandas; and a reader of what a rendered page shows (:class:`Page`).

Nothing here reads the results tables or calls the metrics: the figures follow the definitions in
docs/data-model.md and docs/methods.md, written out again, so a surface that shows another number shows a
bug (in the query layer, the pages or the CLI; the maths itself is checked against published figures
elsewhere). What the run was asked to do is read from its record (definition, parameters, reference
economy, the levels it made) — the question, not the answer.

Quantiles are numpy's linear interpolation (type 7), the rule the docs name.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import duckdb
import numpy as np
import pandas as pd

from clusteratlas.reference.size_classes import SIZE_CLASS_MIDPOINTS

KEYS = ["level", "region", "cluster", "year"]


@dataclass
class Truth:
    """Independent figures of one atlas.

    ``cells``: one row per level × region × cluster × year (employment, establishments, payroll,
    average_wage, share_of_region, share_of_cluster, lq, lq_within_type, size, specialization, focus, stars,
    strong, employment_cagr). ``regions``: one row per level × region × year (employment, traded_employment,
    clusters, strong_clusters, cluster_strength, three_star_clusters). ``levels``: the number of regions
    of each mapped level; ``disjoint``: the levels whose regions share no observed member (a total over
    them counts each job once).
    """

    cells: pd.DataFrame
    regions: pd.DataFrame
    levels: dict[str, int]
    disjoint: list[str]
    years: list[int]
    definition: str
    names: dict[str, str] = field(default_factory=dict)

    # ------------------------------------------------------------------ look-ups
    def cell(self, level: str, region: str, cluster: str, year: int) -> dict:
        rows = self.cells[(self.cells.level == level) & (self.cells.region == region)
                          & (self.cells.cluster == cluster) & (self.cells.year == year)]
        assert len(rows) == 1, (level, region, cluster, year, len(rows))
        return rows.iloc[0].to_dict()

    def region(self, level: str, region: str, year: int) -> dict:
        rows = self.regions[(self.regions.level == level) & (self.regions.region == region)
                            & (self.regions.year == year)]
        assert len(rows) == 1, (level, region, year, len(rows))
        return rows.iloc[0].to_dict()

    def headline_level(self) -> str:
        """The level a total is given for: the disjoint level with the most regions (then by name)."""
        return sorted(self.disjoint, key=lambda lv: (-self.levels[lv], lv))[0]

    def level_total(self, level: str, year: int) -> tuple[int, float]:
        """(regions, employment) of one level in one year."""
        rows = self.regions[(self.regions.level == level) & (self.regions.year == year)]
        return len(rows), float(rows.employment.sum())

    def sample_regions(self, level: str, year: int, k: int = 4) -> list[str]:
        """A deterministic sample of a level's regions: the largest, the smallest with jobs, and the regions
        at evenly spaced ranks between them (by employment, then id)."""
        rows = self.regions[(self.regions.level == level) & (self.regions.year == year)
                            & (self.regions.employment > 0)].sort_values(["employment", "region"],
                                                                        ascending=[False, True])
        ids = rows.region.tolist()
        if len(ids) <= k or k == 1:
            return ids[:k]
        picks = sorted({round(i * (len(ids) - 1) / (k - 1)) for i in range(k)})
        return [ids[i] for i in picks]

    def sample_clusters(self, level: str, year: int, k: int = 3) -> list[str]:
        """The largest and the smallest cluster with jobs at a level, and one between (by employment)."""
        rows = (self.cells[(self.cells.level == level) & (self.cells.year == year)]
                .groupby("cluster").employment.sum().reset_index())
        rows = rows[rows.employment > 0].sort_values(["employment", "cluster"], ascending=[False, True])
        ids = rows.cluster.tolist()
        if len(ids) <= k:
            return ids
        return [ids[0], ids[len(ids) // 2], ids[-1]]


def _quantile(values: pd.Series, q: float) -> float:
    v = values.dropna().to_numpy(dtype=float)
    return float(np.quantile(v, q)) if len(v) else math.nan


def compute(path: str | Path) -> Truth:
    """The truth of the atlas at ``path`` (opened read-only)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return _compute(con)
    finally:
        con.close()


def _compute(con: duckdb.DuckDBPyConnection) -> Truth:
    definition, parameters, reference, spec = con.execute(
        "SELECT definition, parameters, reference, spec FROM map_runs ORDER BY run_at DESC LIMIT 1").fetchall()[0]
    params = json.loads(parameters or "{}")
    datasets = list(json.loads(spec or "{}").get("datasets") or [])
    assert not params.get("peer_levels") and not params.get("by_subcluster"), "the truth knows the default peers"
    mids = pd.DataFrame({"size_class": list(SIZE_CLASS_MIDPOINTS), "midpoint": list(SIZE_CLASS_MIDPOINTS.values())})
    con.register("__mids", mids)
    # observations, withheld cells with a size class at the class midpoint (docs/methods.md, CBP)
    obs = con.execute("""
        SELECT o.region, coalesce(r.level, 'region') AS level, o.industry, o.year,
               coalesce(o.employment, m.midpoint) AS employment, o.establishments, o.payroll
        FROM observations o LEFT JOIN regions r USING (region) LEFT JOIN __mids m
          ON o.employment IS NULL AND o.size_class = m.size_class""").df()
    defs = con.execute("SELECT industry, cluster, coalesce(type, 'traded') AS type FROM definitions "
                       "WHERE definition = ?", [definition]).df()
    edges = con.execute("SELECT parent AS up, region AS down FROM region_links UNION "
                        "SELECT region, member FROM custom_members").df()
    known = con.execute("SELECT region, level FROM regions").df()
    levels_made = [r[0] for r in con.execute("SELECT DISTINCT level FROM results_regions").fetchall()]
    names = dict(con.execute("SELECT region, coalesce(name, region) FROM regions").fetchall())
    totals = con.execute("SELECT industry, year, employment FROM reference_totals").df()
    # a region's published total (a CBP file's total row; docs/methods.md, "Region totals of CBP files"): the
    # largest any mapped dataset gives; the region's total is that, or the sum of its cells where they hold more
    published = pd.DataFrame({"region": pd.Series(dtype=object), "year": pd.Series(dtype="int64"),
                              "published": pd.Series(dtype=float)})
    if con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = 'region_totals'").fetchall():
        only = f"WHERE dataset IN ({', '.join('?' for _ in datasets)})" if datasets else ""
        published = con.execute(f"SELECT region, year, max(employment) AS published FROM region_totals {only} "
                                "GROUP BY ALL", datasets).df()

    observed = obs[["region", "level"]].drop_duplicates()
    observed_set = set(observed.region)
    children: dict[str, set[str]] = {}
    for up, down in edges.itertuples(index=False):
        children.setdefault(up, set()).add(down)

    def members(region: str) -> set[str]:
        """The observed regions below ``region`` (stopping at observed ones), each once."""
        found, stack, seen = set(), [region], {region}
        while stack:
            node = stack.pop()
            for child in children.get(node, ()):
                if child in seen:
                    continue
                seen.add(child)
                if child in observed_set:
                    found.add(child)
                else:
                    stack.append(child)
        return found

    member_rows = [(lv, r, r) for r, lv in observed.itertuples(index=False)]
    for region, level in known.itertuples(index=False):
        if level in levels_made and region not in observed_set:
            member_rows += [(level, region, m) for m in members(region)]
    membership = pd.DataFrame(member_rows, columns=["level", "region", "member"]).drop_duplicates()
    membership = membership[membership.level.isin(levels_made)]
    shared = membership.groupby(["level", "member"]).region.nunique()
    overlapping = set(shared[shared > 1].reset_index().level)
    disjoint = sorted(set(membership.level) - overlapping)

    # industries to clusters; industries in no cluster count in the region's total only
    rows = obs.merge(defs, on="industry", how="left")
    rows["traded"] = np.where(rows.type == "traded", rows.employment, 0.0)
    rows["local"] = np.where(rows.type == "local", rows.employment, 0.0)
    per_region = rows.groupby(["region", "year"], as_index=False).agg(
        region_employment=("employment", "sum"), region_traded=("traded", "sum"), region_local=("local", "sum"))
    # the jobs of the cells a source does not publish: in the region's total, in no cluster, traded or local
    per_region = per_region.merge(published.astype({"year": per_region.year.dtype}), on=["region", "year"],
                                  how="left")
    per_region["unpublished"] = (per_region.published - per_region.region_employment).clip(lower=0).fillna(0.0)
    per_region["region_employment"] += per_region.unpublished
    per_region = per_region.drop(columns="published")
    mapped = rows[rows.cluster.notna()]
    per_cell = mapped.groupby(["region", "cluster", "type", "year"], as_index=False).agg(
        employment=("employment", "sum"), establishments=("establishments", lambda s: s.sum(min_count=1)),
        payroll=("payroll", lambda s: s.sum(min_count=1)))
    by_member = membership.rename(columns={"region": "parent"})
    cells = (per_cell.rename(columns={"region": "member"}).merge(by_member, on="member")
             .groupby(["level", "parent", "cluster", "type", "year"], as_index=False)
             .agg(employment=("employment", "sum"),
                  establishments=("establishments", lambda s: s.sum(min_count=1)),
                  payroll=("payroll", lambda s: s.sum(min_count=1)))
             .rename(columns={"parent": "region"}))
    regions = (per_region.drop(columns="unpublished").rename(columns={"region": "member"}).merge(by_member,
                                                                                                on="member")
               .groupby(["level", "parent", "year"], as_index=False)
               .agg(region_employment=("region_employment", "sum"), region_traded=("region_traded", "sum"),
                    region_local=("region_local", "sum"))
               .rename(columns={"parent": "region"}))

    # the reference economy of every LQ of the run (docs/data-model.md, map_runs.reference)
    if reference == "totals":
        ref = totals.merge(defs, on="industry", how="left")
    else:
        kind, _, arg = (reference or "observations").partition(":")
        if kind == "level":
            chosen = set(observed[observed.level == arg].region)
        elif kind == "region":
            chosen = {arg} if arg in observed_set else members(arg)
        else:  # observations: the observed regions no other observed region contains
            parents_of: dict[str, set[str]] = {}
            for up, down in edges.itertuples(index=False):
                parents_of.setdefault(down, set()).add(up)

            def contained(region: str) -> bool:
                stack, seen = [region], {region}
                while stack:
                    for up in parents_of.get(stack.pop(), ()):
                        if up in observed_set:
                            return True
                        if up not in seen:
                            seen.add(up)
                            stack.append(up)
                return False

            chosen = {r for r in observed_set if not contained(r)}
        ref = rows[rows.region.isin(chosen)][["industry", "year", "employment", "cluster", "type"]]
    ref = ref.assign(traded=np.where(ref.type == "traded", ref.employment, 0.0),
                     local=np.where(ref.type == "local", ref.employment, 0.0))
    economy = ref.groupby("year", as_index=False).agg(ref_total=("employment", "sum"),
                                                      ref_traded=("traded", "sum"), ref_local=("local", "sum"))
    if reference != "totals":  # the regions of the reference economy count their published totals
        gaps = (per_region[per_region.region.isin(chosen)].groupby("year", as_index=False)
                .agg(unpublished=("unpublished", "sum")))
        economy = economy.merge(gaps, on="year", how="left")
        economy["ref_total"] += economy.unpublished.fillna(0.0)
        economy = economy.drop(columns="unpublished")
    ref_cluster = (ref[ref.cluster.notna()].groupby(["year", "cluster"], as_index=False)
                   .agg(ref_cluster=("employment", "sum")))

    c = cells.merge(regions, on=["level", "region", "year"]).merge(economy, on="year").merge(
        ref_cluster, on=["year", "cluster"], how="left")
    emp = c.employment
    c["share_of_cluster"] = np.where(c.ref_cluster > 0, emp / c.ref_cluster.where(c.ref_cluster > 0), np.nan)
    c["share_of_region"] = np.where(c.region_employment > 0, emp / c.region_employment.where(
        c.region_employment > 0), np.nan)
    region_type = np.where(c.type == "traded", c.region_traded, c.region_local)
    ref_type = np.where(c.type == "traded", c.ref_traded, c.ref_local)
    ref_share = c.ref_cluster / c.ref_total
    ref_share_type = c.ref_cluster / ref_type
    with np.errstate(divide="ignore", invalid="ignore"):
        c["lq"] = np.where(ref_share > 0, np.where(emp > 0, (emp / c.region_employment) / ref_share, 0.0), np.nan)
        c["lq_within_type"] = np.where(ref_share_type > 0, np.where(emp > 0, (emp / region_type) / ref_share_type,
                                                                    0.0), np.nan)
        c["average_wage"] = np.where(c.payroll.notna() & (emp > 0), c.payroll / emp, np.nan)

    # peers: the regions of the same level with jobs in the cluster that year
    size_top = params.get("size_top", 0.10)
    focus_top = params.get("focus_top", 0.10)
    cuts = []
    for (level, year, cluster), g in c[c.employment > 0].groupby(["level", "year", "cluster"]):
        cuts.append({"level": level, "year": year, "cluster": cluster,
                     "size_cut": _quantile(g.employment, 1 - size_top),
                     "focus_cut": _quantile(g.share_of_region, 1 - focus_top),
                     "emp_floor": _quantile(g.employment, params.get("size_quantile", 0.25)),
                     "est_floor": _quantile(g.establishments, params.get("size_quantile", 0.25)),
                     "has_est": g.establishments.notna().any(),
                     "lq_strong": _quantile(g.lq_within_type, params.get("strong_quantile", 0.75))})
    c = c.merge(pd.DataFrame(cuts), on=["level", "year", "cluster"], how="left")
    positive = c.employment > 0
    c["size"] = positive & (c.employment >= c.size_cut)
    c["specialization"] = c.lq >= params.get("specialisation_lq", 2.0)
    c["focus"] = positive & (c.share_of_region >= c.focus_cut)
    c["stars"] = c[["size", "specialization", "focus"]].sum(axis=1).astype(int)
    size_ok = positive & (c.employment > c.emp_floor) & (~c.has_est.fillna(False).astype(bool)
                                                         | (c.establishments > c.est_floor))
    c["strong"] = ((c.type == "traded") & size_ok & (c.lq_within_type >= c.lq_strong)
                   & (c.lq_within_type >= params.get("min_lq", 1.0)))

    # growth since the base year (the first year of the observations unless the run named one)
    base_year = params.get("base_year") or int(obs.year.min())
    base = c[c.year == base_year][["level", "region", "cluster", "employment"]].rename(
        columns={"employment": "employment_base"})
    c = c.merge(base, on=["level", "region", "cluster"], how="left")
    span = c.year - base_year
    with np.errstate(divide="ignore", invalid="ignore"):
        c["employment_cagr"] = np.where((span > 0) & (c.employment_base > 0),
                                        (c.employment / c.employment_base) ** (1.0 / span.where(span > 0)) - 1,
                                        np.nan)

    # region summaries
    c["strong_employment"] = np.where(c.strong, c.employment, 0.0)
    summary = c.groupby(["level", "region", "year"], as_index=False).agg(
        clusters=("employment", lambda s: int((s > 0).sum())), strong_clusters=("strong", "sum"),
        strong_employment=("strong_employment", "sum"), three_star_clusters=("stars", lambda s: int((s == 3).sum())))
    regions = regions.merge(summary, on=["level", "region", "year"], how="left").rename(
        columns={"region_employment": "employment", "region_traded": "traded_employment",
                 "region_local": "local_employment"})
    regions["cluster_strength"] = np.where(regions.traded_employment > 0,
                                           regions.strong_employment / regions.traded_employment.where(
                                               regions.traded_employment > 0), np.nan)
    levels = {lv: int(n) for lv, n in regions.groupby("level").region.nunique().items()}
    return Truth(cells=c, regions=regions, levels=levels, disjoint=[lv for lv in disjoint if lv in levels],
                 years=sorted(int(y) for y in obs.year.unique()), definition=definition, names=names)


# --------------------------------------------------------------------- what the pages show
class Page(HTMLParser):
    """What a rendered page shows: its tables (cells as text with their first link), tiles, notes, list items
    (text and links) and the page's chart data."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, dict] = {}
        self.tiles: dict[str, list[str]] = {}
        self.notes: list[str] = []
        self.data: dict = {}
        self.items: list[tuple[str, list[str]]] = []
        self._item: tuple[list[str], list[str]] | None = None
        self._table: dict | None = None
        self._cell: list | None = None
        self._tile: list[str] | None = None
        self._tile_id: str | None = None
        self._span: list[str] | None = None
        self._note: list[str] | None = None
        self._caption: list[str] | None = None
        self._script: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._table = {"id": a.get("id") or f"table{len(self.tables)}", "caption": "", "head": [], "links": [],
                           "rows": []}
        elif tag == "caption" and self._table is not None:
            self._caption = []
        elif tag == "tr" and self._table is not None:
            self._table["rows"].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = [[], None, tag]
        elif tag == "a" and self._cell is not None and self._cell[1] is None:
            self._cell[1] = a.get("href")
        elif tag == "li":
            self._item = ([], [])
        elif tag == "a" and self._item is not None:
            self._item[1].append(a.get("href"))
        elif tag == "div" and "tile" in (a.get("class") or "").split():
            self._tile, self._tile_id = [], a.get("id")
        elif tag == "span" and self._tile is not None:
            self._span = []
        elif tag == "p" and "note" in (a.get("class") or "").split():
            self._note = []
        elif tag == "script" and a.get("id") == "page-data":
            self._script = []

    def handle_endtag(self, tag):
        if tag == "li" and self._item is not None:
            self.items.append((" ".join("".join(self._item[0]).split()), self._item[1]))
            self._item = None
        if tag in ("td", "th") and self._cell is not None:
            text, href, kind = self._cell
            self._table["rows"][-1].append((" ".join("".join(text).split()), href, kind))
            self._cell = None
        elif tag == "caption" and self._caption is not None:
            self._table["caption"] = " ".join("".join(self._caption).split())
            self._caption = None
        elif tag == "table" and self._table is not None:
            rows = [r for r in self._table["rows"] if r]
            if rows and all(kind == "th" for *_, kind in rows[0]):
                self._table["head"] = [t for t, *_ in rows[0]]
                self._table["links"] = [h for _, h, _ in rows[0]]
                rows = rows[1:]
            self._table["rows"] = rows
            self.tables[self._table["id"]] = self._table
            self._table = None
        elif tag == "span" and self._span is not None:
            self._tile.append(" ".join("".join(self._span).split()))
            self._span = None
        elif tag == "div" and self._tile is not None and self._span is None:
            key = self._tile_id or (f"label:{self._tile[0]}" if self._tile else "label:")
            self.tiles[key] = self._tile
            self._tile = None
        elif tag == "p" and self._note is not None:
            self.notes.append(" ".join("".join(self._note).split()))
            self._note = None
        elif tag == "script" and self._script is not None:
            self.data = json.loads("".join(self._script))
            self._script = None

    def handle_data(self, data):
        for sink in (self._cell[0] if self._cell is not None else None, self._span, self._note, self._caption,
                     self._script, self._item[0] if self._item is not None else None):
            if sink is not None:
                sink.append(data)

    def table(self, key: str) -> list[dict[str, tuple[str, str | None]]]:
        """The rows of a table (by id, or the first whose header has ``key``) as {header: (text, href)}."""
        table = self.tables.get(key) or next(t for t in self.tables.values() if key in t["head"])
        return [{h: (text, href) for h, (text, href, _) in zip(table["head"], row, strict=False)}
                for row in table["rows"]]


# --------------------------------------------------------------------- comparing
def number(text: str | None) -> float | None:
    """A shown number ("1,234", "-0.5%", "1.23") as a float (percentages as fractions); None when empty."""
    if text is None:
        return None
    text = text.strip().replace("\u2212", "-")
    if text in ("", "–", "—", "·"):
        return None
    pct = text.endswith("%")
    value = float(text.rstrip("%").replace(",", "").replace("+", ""))
    return value / 100 if pct else value


def link_id(href: str) -> str:
    """The id a link to a region or cluster page names (``/clusters/Local%20Health?level=x`` -> ``Local Health``)."""
    return unquote(href.split("?")[0].rsplit("/", 1)[1])


def stars(text: str) -> int:
    return text.count("★")
