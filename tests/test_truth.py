"""The truth harness: on four atlases of the shapes users have, every figure the pages (read from the rendered
HTML), the API (JSON) and the CLI (``show region``, ``show cluster``) show equals the same figure computed
here from the stored inputs with plain SQL and pandas (:mod:`tests.truth`).

The atlases: (a) the demo (the library's demo builder); (b) CBP 2019 metros as published (``--format cbp``:
the file's total rows are the regions' totals) with the US benchmark definition; (c) the Japanese 2014
economic census with the JSIC benchmark, one year, prefectures and the overlapping programme regions
(docs/ja/walkthrough.md); (d) Eurostat SBS 2015 at NUTS 2 and NACE divisions.
Regions and clusters are sampled deterministically, extremes included (the largest and the smallest). The
three atlases of real data are marked ``realdata`` (they read ../shared/data); the demo runs everywhere.

A figure shown with d decimals must be within half a unit of its last digit of the truth; a figure the
truth has no value for (an LQ without a reference, growth with one year) must be shown empty.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from clusteratlas.server import Settings, create_app
from tests.conftest import cbp2019_inputs, invoke, shared_file
from tests.truth import Page, Truth, compute, link_id, number, stars

API = "/api/v1"
CBP = "us/cbp2019_cbsa_naics2017_emp_est.csv.gz"
SBS = "eu/eurostat_sbs_r_nuts06_r2_2015_persons_employed.csv"
JP_EXTRACT = "jp/sfukui_ReagionalIOTables/ExplanatoryVariablesBase.csv"


# --------------------------------------------------------------------- the four atlases
def _demo(folder: Path) -> Path:
    from clusteratlas.api import build_demo_atlas

    build_demo_atlas(folder / "demo.duckdb", sample_dir=folder / "sample")
    return folder / "demo.duckdb"


def _cbp(folder: Path) -> Path:
    """CBP 2019 metros as the Census Bureau publishes them, read with ``--format cbp``: the file's total rows
    are the regions' totals (issue 19 item 7), the six-digit cells make the clusters."""
    from clusteratlas import Atlas

    _, definitions = cbp2019_inputs(folder)
    with Atlas(folder / "cbp.duckdb", create=True) as atlas:
        atlas.import_file("definitions", definitions, name="benchmark")
        atlas.import_file("observations", shared_file(CBP), file_format="cbp", name="cbp2019")
        atlas.map()
        assert atlas.con.execute("SELECT count(*) FROM region_totals").fetchall() == [(933,)]
    return folder / "cbp.duckdb"


def _japan(folder: Path) -> Path:
    """The walk-through's commands that build the atlas (init, reference, import, map), in order."""
    from typer.testing import CliRunner

    from clusteratlas import i18n
    from tests.test_japan_walkthrough import commands

    source = shared_file(JP_EXTRACT)
    (folder / source.name).symlink_to(source)
    runner = CliRunner(env={"COLUMNS": "200"})
    try:
        with contextlib.chdir(folder):
            for argv in commands():
                command = next(a for a in argv if not a.startswith("-") and a != "ja")
                if command in ("init", "reference", "import", "map"):
                    res = invoke(runner, *argv)
                    assert res.exit_code == 0, (argv, res.output)
    finally:
        i18n.set_language("en")
    return folder / "aichi.duckdb"


def _eurostat(folder: Path) -> Path:
    """SBS 2015 at NUTS 2 and NACE divisions, each division in the cluster of its section letter."""
    from clusteratlas import Atlas

    with shared_file(SBS).open(newline="", encoding="utf-8") as fh:
        divisions = sorted({r["nace_r2"] for r in csv.DictReader(fh, delimiter=";")
                            if re.fullmatch(r"[A-Z][0-9]{2}", r["nace_r2"])})
    defs = folder / "sections.csv"
    defs.write_text("industry,cluster\n" + "".join(f"{c},{c[0]}\n" for c in divisions))
    with Atlas(folder / "eu.duckdb", create=True) as atlas:
        atlas.import_file("observations", shared_file(SBS), file_format="eurostat", name="sbs2015",
                          options={"nuts_level": 2, "nace_level": "division"})
        atlas.import_file("definitions", defs, name="sections")
        atlas.map()
    return folder / "eu.duckdb"


BUILDERS = {"demo": _demo, "cbp": _cbp, "japan": _japan, "eurostat": _eurostat}


