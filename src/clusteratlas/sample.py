"""A seeded synthetic economy with planted clusters of known strength.

The demo runs on it, and tests use its planted clusters as ground truth.
Regions come at two levels (counties inside states) plus one custom
region; industries are grouped into traded and local clusters with
subclusters; several years; some cells withheld with a CBP size class.

Employment of county r in industry i is ``size_r × weight_i × noise``
(so LQs are near 1), multiplied by ``boost`` for the planted clusters.
Each planted cluster states the ratings it must earn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from clusteratlas.reference.size_classes import SIZE_CLASS_RANGES

STATES = [("S1", "North", "北"), ("S2", "East", "東"), ("S3", "South", "南"), ("S4", "West", "西"),
          ("S5", "Central", "中央"), ("S6", "Coast", "沿岸")]
TRADED = ["Automotive", "Biopharmaceuticals", "Information Technology", "Aerospace", "Apparel",
          "Financial Services", "Medical Devices", "Plastics", "Food Processing", "Metalworking",
          "Education and Knowledge", "Marketing and Design", "Printing", "Footwear", "Tobacco"]
TRADED_JA = ["自動車", "バイオ医薬", "情報技術", "航空宇宙", "アパレル", "金融サービス", "医療機器",
             "プラスチック", "食品加工", "金属加工", "教育・知識創造", "マーケティング・デザイン", "印刷",
             "履物", "たばこ"]
LOCAL = ["Local Health Services", "Local Retail", "Local Food and Beverage", "Local Real Estate",
         "Local Utilities"]
LOCAL_JA = ["地域医療", "地域小売", "地域飲食", "地域不動産", "地域公益事業"]


@dataclass(frozen=True)
class Planted:
    """A cluster planted in a county, with the ratings it must come out with."""

    region: str
    cluster: str
    boost: float
    growth: float
    expect_strong: bool
    expect_specialization: bool
    expect_size: bool


#: The planted clusters. Boosts are large enough that the expected ratings
#: hold for every seed of the generator's noise.
PLANTED = (
    Planted("S1C1", "C01", 6.0, 0.00, True, True, True),    # big county, big boost: 3 stars, strong
    Planted("S2C3", "C02", 5.0, 0.00, True, True, False),   # specialised, strong
    Planted("S3C2", "C03", 4.0, 0.08, True, True, False),   # growing 8 % a year
    Planted("S4C5", "C04", 8.0, 0.00, True, True, False),
    Planted("S5C1", "C05", 5.0, -0.05, True, True, False),  # declining 5 % a year
)


@dataclass
class Sample:
    """The generated tables (pyarrow) and the ground truth."""

    observations: pa.Table
    definitions: pa.Table
    regions: pa.Table
    custom_regions: pa.Table
    neighbors: pa.Table
    planted: tuple[Planted, ...]

    def write(self, folder: str | Path) -> dict[str, Path]:
        """Write the tables as UTF-8 CSV files; return their paths by kind."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {
            "observations": folder / "observations.csv",
            "definitions": folder / "definitions.csv",
            "regions": folder / "regions.csv",
            "custom-regions": folder / "custom_regions.csv",
            "weights": folder / "neighbors.csv",
            "geometry-county": folder / "geometry_county.geojson",
            "geometry-state": folder / "geometry_state.geojson",
        }
        for kind, table in (("observations", self.observations), ("definitions", self.definitions),
                            ("regions", self.regions), ("custom-regions", self.custom_regions),
                            ("weights", self.neighbors)):
            pacsv.write_csv(table, paths[kind])
        # A synthetic map so the demo's choropleths draw: counties as squares on the grid of their
        # neighbours (state = row, county number = column), each state the row its counties make.
        from clusteratlas.store.geometry import grid_geojson

        counties = [r for r, lv in zip(self.regions["region"].to_pylist(), self.regions["level"].to_pylist(),
                                       strict=True) if lv == "county"]
        states = list(dict.fromkeys(c.split("C")[0] for c in counties))
        cells = {c: (states.index(c.split("C")[0]), int(c.split("C")[1]) - 1) for c in counties}
        paths["geometry-county"].write_text(json.dumps(grid_geojson(cells)), encoding="utf-8")
        width = max(col for _, col in cells.values()) + 1
        rows = {s: (i, 0) for i, s in enumerate(states)}
        doc = grid_geojson(rows)
        for f in doc["features"]:
            x, y = 0.0, float(-rows[f["id"]][0])
            f["geometry"]["coordinates"] = [[[x, y], [x + width, y], [x + width, y - 1], [x, y - 1], [x, y]]]
        paths["geometry-state"].write_text(json.dumps(doc), encoding="utf-8")
        return paths


def _size_class(value: float) -> str:
    for letter, (low, high) in SIZE_CLASS_RANGES.items():
        if value >= low and (high is None or value <= high):
            return letter
    return "A"


