"""The registry of Japanese cluster programmes, and the NISTEP (2004) reference results.

``data/jp_cluster_programmes.yaml`` transcribes the Industrial Cluster Plan
(METI: three phases, 18 projects and their fields), the Knowledge Cluster
Initiative's second stage (MEXT: 13 regions with fields and start years), the
City Area programme (MEXT: 30 areas, general or development type), the 65
full members of the national network of innovation promotion bodies, and the
17 candidate regions NISTEP surveyed. Each entry names the prefectures (or
the METI bureau) it lies in, so that it becomes a custom region of the atlas
and joins the quantitative results (``clusteratlas reference jp-programmes``).

``data/nistep_2004_averages.csv`` is NISTEP's published table of ◎○△
averages by formation base (7 knowledge-based and 6 enterprise-based
regions); ``data/nistep_2004_profiles.csv`` holds its three worked profiles
(Sapporo IT, Fukui nano, Kobe bio) in the assessment file format.
"""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources
from pathlib import Path

import pyarrow as pa

from clusteratlas.errors import InputError

PROGRAMMES = {
    "industrial-cluster-plan": ("industrial_cluster_plan", "projects"),
    "knowledge-cluster": ("knowledge_cluster_initiative", "regions"),
    "city-area": ("city_area_programme", "areas"),
    "innovation-network": ("innovation_network", "members"),
    "nistep-candidates": ("nistep_candidate_regions", "regions"),
}


def _data(name: str):
    return resources.files("clusteratlas.reference").joinpath("data", name)


@cache
def registry() -> dict:
    """The whole registry document."""
    import yaml

    return yaml.safe_load(_data("jp_cluster_programmes.yaml").read_text(encoding="utf-8"))


def _region_ids(entry: dict) -> list[str]:
    if entry.get("region"):
        return [entry["region"]]
    return [f"{p}000" for p in entry.get("prefectures") or ([entry["prefecture"]] if entry.get("prefecture") else [])]


def programme_table(name: str | None = None) -> pa.Table:
    """Entries of one programme (or all), one row each, with fields and atlas region ids joined as text."""
    names = [name] if name else list(PROGRAMMES)
    doc = registry()
    rows = []
    for key in names:
        if key not in PROGRAMMES:
            raise InputError("unknown programme", value=key, expected=", ".join(PROGRAMMES))
        section, items = PROGRAMMES[key]
        fields = doc["fields"]
        for n, entry in enumerate(doc[section][items], start=1):
            rows.append({
                "programme": key, "id": entry.get("id") or f"{key}-{n:02d}", "name": entry.get("name"),
                "name_ja": entry.get("name_ja"), "start": entry.get("start"), "type": entry.get("type"),
                "fields": ", ".join(fields[f]["name"] for f in entry.get("fields", [])),
                "fields_ja": "、".join(fields[f]["name_ja"] for f in entry.get("fields", [])),
                "regions": " ".join(_region_ids(entry)),
                "parts": len(entry.get("parts", [])),
            })
    return pa.Table.from_pylist(rows, schema=pa.schema([
        ("programme", pa.string()), ("id", pa.string()), ("name", pa.string()), ("name_ja", pa.string()),
        ("start", pa.int64()), ("type", pa.string()), ("fields", pa.string()), ("fields_ja", pa.string()),
        ("regions", pa.string()), ("parts", pa.int64())]))


def programme_regions() -> pa.Table:
    """Custom regions for the atlas: each programme entry with a place, its members the prefectures or bureau."""
    rows = []
    for r in programme_table().to_pylist():
        if r["programme"] == "innovation-network" or not r["regions"]:
            continue
        for member in r["regions"].split():
            rows.append({"region": f"{r['programme']}:{r['id']}", "member": member, "name": r["name"],
                         "name_ja": r["name_ja"]})
    return pa.Table.from_pylist(rows)


def nistep_profiles_path() -> Path:
    """The three worked ◎○△ profiles of NISTEP (2004), as an assessment file."""
    with resources.as_file(_data("nistep_2004_profiles.csv")) as path:
        return Path(path)


def nistep_published_averages() -> pa.Table:
    """NISTEP's published averages (group, assessments, column, factor, mean)."""
    text = _data("nistep_2004_averages.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    return pa.table({"group": [r["group"] for r in rows], "assessments": [int(r["assessments"]) for r in rows],
                     "column": [r["column"] for r in rows], "factor": [r["factor"] for r in rows],
                     "mean": [float(r["mean"]) for r in rows]})