@dataclass
class Case:
    name: str
    path: Path
    truth: Truth
    client: TestClient | None = None

    @contextlib.contextmanager
    def served(self):
        """The atlas served read-only for the block (closed after it, so the CLI can open the file)."""
        with TestClient(create_app(Settings(atlas=str(self.path), read_only=True, warm=False))) as client:
            self.client = client
            try:
                yield self
            finally:
                self.client = None

    def api(self, url: str) -> dict:
        r = self.client.get(API + url)
        assert r.status_code == 200, (url, r.text[:500])
        return r.json()

    def page(self, url: str) -> Page:
        r = self.client.get(url)
        assert r.status_code == 200, (url, r.text[:500])
        return Page(r.text)


@pytest.fixture(scope="module", params=[name if name == "demo" else pytest.param(name, marks=pytest.mark.realdata)
                                        for name in BUILDERS])
def built(request, tmp_path_factory) -> Case:
    """One of the four atlases and its truth (built once per module)."""
    folder = tmp_path_factory.mktemp(request.param)
    path = BUILDERS[request.param](folder)
    return Case(request.param, path, compute(path))


@pytest.fixture
def case(built):
    """The atlas served (read-only) for one test."""
    with built.served():
        yield built


def missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


EXACT = 12  # digits of an API answer (full precision)
CELL_FIGURES = ("employment", "establishments", "payroll", "average_wage", "share_of_region", "share_of_cluster",
                "lq", "lq_within_type", "employment_cagr")
CELL_FLAGS = ("size", "specialization", "focus", "strong")


