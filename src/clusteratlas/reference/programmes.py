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
regions), its groups labelled as in the source (知的集積, 企業集積) and in
English; :func:`published_beside` matches a report's groups to it by any of
those labels. ``data/nistep_2004_profiles.csv`` holds its three worked profiles
(Sapporo IT, Fukui nano, Kobe bio) in the assessment file format.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
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


#: The framework and the grouping the published averages are for.
NISTEP_FRAMEWORK = "nistep-jp-15"
NISTEP_GROUPING = "formation_base"


def nistep_published_averages() -> pa.Table:
    """NISTEP's published averages (group, its English and Japanese names, assessments, column, factor, mean)."""
    text = _data("nistep_2004_averages.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    return pa.table({"group": [r["group"] for r in rows], "group_name": [r["group_name"] for r in rows],
                     "group_name_ja": [r["group_name_ja"] for r in rows],
                     "assessments": [int(r["assessments"]) for r in rows],
                     "column": [r["column"] for r in rows], "factor": [r["factor"] for r in rows],
                     "mean": [float(r["mean"]) for r in rows]})


def _label_key(text: str) -> str:
    """A group label reduced for matching: NFKC, case, spaces, '-', '_' and the suffixes 型 / based dropped."""
    text = re.sub(r"[\s_\-]+", "", unicodedata.normalize("NFKC", text)).casefold()
    return re.sub(r"(型|based)$", "", text)


@dataclass
class PublishedBeside:
    """The published averages re-labelled with a report's own group names, and a note when some or all miss."""

    table: pa.Table | None
    note: str | None
    unmatched: pa.Table | None = None  # published groups no report group matched, under their own ids


def published_beside(framework: str, by: str | None, groups: list[str]) -> PublishedBeside:
    """NISTEP's published averages for the groups of a report, matched by label in English or Japanese.

    A report grouped by ``formation_base`` with groups ``知的集積`` and ``enterprise`` gets the published
    ``knowledge`` and ``enterprise`` figures under its own labels. Where nothing can be matched — another
    framework, no grouping, labels that are none of the table's — the table is None and the note says why;
    where only some groups match, the note names the others.
    """
    ref = nistep_published_averages()
    published = {}
    for r in ref.to_pylist():
        published.setdefault(r["group"], (r["group_name"], r["group_name_ja"], r["assessments"]))
    labels = "; ".join(f"{g} / {en} / {ja} (n={n})" for g, (en, ja, n) in published.items())
    if framework != NISTEP_FRAMEWORK:
        return PublishedBeside(None, f"the published averages are for {NISTEP_FRAMEWORK} only, not {framework}")
    if by is None:
        return PublishedBeside(None, f"the published averages are by {NISTEP_GROUPING} ({labels}); "
                                     f"group with --by {NISTEP_GROUPING} to see them beside")
    keys = {_label_key(x): g for g, names in published.items() for x in (g, names[0], names[1])}
    match = {group: keys.get(_label_key(group)) for group in groups}
    rows = [{**r, "group": group} for group, g in match.items() if g for r in ref.to_pylist() if r["group"] == g]
    missing = [group for group, g in match.items() if not g]
    note = None
    if missing:
        note = (f"no published averages for group(s) {', '.join(missing)} of --by {by}: the published groups are "
                f"{labels}")
    if by != NISTEP_GROUPING and rows:
        note = (note + "; " if note else "") + f"the published groups are formation bases, matched here by label " \
               f"with --by {by}"
    taken = {g for g in match.values() if g}
    rest = [r for r in ref.to_pylist() if r["group"] not in taken and r["group"] not in match]
    return PublishedBeside(pa.Table.from_pylist(rows, schema=ref.schema) if rows else None, note,
                           pa.Table.from_pylist(rest, schema=ref.schema) if rest else None)
