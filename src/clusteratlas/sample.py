"""A seeded synthetic economy with planted clusters of known strength.

The demo runs on it, and tests use what is planted in it as ground truth.
Regions come at two levels (36 counties inside 6 states, on a 6 × 6 grid)
plus one custom region. The industries are real six-digit NAICS 2017 codes
grouped as the US benchmark cluster definition (Delgado, Porter and Stern)
groups them (``data/sample_industries.csv``: 156 codes in 15 traded and 5
local clusters, with their subclusters and English and Japanese names);
several years; some cells withheld with a CBP size class.

Employment of county r in industry i is ``size_r × weight_i × noise``, times:

- ``boost`` for the planted clusters (:data:`PLANTED`), each stating the
  ratings it must earn;
- a *capability* pattern, so that economic complexity has something to find:
  each county has a capability ``c_r`` in [0, 1] and most traded clusters a
  complexity ``k_c`` in [-1, 1]; the factor ``exp((c_r - ½) ×
  (TRADED_INTENSITY + CAPABILITY_STRENGTH × k_c))`` on those clusters (0.61
  to 1.65) gives capable counties more traded jobs, most of all in complex
  clusters, and the others more local jobs and simple clusters. Capable
  counties are then specialised in more clusters (diversity rises with
  ``c_r``, which orients ECI), the region × cluster network is connected,
  ECI ranks the counties by ``c_r`` and PCI the clusters by ``k_c``;
- spatial *hills* (:data:`HILLS`): a cluster raised around a county, most
  there and less with distance, so that hot-spot statistics find them.

No factor other than a planted boost takes a location quotient to 2, so the
only specialisation stars are the planted ones.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from clusteratlas.reference.size_classes import SIZE_CLASS_RANGES

STATES = [("S1", "North", "北"), ("S2", "East", "東"), ("S3", "South", "南"), ("S4", "West", "西"),
          ("S5", "Central", "中央"), ("S6", "Coast", "沿岸")]


@dataclass(frozen=True)
class SampleCluster:
    """A cluster of the sample: its names, type, share of the nation's jobs and complexity."""

    code: str
    name: str
    name_ja: str
    type: str
    share: float  # share of all jobs, before the planted factors (normalised over the clusters)
    complexity: float | None  # k_c in [-1, 1]; None: not sorted by capability (local clusters, the hills')


#: The clusters, named as the US benchmark definition names them (Japanese as clusteratlas's JSIC benchmark).
CLUSTERS = (
    SampleCluster("C01", "Automotive", "自動車", "traded", 0.020, 0.0),
    SampleCluster("C02", "Biopharmaceuticals", "医薬品（バイオ医薬品）", "traded", 0.006, 1.0),
    SampleCluster("C03", "Information Technology and Analytical Instruments", "情報技術・分析機器", "traded",
                  0.020, 1.0),
    SampleCluster("C04", "Aerospace Vehicles and Defense", "航空宇宙・防衛", "traded", 0.008, 0.8),
    SampleCluster("C05", "Apparel", "アパレル", "traded", 0.005, -1.0),
    SampleCluster("C06", "Financial Services", "金融サービス", "traded", 0.030, 0.6),
    SampleCluster("C07", "Medical Devices", "医療機器", "traded", 0.006, 0.8),
    SampleCluster("C08", "Plastics", "プラスチック", "traded", 0.010, -0.6),
    SampleCluster("C09", "Food Processing and Manufacturing", "食品加工・製造", "traded", 0.020, None),
    SampleCluster("C10", "Metalworking Technology", "金属加工技術", "traded", 0.010, -0.2),
    SampleCluster("C11", "Education and Knowledge Creation", "教育・知識創造", "traded", 0.040, 0.6),
    SampleCluster("C12", "Marketing, Design, and Publishing", "マーケティング・デザイン・出版", "traded", 0.020, 0.4),
    SampleCluster("C13", "Printing Services", "印刷サービス", "traded", 0.008, -0.4),
    SampleCluster("C14", "Transportation and Logistics", "運輸・物流", "traded", 0.030, -0.4),
    SampleCluster("C15", "Hospitality and Tourism", "宿泊・観光", "traded", 0.040, None),
    SampleCluster("C16", "Local Health Services", "地域型：保健医療サービス", "local", 0.140, None),
    SampleCluster("C17", "Local Retailing of Clothing and General Merchandise", "地域型：衣料品・総合小売", "local",
                  0.060, None),
    SampleCluster("C18", "Local Food and Beverage Processing and Distribution", "地域型：飲食料品の加工・流通",
                  "local", 0.080, None),
    SampleCluster("C19", "Local Real Estate, Construction, and Development", "地域型：不動産・建設・開発", "local",
                  0.100, None),
    SampleCluster("C20", "Local Utilities", "地域型：公益事業", "local", 0.020, None),
)
#: How strongly capability sorts complex clusters into capable counties (factor exp(±strength / 2)).
CAPABILITY_STRENGTH = 0.3
#: How much more of their jobs capable counties have in traded clusters (factor exp(±intensity / 2)): they are
#: specialised in more clusters than the others, whose jobs are more local, so diversity rises with capability.
TRADED_INTENSITY = 0.7


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
    #: The county's capability (see the module docstring): a county's strong cluster sits among related ones.
    capability: float = 0.5