class Mismatches:
    """Every figure that differs from the truth, collected (one test reports all of them, not the first)."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def fail(self, message: str) -> None:
        self.found.append(message)

    def equal(self, shown, truth, what: str) -> None:
        if shown != truth:
            self.fail(f"{what}: shown {shown!r}, truth {truth!r}")

    def number(self, shown, truth, digits: int, what: str, pct: bool = False) -> None:
        """``shown`` (a number, or text as shown) is ``truth`` rounded to ``digits`` decimals (of the percentage
        when ``pct``), or both are empty."""
        try:
            value = number(shown) if isinstance(shown, str) else shown
        except ValueError:
            self.fail(f"{what}: shown {shown!r}, not a number")
            return
        if missing(truth):
            if not missing(value):
                self.fail(f"{what}: shown {shown!r}, but the figure is undefined")
            return
        if missing(value):
            self.fail(f"{what}: shown empty, truth {truth!r}")
            return
        tolerance = 0.5 * 10 ** -digits / (100 if pct else 1) + 1e-9 * abs(truth)
        if digits >= EXACT:  # a machine answer: equal but for rounding error
            tolerance = 1e-9 * max(1.0, abs(truth))
        if abs(value - truth) > tolerance:
            self.fail(f"{what}: shown {shown!r}, truth {truth!r}")

    def cell(self, row: dict, truth: dict, what: str) -> None:
        """Every figure of one region × cluster row of an API answer."""
        for col in CELL_FIGURES:
            self.number(row.get(col), truth[col], EXACT, f"{what} {col}")
        for col in (*CELL_FLAGS, "stars"):
            self.equal(row.get(col) if col == "stars" else bool(row.get(col)),
                       int(truth[col]) if col == "stars" else bool(truth[col]), f"{what} {col}")

    def done(self) -> None:
        shown = "\n".join(self.found[:60]) + (f"\n… and {len(self.found) - 60} more" if len(self.found) > 60 else "")
        assert not self.found, f"{len(self.found)} figure(s) differ from the truth:\n{shown}"


@pytest.fixture
def report():
    return Mismatches()


def latest(case: Case) -> int:
    return case.truth.years[-1]


def region_sample(case: Case) -> list[tuple[str, str]]:
    """(level, region): a sample of the default level, and the largest region of every other level."""
    t, year = case.truth, latest(case)
    level = t.headline_level()
    picks = [(level, r) for r in t.sample_regions(level, year)]
    picks += [(lv, t.sample_regions(lv, year, 1)[0]) for lv in sorted(t.levels) if lv != level
              and t.sample_regions(lv, year, 1)]
    return picks


def cluster_sample(case: Case) -> list[str]:
    return case.truth.sample_clusters(case.truth.headline_level(), latest(case))


def cells_of(case: Case, level: str, region: str, year: int):
    c = case.truth.cells
    return c[(c.level == level) & (c.region == region) & (c.year == year)]


#: Tile ids and the label each had before it had an id (so a run on older pages compares the same figures).
TILE_LABELS = {"tile-regions": "Regions", "tile-clusters": "Clusters", "tile-employment": "Employment",
               "tile-strong": "Strong clusters", "tile-traded": "Traded share", "tile-strength": "Cluster strength",
               "tile-wage": "Average wage", "tile-growth": "Growth"}


def tile(page: Page, key: str, part: int = 1) -> str | None:
    """Part ``part`` of a tile (0: its label, 1: its figure), found by id, else by its label."""
    parts = page.tiles.get(key) or next((p for k, p in page.tiles.items() if k and k.startswith("label:")
                                         and k[6:].startswith(TILE_LABELS.get(key, key))), [])
    return parts[part] if len(parts) > part else None


# --------------------------------------------------------------------- the tests
def test_headline_totals_are_one_levels_total_named(case, report):
    """Home page and GET /overview: the regions of every level counted once, the jobs of one level (the largest
    whose regions do not overlap) named with its level and year, every cluster's jobs and strong regions; the
    clusters' list and a cluster without a level asked answer at that level."""
    t, year = case.truth, latest(case)
    level = t.headline_level()
    n, jobs = t.level_total(level, year)
    cells = t.cells[(t.cells.level == level) & (t.cells.year == year)]
    by_cluster = cells.groupby("cluster").agg(employment=("employment", "sum"), strong=("strong", "sum"))
    r = case.client.get(API + "/overview")
    report.equal(r.status_code, 200, "GET /overview")
    o = r.json().get("data", {}) if r.status_code == 200 else {}
    report.equal((o.get("level"), o.get("year"), o.get("regions")), (level, year, n), "/overview level, year, regions")
    report.number(o.get("employment"), jobs, EXACT, "/overview employment")
    report.equal(o.get("levels"), t.levels, "/overview regions per level")
    report.equal(set(o.get("overlapping", ())), set(t.levels) - set(t.disjoint), "/overview overlapping levels")
    for row in o.get("clusters", []):
        report.number(row["employment"], by_cluster.employment[row["cluster"]], EXACT, f"/overview {row['cluster']}")
        report.equal(row["strong_regions"], by_cluster.strong[row["cluster"]], f"/overview {row['cluster']} strong")
    listed = case.api("/clusters")
    report.equal((listed["meta"].get("level"), listed["meta"].get("year")), (level, year), "/clusters level, year")
    report.equal(len(listed["data"]), len(by_cluster), "/clusters rows")
    for row in listed["data"]:
        report.number(row["employment"], by_cluster.employment.get(row["cluster"]), EXACT,
                      f"/clusters {row['cluster']}")

    home = case.page("/")
    report.number(tile(home, "tile-regions"), sum(t.levels.values()), 0, "home regions")
    for lv, count in t.levels.items():
        if f"{count:,} {lv}" not in (tile(home, "tile-regions", 2) or ""):
            report.fail(f"home regions: {count:,} {lv} not shown ({home.tiles.get('tile-regions')})")
    report.equal(tile(home, "tile-employment", 0), f"Jobs in the {n:,} regions of level {level} ({year})",
                 "home employment label")
    report.number(tile(home, "tile-employment"), jobs, 0, "home employment")
    report.number(tile(home, "tile-strong"), float(by_cluster.strong.sum()), 0, "home strong clusters")
    report.number(tile(home, "tile-clusters"), len(by_cluster), 0, "home clusters")
    rows = home.table("Strong regions")
    report.equal(len(rows), len(by_cluster), "home cluster rows")
    for row in rows:
        cluster = link_id(row["Cluster"][1])
        report.number(row["Employment"][0], by_cluster.employment.get(cluster), 0, f"home {cluster} employment")
        report.number(row["Strong regions"][0], by_cluster.strong.get(cluster), 0, f"home {cluster} strong regions")
    # a cluster opened from the home page (no level asked) answers at the same level
    first = cluster_sample(case)[0]
    profile = case.api(f"/clusters/{first}")["data"]
    report.equal(profile["level"], level, f"/clusters/{first} default level")
    report.done()