def generate_sample(seed: int = 7, *, counties_per_state: int = 6, industries_per_cluster: int = 12,
                    years: tuple[int, ...] = (2015, 2016, 2017, 2018, 2019, 2020),
                    suppressed_share: float = 0.02) -> Sample:
    """Generate the synthetic economy (deterministic for a given seed)."""
    rng = np.random.default_rng(seed)
    counties = [f"{s}C{k}" for s, _, _ in STATES for k in range(1, counties_per_state + 1)]
    size = rng.lognormal(mean=10.0, sigma=0.6, size=len(counties))
    size[counties.index("S1C1")] *= 4.0  # one metropolis, so "size" has a clear winner

    cluster_names = TRADED + LOCAL
    cluster_ja = TRADED_JA + LOCAL_JA
    cluster_codes = [f"C{i + 1:02d}" for i in range(len(cluster_names))]
    n_ind = len(cluster_codes) * industries_per_cluster
    industry_cluster = np.repeat(np.arange(len(cluster_codes)), industries_per_cluster)
    weights = rng.lognormal(0.0, 0.5, size=n_ind)
    weights /= weights.sum()
    industries = [f"{311000 + i * 10}" for i in range(n_ind)]

    boost = np.ones((len(counties), len(cluster_codes)))
    growth = np.zeros_like(boost)
    for p in PLANTED:
        r, c = counties.index(p.region), cluster_codes.index(p.cluster)
        boost[r, c], growth[r, c] = p.boost, p.growth

    rows_region, rows_ind, rows_year, emp_out, est_out, pay_out, flag_out, class_out = ([] for _ in range(8))
    wage = rng.uniform(35.0, 80.0, size=len(cluster_codes)) * 1000  # currency units per job (35,000-80,000)
    for t, year in enumerate(years):
        trend = (1.0 + growth) ** t  # counties × clusters
        mult = boost * trend
        noise = rng.lognormal(0.0, 0.10, size=(len(counties), n_ind))
        emp = np.round(size[:, None] * weights[None, :] * mult[:, industry_cluster] * noise * 12)
        est = np.maximum(1, np.round(emp / rng.uniform(8, 30, size=emp.shape)))
        pay = np.round(emp * wage[industry_cluster][None, :] * rng.lognormal(0, 0.05, size=emp.shape))
        withheld = rng.random(emp.shape) < suppressed_share
        for r, region in enumerate(counties):
            for i in range(n_ind):
                rows_region.append(region)
                rows_ind.append(industries[i])
                rows_year.append(year)
                if withheld[r, i]:
                    emp_out.append(None)
                    pay_out.append(None)
                    flag_out.append("suppressed")
                    class_out.append(_size_class(emp[r, i]))
                else:
                    emp_out.append(float(emp[r, i]))
                    pay_out.append(float(pay[r, i]))
                    flag_out.append("")
                    class_out.append(None)
                est_out.append(float(est[r, i]))
    observations = pa.table({
        "region": rows_region, "industry": rows_ind, "year": pa.array(rows_year, pa.int32()),
        "employment": pa.array(emp_out, pa.float64()), "establishments": est_out,
        "payroll": pa.array(pay_out, pa.float64()), "flag": flag_out,
        "size_class": pa.array(class_out, pa.string()),
    })
    n_sub = 3
    definitions = pa.table({
        "industry": industries,
        "cluster": [cluster_codes[c] for c in industry_cluster],
        "type": ["traded" if c < len(TRADED) else "local" for c in industry_cluster],
        "subcluster": [f"{cluster_codes[c]}.{(i % industries_per_cluster) % n_sub + 1}"
                       for i, c in enumerate(industry_cluster)],
        "cluster_name": [cluster_names[c] for c in industry_cluster],
        "cluster_name_ja": [cluster_ja[c] for c in industry_cluster],
    })
    region_rows = [("NATION", "Sampleland", "サンプル国", "country", None)]
    region_rows += [(code, name, ja, "state", "NATION") for code, name, ja in STATES]
    for code, name, ja in STATES:
        region_rows += [(f"{code}C{k}", f"{name} County {k}", f"{ja}第{k}郡", "county", code)
                        for k in range(1, counties_per_state + 1)]
    regions = pa.table({
        "region": [r[0] for r in region_rows], "name": [r[1] for r in region_rows],
        "name_ja": [r[2] for r in region_rows], "level": [r[3] for r in region_rows],
        "parent": [r[4] for r in region_rows],
    })
    # A custom region across a state border; S1C1 is listed twice on purpose
    # (directly and through state S1) to show that no job is counted twice.
    custom = pa.table({
        "region": ["CORRIDOR"] * 3, "member": ["S1", "S1C1", "S2C1"],
        "name": ["North-East Corridor"] * 3, "name_ja": ["北東回廊"] * 3,
    })
    # Counties on a grid: state = row, county number = column; rook neighbours.
    grid = {(r, k): f"{code}C{k}" for r, (code, _, _) in enumerate(STATES) for k in range(1, counties_per_state + 1)}
    links = [(name, grid[(r + dr, k + dk)]) for (r, k), name in grid.items()
             for dr, dk in ((-1, 0), (1, 0), (0, -1), (0, 1)) if (r + dr, k + dk) in grid]
    neighbors = pa.table({"region": [a for a, _ in links], "neighbor": [b for _, b in links]})
    return Sample(observations, definitions, regions, custom, neighbors, PLANTED)