#: The planted clusters. Boosts are large enough that the expected ratings
#: hold for every seed of the generator's noise.
PLANTED = (
    Planted("S1C1", "C01", 6.0, 0.00, True, True, True, 1.0),     # the metropolis, big boost: 3 stars, strong
    Planted("S2C3", "C02", 5.0, 0.00, True, True, False, 0.9),    # specialised, strong
    Planted("S3C2", "C03", 4.0, 0.08, True, True, False, 0.85),   # growing 8 % a year
    Planted("S4C5", "C04", 8.0, 0.00, True, True, False, 0.8),
    Planted("S5C1", "C05", 5.0, -0.05, True, True, False, 0.1),   # declining 5 % a year
)


@dataclass(frozen=True)
class Hill:
    """A cluster raised around a county: by ``peak`` there, by ``1 + (peak - 1) exp(-d² / 2)`` at grid distance
    ``d`` (neighbours ×1.45, diagonal ×1.28 for a peak of 1.75): a spatial hot spot for LISA and Gi* to find."""

    cluster: str
    centre: str
    peak: float

    def factor(self, county: str) -> float:
        """The factor of a county (``SnCk``: state n is the row, k the column of the grid)."""
        (r0, c0), (r1, c1) = (_cell(self.centre), _cell(county))
        return 1.0 + (self.peak - 1.0) * math.exp(-((r1 - r0) ** 2 + (c1 - c0) ** 2) / 2.0)


def _cell(county: str) -> tuple[int, int]:
    state, number = county[1:].split("C")
    return int(state), int(number)