def test_region_profiles_api_and_page(case, report):
    """GET /regions/{region} and the region page: the summary, every cluster row, the tiles."""
    t, year = case.truth, latest(case)
    for level, region in region_sample(case):
        truth_region = t.region(level, region, year)
        cells = cells_of(case, level, region, year).set_index("cluster")
        p = case.api(f"/regions/{region}?level={level}&include_empty=true")["data"]
        s = p["summary"]
        for col, digits in (("employment", EXACT), ("traded_employment", EXACT), ("cluster_strength", EXACT),
                            ("strong_clusters", 0), ("three_star_clusters", 0), ("clusters", 0)):
            report.number(s.get(col), truth_region[col], digits, f"/regions/{region} {col}")
        report.equal(len(p["clusters"]), len(cells), f"/regions/{region} clusters")
        for row in p["clusters"]:
            report.cell(row, cells.loc[row["cluster"]].to_dict(), f"/regions/{region} {row['cluster']}")
        paid = cells[cells.payroll.notna()]
        wage = paid.payroll.sum() / paid.employment.sum() if len(paid) and paid.employment.sum() else None
        report.number(s.get("average_wage"), wage, EXACT, f"/regions/{region} average wage")
        series = t.regions[(t.regions.level == level) & (t.regions.region == region)].sort_values("year")
        report.equal([r["year"] for r in p["series"]], series.year.tolist(), f"/regions/{region} series years")
        first = series.iloc[0]
        growth = (truth_region["employment"] / first.employment - 1) if len(series) > 1 and first.employment \
            else None
        report.number(s.get("employment_growth"), growth, EXACT, f"/regions/{region} growth")

        page = case.page(f"/regions/{region}?level={level}")
        what = f"page /regions/{region}"
        report.number(tile(page, "tile-employment"), truth_region["employment"], 0, what + " employment")
        traded = truth_region["traded_employment"] / truth_region["employment"] if truth_region["employment"] \
            else None
        report.number(tile(page, "tile-traded"), traded, 1, what + " traded share", pct=True)
        report.number(tile(page, "tile-strong"), truth_region["strong_clusters"], 0, what + " strong")
        report.number(tile(page, "tile-strength"), truth_region["cluster_strength"], 1, what + " strength", pct=True)
        shown_wage = tile(page, "tile-wage")
        report.number(None if shown_wage == "no payroll data" else shown_wage, wage, 0, what + " average wage")
        if len(t.years) == 1:
            report.equal(tile(page, "tile-growth"), f"one year only ({year})", what + " growth")
        else:
            report.number(tile(page, "tile-growth"), growth, 1, what + " growth", pct=True)
        rows = page.table("cluster-table")
        shown = cells[cells.employment > 0]
        report.equal(len(rows), len(shown), what + " cluster rows")
        for row in rows:
            cluster = link_id(row["Cluster"][1])
            truth = shown.loc[cluster]
            at = f"{what} {cluster}"
            report.number(row["Employment"][0], truth.employment, 0, at + " employment")
            report.number(row["LQ"][0], truth.lq, 2, at + " LQ")
            report.equal(stars(row["Stars"][0]), truth.stars, at + " stars")
            report.equal(row["Strong"][0] == "strong", bool(truth.strong), at + " strong")
            if len(t.years) > 1:
                report.number(row["Growth per year"][0], truth.employment_cagr, 1, at + " growth", pct=True)
            elif "Growth per year" in row:
                report.fail(f"{at}: a growth column with one year of data ({row['Growth per year'][0]!r})")
        # the charts' data in the page: the portfolio's bubbles and the five largest clusters' series
        for c in page.data.get("clusters", []):
            truth = cells.loc[c["cluster"]]
            for col in ("employment", "lq", "employment_cagr"):
                report.number(c[col], truth[col], EXACT, f"{what} chart {c['cluster']} {col}")
        report.equal(bool(page.data.get("one_year")), len(t.years) == 1, what + " one year")
        history = t.cells[(t.cells.level == level) & (t.cells.region == region)].set_index(["cluster", "year"])
        for cluster, points in page.data.get("series", {}).items():
            for y, value in points:
                report.number(value, history.employment[(cluster, y)], EXACT, f"{what} chart series {cluster} {y}")
        # the page's CSV download
        download = case.client.get(f"{API}/regions/{region}/clusters?format=csv&level={level}")
        exported = list(csv.DictReader(io.StringIO(download.text.lstrip("\ufeff"))))
        report.equal(len(exported), len(shown), what + " CSV rows")
        for row in exported:
            truth = cells.loc[row["cluster"]]
            for col in ("employment", "lq", "average_wage", "share_of_region"):
                report.number(row[col] or None, truth[col], 9, f"{what} CSV {row['cluster']} {col}")
    report.done()


