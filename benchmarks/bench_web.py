"""Page weight and speed of the web pages in headless Chromium (Debian's /usr/bin/chromium, via Playwright).

Two atlases:
  * metros: CBP 2019 metros (../shared/data; 933 CBSAs, NAICS 6-digit mapped to the CMP clusters) with the
    US Cluster Mapping Project's 942 metro shapes;
  * counties: a seeded synthetic economy on the 3,191 counties of the CMP county shapes (the shared data has
    no county CBP file; the values do not matter here, the number of shapes does).

For the region dashboard and the cluster map of each: time from navigation start to the chart or map drawn
(ECharts 'finished' with its series set), and bytes transferred (navigation + resources, as the browser's
Resource Timing reports them) on the first view (empty cache) and on a second view (cache revalidated with
ETag). Each figure is the median of --runs runs.

    PYTHONPATH=src python benchmarks/bench_web.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import duckdb
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.conftest import cbp2019_atlas  # noqa: E402
from tests.test_web import CHROMIUM, live_server  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
TOPO = SHARED / "geo" / "cmp_counties_eas_msas.topojson.json"


def metro_atlas(folder: Path) -> tuple[Path, str, str]:
    from clusteratlas import Atlas
    from clusteratlas.store.geometry import import_geometry

    path = cbp2019_atlas(folder, "metros.duckdb")
    with Atlas(path) as atlas:
        level = atlas.con.execute("SELECT any_value(level) FROM results_regions").fetchall()[0][0]
        import_geometry(atlas.con, TOPO, level=level, file_format="topojson", layer="msas")
    return path, "41940", level


def county_atlas(folder: Path) -> tuple[Path, str, str]:
    import json

    import pyarrow as pa
    import pyarrow.csv as pacsv

    from clusteratlas import Atlas
    from clusteratlas.store.geometry import import_geometry

    doc = json.loads(TOPO.read_text())
    counties = [str(g["id"]) for g in doc["objects"]["counties"]["geometries"]]
    rng = np.random.default_rng(11)
    industries = [f"I{i:03d}" for i in range(200)]
    size = rng.lognormal(9, 1.3, len(counties))
    weight = rng.dirichlet(np.ones(len(industries)))
    rows = {"region": [], "industry": [], "year": [], "employment": []}
    for year in (2015, 2020):
        emp = np.round(np.outer(size, weight) * rng.lognormal(0, 0.5, (len(counties), len(industries))))
        for r, region in enumerate(counties):
            rows["region"] += [region] * len(industries)
            rows["industry"] += industries
            rows["year"] += [year] * len(industries)
            rows["employment"] += emp[r].tolist()
    pacsv.write_csv(pa.table(rows), folder / "obs.csv")
    pacsv.write_csv(pa.table({"industry": industries, "cluster": [f"Cluster {i % 40:02d}" for i in range(200)],
                              "type": ["traded" if i % 40 < 30 else "local" for i in range(200)]}),
                    folder / "defs.csv")
    path = folder / "counties.duckdb"
    with Atlas(path, create=True) as atlas:
        atlas.import_file("definitions", folder / "defs.csv", name="synthetic")
        atlas.import_file("observations", folder / "obs.csv", name="synthetic")
        atlas.map()
        level = atlas.con.execute("SELECT any_value(level) FROM results_regions").fetchall()[0][0]
        import_geometry(atlas.con, TOPO, level=level, file_format="topojson", layer="counties")
    return path, counties[0], level


MEASURE = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource');
  return {bytes: nav.transferSize + res.reduce((s, r) => s + r.transferSize, 0), ms: performance.now()};
}"""


def measure(browser, url: str, charts: tuple[str, ...], runs: int) -> dict[str, float]:
    first, second, t_first, t_second = [], [], [], []
    for _ in range(runs):
        context = browser.new_context(viewport={"width": 1280, "height": 1000})
        page = context.new_page()
        for target, times, sizes in ((url, t_first, first), (url, t_second, second)):
            page.goto(target)
            for chart in charts:
                page.wait_for_function(f"window.CA && CA.ready[{chart!r}] === true", timeout=60_000)
            m = page.evaluate(MEASURE)
            times.append(m["ms"])
            sizes.append(m["bytes"])
        context.close()
    return {"first_ms": statistics.median(t_first), "again_ms": statistics.median(t_second),
            "first_kb": statistics.median(first) / 1024, "again_kb": statistics.median(second) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        print("| atlas | page | shapes | drawn, first view (ms) | drawn, again (ms) | first view (KB) | again (KB) |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for name, build in (("CBP 2019 metros", metro_atlas), ("US counties (synthetic values)", county_atlas)):
            folder = Path(tmp) / name.split()[0]
            folder.mkdir()
            path, region, level = build(folder)
            con = duckdb.connect(str(path), read_only=True)
            shapes = con.execute("SELECT count(*) FROM geometries").fetchall()[0][0]
            cluster = con.execute("SELECT cluster FROM results_clusters WHERE region = ? ORDER BY employment DESC "
                                  "LIMIT 1", [region]).fetchall()[0][0]
            con.close()
            from urllib.parse import quote

            with live_server(path) as base:
                for page, url, chart in (("region dashboard", f"{base}/regions/{region}", ("bubble", "locator")),
                                         ("cluster map", f"{base}/clusters/{quote(cluster)}?level={level}",
                                          ("map",))):
                    m = measure(browser, url, chart, args.runs)
                    print(f"| {name} | {page} | {shapes:,} | {m['first_ms']:.0f} | {m['again_ms']:.0f} | "
                          f"{m['first_kb']:,.0f} | {m['again_kb']:,.0f} |", flush=True)
        browser.close()


if __name__ == "__main__":
    main()