#: The hills: food processing in the south-east of the grid, hospitality and tourism on the coast.
HILLS = (
    Hill("C09", "S5C5", 1.75),
    Hill("C15", "S6C2", 1.75),
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
    industries: pa.Table | None = None
    indicators: pa.Table | None = None
    #: Capability ``c_r`` of each county (what economic complexity should recover).
    capability: dict[str, float] | None = None

    def write(self, folder: str | Path) -> dict[str, Path]:
        """Write the tables as UTF-8 CSV files (and the map and demo assessments); return their paths by kind."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {
            "observations": folder / "observations.csv",
            "definitions": folder / "definitions.csv",
            "regions": folder / "regions.csv",
            "custom-regions": folder / "custom_regions.csv",
            "weights": folder / "neighbors.csv",
            "industries": folder / "industries.csv",
            "indicators": folder / "patents.csv",
            "assessments": folder / "assessments.csv",
            "geometry-county": folder / "geometry_county.geojson",
            "geometry-state": folder / "geometry_state.geojson",
        }
        for kind, table in (("observations", self.observations), ("definitions", self.definitions),
                            ("regions", self.regions), ("custom-regions", self.custom_regions),
                            ("weights", self.neighbors), ("industries", self.industries),
                            ("indicators", self.indicators)):
            if table is not None:
                pacsv.write_csv(table, paths[kind])
        with resources.as_file(_data("sample_assessments.csv")) as source:
            shutil.copyfile(source, paths["assessments"])
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


def _data(name: str):
    return resources.files("clusteratlas").joinpath("data", name)


def sample_industries() -> list[dict[str, str]]:
    """The sample's industries: cluster, subcluster, NAICS 2017 code, English and Japanese name (one per row)."""
    return list(csv.DictReader(_data("sample_industries.csv").read_text(encoding="utf-8").splitlines()))


def _size_class(value: float) -> str:
    for letter, (low, high) in SIZE_CLASS_RANGES.items():
        if value >= low and (high is None or value <= high):
            return letter
    return "A"


def generate_sample(seed: int = 7, *, counties_per_state: int = 6,
                    years: tuple[int, ...] = (2015, 2016, 2017, 2018, 2019, 2020),
                    suppressed_share: float = 0.02) -> Sample:
    """Generate the synthetic economy (deterministic for a given seed)."""
    rng = np.random.default_rng(seed)
    counties = [f"{s}C{k}" for s, _, _ in STATES for k in range(1, counties_per_state + 1)]
    size = rng.lognormal(mean=10.0, sigma=0.6, size=len(counties))
    size[counties.index("S1C1")] *= 4.0  # one metropolis, so "size" has a clear winner
    capability = rng.uniform(0.0, 1.0, size=len(counties))
    for p in PLANTED:
        capability[counties.index(p.region)] = p.capability

    listed = sample_industries()
    codes = [c.code for c in CLUSTERS]
    industries = [r["industry"] for r in listed]
    industry_cluster = np.array([codes.index(r["cluster"]) for r in listed])
    n_ind = len(industries)
    # each industry's weight: its cluster's share of the nation, split unevenly among the cluster's industries
    within = rng.lognormal(0.0, 0.5, size=n_ind)
    totals = np.bincount(industry_cluster, weights=within)
    shares = np.array([c.share for c in CLUSTERS])
    weights = shares[industry_cluster] * within / totals[industry_cluster]
    weights /= weights.sum()

    sorted_ = np.array([c.complexity is not None for c in CLUSTERS], dtype=float)
    complexity = np.array([c.complexity or 0.0 for c in CLUSTERS])
    boost = np.exp(np.outer(capability - 0.5, sorted_ * (TRADED_INTENSITY + CAPABILITY_STRENGTH * complexity)))
    for hill in HILLS:
        boost[:, codes.index(hill.cluster)] *= [hill.factor(c) for c in counties]
    growth = np.zeros_like(boost)
    for p in PLANTED:
        r, c = counties.index(p.region), codes.index(p.cluster)
        boost[r, c] *= p.boost
        growth[r, c] = p.growth

    rows_region, rows_ind, rows_year, emp_out, est_out, pay_out, flag_out, class_out = ([] for _ in range(8))
    wage = rng.uniform(35.0, 80.0, size=len(codes)) * 1000  # currency units per job (35,000-80,000)
    scale = 12  # jobs per unit of size × weight: about 9.5 million jobs in all
    for t, year in enumerate(years):
        trend = (1.0 + growth) ** t  # counties × clusters
        mult = boost * trend
        noise = rng.lognormal(0.0, 0.10, size=(len(counties), n_ind))
        emp = np.round(size[:, None] * weights[None, :] * mult[:, industry_cluster] * noise * scale)
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
    by_code = {c.code: c for c in CLUSTERS}
    definitions = pa.table({
        "industry": industries,
        "cluster": [r["cluster"] for r in listed],
        "type": [by_code[r["cluster"]].type for r in listed],
        "subcluster": [r["subcluster"] for r in listed],
        "cluster_name": [by_code[r["cluster"]].name for r in listed],
        "cluster_name_ja": [by_code[r["cluster"]].name_ja for r in listed],
    })
    industry_table = pa.table({
        "industry": industries, "classification": ["naics2017"] * n_ind,
        "name": [r["name"] for r in listed], "name_ja": [r["name_ja"] for r in listed],
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
    indicators = _patents(rng, counties, years, observations, industries, industry_cluster)
    return Sample(observations, definitions, regions, custom, neighbors, PLANTED, industry_table, indicators,
                  dict(zip(counties, capability.round(6).tolist(), strict=True)))


#: The clusters whose jobs make patents in the sample's indicator.
INVENTIVE = ("C02", "C03", "C04", "C07", "C11")


def _patents(rng: np.random.Generator, counties: list[str], years: tuple[int, ...], observations: pa.Table,
             industries: list[str], industry_cluster: np.ndarray) -> pa.Table:
    """Patents granted per county and year (Poisson, about one per 200 jobs of the inventive clusters), and per
    state (its counties' sum)."""
    codes = [c.code for c in CLUSTERS]
    inventive = {industries[i] for i in range(len(industries)) if codes[industry_cluster[i]] in INVENTIVE}
    jobs: dict[tuple[str, int], float] = {}
    for region, industry, year, emp in zip(observations["region"].to_pylist(), observations["industry"].to_pylist(),
                                           observations["year"].to_pylist(), observations["employment"].to_pylist(),
                                           strict=True):
        if industry in inventive and emp is not None:
            jobs[(region, year)] = jobs.get((region, year), 0.0) + emp
    keys = [(r, y) for r in counties for y in years]
    values = dict(zip(keys, rng.poisson([jobs.get(k, 0.0) / 200.0 for k in keys]).astype(float).tolist(),
                      strict=True))
    for state, _, _ in STATES:  # the states' patents: their counties' sums
        for y in years:
            values[(state, y)] = sum(values[(f"{state}C{k}", y)] for k in range(1, len(counties) // len(STATES) + 1))
    return pa.table({"region": [r for r, _ in values], "year": pa.array([y for _, y in values], pa.int32()),
                     "value": list(values.values()), "indicator": ["patents"] * len(values),
                     "unit": ["NR"] * len(values)})