def test_cluster_profiles_api_and_page(case, report):
    """GET /clusters/{cluster}, its ranking and map layer, and the cluster page: the top regions by employment,
    their figures, and the cluster's series over the level's regions."""
    t, year = case.truth, latest(case)
    level = t.headline_level()
    cells = t.cells[(t.cells.level == level)]
    for cluster in cluster_sample(case):
        mine = cells[cells.cluster == cluster]
        now = mine[mine.year == year].sort_values(["employment", "region"], ascending=[False, True])
        top = now.head(20)
        p = case.api(f"/clusters/{cluster}?level={level}")["data"]
        report.equal((p["level"], p["year"]), (level, year), f"/clusters/{cluster} level, year")
        report.equal([r["region"] for r in p["ranking"]], top.region.tolist(), f"/clusters/{cluster} ranking")
        by_region = now.set_index("region")
        for row in p["ranking"]:
            report.cell(row, by_region.loc[row["region"]].to_dict(), f"/clusters/{cluster} {row['region']}")
        series = mine.groupby("year").agg(employment=("employment", "sum"), strong=("strong", "sum"),
                                          regions=("employment", lambda s: int((s > 0).sum())))
        report.equal([r["year"] for r in p["series"]], series.index.tolist(), f"/clusters/{cluster} series years")
        for row in p["series"]:
            y = row["year"]
            report.number(row["employment"], series.employment[y], EXACT, f"/clusters/{cluster} series {y}")
            report.equal(row["strong_regions"], series.strong[y], f"/clusters/{cluster} strong regions {y}")
            report.equal(row["regions"], series.regions[y], f"/clusters/{cluster} regions {y}")
        by_lq = now.assign(key=now.lq.fillna(-math.inf)).sort_values(["key", "region"], ascending=[False, True])
        ranking = case.api(f"/clusters/{cluster}/ranking?metric=lq&top=10&level={level}")["data"]
        report.equal([r["region"] for r in ranking], by_lq.region.head(10).tolist(), f"/clusters/{cluster}/ranking lq")
        for row in ranking:
            report.cell(row, by_region.loc[row["region"]].to_dict(), f"/clusters/{cluster}/ranking {row['region']}")
        layer = case.api(f"/clusters/{cluster}/map?metric=lq&level={level}")
        report.equal(len(layer["data"]), len(now), f"/clusters/{cluster}/map rows")
        for row in layer["data"]:
            report.number(row["value"], by_region.lq[row["region"]], EXACT, f"/clusters/{cluster}/map {row['region']}")

        page = case.page(f"/clusters/{cluster}?level={level}")
        what = f"page /clusters/{cluster}"
        rows = page.table("Rank")
        report.equal([link_id(r["Region"][1]) for r in rows], top.region.tolist(), what + " ranking")
        for row in rows:
            region = link_id(row["Region"][1])
            truth = by_region.loc[region]
            at = f"{what} {region}"
            report.number(row["Employment"][0], truth.employment, 0, at + " employment")
            report.number(row["LQ"][0], truth.lq, 2, at + " LQ")
            report.equal(stars(row["Stars"][0]), truth.stars, at + " stars")
            report.equal(row["Strong"][0] == "strong", bool(truth.strong), at + " strong")
        layer_shown = page.data.get("layer", [])
        report.equal(len(layer_shown), len(now), what + " map layer rows")
        for row in layer_shown:
            report.number(row["value"], by_region.lq[row["region"]], EXACT, f"{what} map layer {row['region']}")
        if len(t.years) == 1 and f"one year only ({year}): no time series." not in page.notes:
            report.fail(f"{what}: no 'one year only' note ({page.notes})")
        shown = page.table("Strong regions")
        report.equal([int(r["Year"][0]) for r in shown], series.index.tolist(), what + " series years")
        for row in shown:
            y = int(row["Year"][0])
            report.number(row["Employment"][0], series.employment[y], 0, f"{what} series {y}")
            report.number(row["Strong regions"][0], series.strong[y], 0, f"{what} strong regions {y}")
    report.done()


def test_compare_api_and_page(case, report):
    """GET /compare and the compare page: every region × cluster cell of the sampled regions."""
    t, year = case.truth, latest(case)
    level = t.headline_level()
    regions = t.sample_regions(level, year)
    ids = ",".join(regions)
    answer = case.api(f"/compare?regions={ids}&level={level}")
    truth = t.cells[(t.cells.level == level) & (t.cells.year == year) & t.cells.region.isin(regions)]
    report.equal(len(answer["data"]), len(truth), "/compare rows")
    keyed = truth.set_index(["region", "cluster"])
    for row in answer["data"]:
        report.cell(row, keyed.loc[(row["region"], row["cluster"])].to_dict(), f"/compare {row['region']}")
    for s in answer["meta"]["summaries"]:
        report.number(s["employment"], t.region(level, s["region"], year)["employment"], EXACT,
                      f"/compare {s['region']} employment")
    page = case.page(f"/compare?regions={ids}")
    rows = page.table("heat")
    report.equal(len(rows), truth.cluster.nunique(), "compare page rows")
    for row in rows:
        cluster = link_id(row["Cluster"][1])
        cells = [row[h] for h in page.tables["heat"]["head"][1:]]
        for region, (text, _) in zip(regions, cells, strict=True):
            value = keyed.loc[(region, cluster)] if (region, cluster) in keyed.index else None
            what = f"compare page {region} {cluster}"
            if value is None:
                report.equal(text, "", what)
                continue
            report.number(text.replace("★", "").strip(), value.lq, 2, what + " LQ")
            report.equal(stars(text), value.stars, what + " stars")
    # "largest differences": the ten clusters whose LQ differs most between the regions, highest and lowest
    spread = truth.dropna(subset=["lq"]).groupby("cluster").lq.agg(["max", "min", "count"])
    spread = spread[spread["count"] >= 2].assign(spread=lambda d: d["max"] - d["min"])
    # both sides in the page's order of two decimals: a tie in the shown highest LQ is then ordered by the lowest
    # alike (the demo economy has two clusters whose highest LQs round to the same figure)
    expected = sorted(spread.sort_values("spread", ascending=False).head(10)[["max", "min"]].itertuples(index=False),
                      key=lambda p: (round(p[0], 2), round(p[1], 2)))
    found = [re.search(r"highest in .* \(([\d.,]+)\), lowest in .* \(([\d.,]+)\)\.$", text)
             for text, _ in page.items]
    shown = sorted(((m.group(1), m.group(2)) for m in found if m), key=lambda p: (number(p[0]), number(p[1])))
    report.equal(len(shown), len(expected), "compare page largest differences")
    for (hi, lo), (shown_hi, shown_lo) in zip(expected, shown, strict=False):
        report.number(shown_hi, hi, 2, "compare page largest differences, highest")
        report.number(shown_lo, lo, 2, "compare page largest differences, lowest")
    # a region and its nine peers: the regions of its level closest in employment (log scale)
    region = regions[0]
    now = t.regions[(t.regions.level == level) & (t.regions.year == year) & (t.regions.employment > 0)]
    me = float(now[now.region == region].employment.iloc[0])
    others = now[now.region != region].assign(distance=lambda d: (np.log(d.employment) - math.log(me)).abs())
    peers = others.sort_values(["distance", "region"]).region.head(9).tolist()
    page = case.page(f"/compare?peers={region}")
    shown_ids = [link_id(href) for href in page.tables.get("heat", {}).get("links", [])[1:]]
    report.equal(shown_ids, [region, *peers], "compare page peers")
    answer = case.api(f"/compare?regions={','.join([region, *peers])}&level={level}")
    report.equal(sorted({r["region"] for r in answer["data"]}), sorted([region, *peers]), "/compare peers")
    report.done()


def _rich_rows(output: str) -> tuple[list[str], list[list[str]], list[str]]:
    """The header, the body rows and the lines above the table of a Rich table printed by the CLI."""
    lines = output.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("┃"))
    head = [c.strip() for c in lines[header].strip("┃").split("┃")]
    body = [[c.strip() for c in line.strip("│").split("│")] for line in lines[header + 1:] if line.startswith("│")]
    return head, body, lines[:header]


def _code(label: str, known: set[str]) -> str:
    """The id in a "Name (id)" label (or the label when it is the id)."""
    m = re.search(r"\(([^()]+)\)$", label)
    return m.group(1) if m and m.group(1) in known else label


def test_cli_show_region_and_cluster(built, runner, report):
    """``show region`` and ``show cluster`` print the same figures."""
    case, t, year = built, built.truth, latest(built)
    level = t.headline_level()
    clusters = set(t.cells.cluster)
    picks = [(level, r) for r in t.sample_regions(level, year, 2)]
    picks += [(lv, r) for lv, r in region_sample(case) if lv != level]
    for level_of, region in picks:
        res = invoke(runner, "show", "region", region, "--atlas", case.path, "--wide")
        assert res.exit_code == 0, res.output
        head, body, above = _rich_rows(res.output)
        cells = cells_of(case, level_of, region, year).set_index("cluster")
        shown = cells[cells.employment > 0]
        what = f"show region {region}"
        report.equal(len(body), len(shown), what + " rows")
        truth_region = t.region(level_of, region, year)
        title = " ".join(above)
        m = re.search(r"employment ([\d,]+), traded ([\d,]+), strong clusters (\d+), cluster strength ([\d.]+%|—)",
                      title)
        assert m, title
        report.number(m.group(1), truth_region["employment"], 0, what + " employment")
        report.number(m.group(2), truth_region["traded_employment"], 0, what + " traded")
        report.equal(int(m.group(3)), truth_region["strong_clusters"], what + " strong clusters")
        report.number(m.group(4), truth_region["cluster_strength"], 1, what + " strength", pct=True)
        paid = cells[cells.payroll.notna()]
        wage = paid.payroll.sum() / paid.employment.sum() if len(paid) and paid.employment.sum() else None
        shown_wage = re.search(r"average wage ([\d,]+) per job and year", title)
        report.number(shown_wage.group(1) if shown_wage else None, wage, 0, what + " average wage")
        for cells_shown in body:
            row = dict(zip(head, cells_shown, strict=True))
            cluster = _code(row["Cluster"], clusters)
            truth = shown.loc[cluster]
            at = f"{what} {cluster}"
            report.number(row["Employment"], truth.employment, 0, at + " employment")
            report.number(row["Share"], truth.share_of_region, 1, at + " share", pct=True)
            report.number(row["LQ"], truth.lq, 2, at + " LQ")
            report.number(row["LQ (type)"], truth.lq_within_type, 2, at + " LQ (type)")
            report.equal(stars(row["Stars"]), truth.stars, at + " stars")
            report.equal(row["US rating"] == "strong", bool(truth.strong), at + " strong")
            report.number(row["Avg wage"], truth.average_wage, 0, at + " average wage")
            report.number(row["CAGR"], truth.employment_cagr, 1, at + " CAGR", pct=True)
        if len(t.years) == 1 and f"one year only ({year})" not in " ".join(res.output.split()):
            report.fail(f"{what}: no 'one year only' note")
    known = set(t.cells.region)
    for cluster in cluster_sample(case):
        res = invoke(runner, "show", "cluster", cluster, "--atlas", case.path, "--level", level, "--wide")
        assert res.exit_code == 0, res.output
        head, body, _ = _rich_rows(res.output)
        now = t.cells[(t.cells.level == level) & (t.cells.year == year) & (t.cells.cluster == cluster)]
        top = now.sort_values(["employment", "region"], ascending=[False, True]).head(20).set_index("region")
        got = [dict(zip(head, cells, strict=True)) for cells in body]
        what = f"show cluster {cluster}"
        report.equal(sorted(_code(r["Region"], known) for r in got), sorted(top.index), what + " regions")
        for row in got:
            region = _code(row["Region"], known)
            if region not in top.index:
                continue
            truth = top.loc[region]
            at = f"{what} {region}"
            report.number(row["Employment"], truth.employment, 0, at + " employment")
            report.number(row["LQ"], truth.lq, 2, at + " LQ")
            report.equal(stars(row["Stars"]), truth.stars, at + " stars")
            report.equal(row["Strong"] == "yes", bool(truth.strong), at + " strong")
            report.number(row["CAGR"], truth.employment_cagr, 1, at + " CAGR", pct=True)
    report.done()


def test_results_api(case, report):
    """GET /results for the sampled regions at every level: every row and figure, every year."""
    t = case.truth
    for level, region in region_sample(case):
        answer = case.api(f"/results?level={level}&regions={region}&limit=10000")
        truth = t.cells[(t.cells.level == level) & (t.cells.region == region)].set_index(["cluster", "year"])
        report.equal(len(answer["data"]), len(truth), f"/results {level} {region} rows")
        for row in answer["data"]:
            report.cell(row, truth.loc[(row["cluster"], row["year"])].to_dict(),
                        f"/results {level} {region} {row['cluster']} {row['year']}")
    report.done()
