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
from clusteratlas.i18n import _

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


def programme_name(programme: str) -> tuple[str | None, str | None]:
    """The (English, Japanese) name of a programme of :data:`PROGRAMMES` (``industrial-cluster-plan``: 産業クラスター
    計画), as the registry gives it; (None, None) for an unknown id."""
    if programme not in PROGRAMMES:
        return None, None
    section = registry()[PROGRAMMES[programme][0]]
    return section.get("name"), section.get("name_ja")


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
            raise InputError(_("unknown programme"), value=key, expected=", ".join(PROGRAMMES))
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


def _entries() -> list[tuple[str, str, dict]]:
    """(programme, id, entry) of every registry entry with a place (the innovation network's bodies aside)."""
    doc = registry()
    found = []
    for key, (section, items) in PROGRAMMES.items():
        if key == "innovation-network":
            continue
        for n, entry in enumerate(doc[section][items], start=1):
            if _region_ids(entry) or entry.get("municipalities"):
                found.append((key, entry.get("id") or f"{key}-{n:02d}", entry))
    return found


@dataclass
class Members:
    """Where a programme region's statistics come from, and what of it the data lack."""

    basis: str  # "municipalities", "prefectures" or "bureau"
    members: list[str]  # the region ids it is rolled up from
    listed: list[str]  # the places the registry lists on that basis
    missing: list[str]  # listed places the data do not hold
    lacking_municipalities: list[str]  # named cities not in the data (when it fell back to prefectures)

    @property
    def share(self) -> float:
        """Share of the listed places the data hold (1 when nothing is missing)."""
        return 1 - len(self.missing) / len(self.listed) if self.listed else 0.0


def members(entry: dict, observed: set[str] | None) -> Members:
    """A programme region's members: its named cities when the data hold any of them, else its prefectures
    (or METI bureau). ``observed`` None means "not known yet" (nothing is reported missing)."""
    cities = list(entry.get("municipalities") or [])
    places = _region_ids(entry)
    basis = "bureau" if entry.get("region") else "prefectures"
    known = observed if observed is not None else set(places) | set(cities)
    if cities and (set(cities) & known or not places):
        return Members("municipalities", cities, cities, [c for c in cities if c not in known], [])
    lacking = [c for c in cities if c not in known] if observed is not None else []
    missing = [p for p in places if p not in known] if basis == "prefectures" else []
    return Members(basis, places, places, missing, lacking)


def municipality_regions() -> pa.Table:
    """The cities the registry names, as regions (level municipality, parent their prefecture)."""
    rows = list(csv.DictReader(_data("jp_programme_municipalities.csv").read_text(encoding="utf-8").splitlines()))
    return pa.table({"region": [r["region"] for r in rows], "name": [r["name"] for r in rows],
                     "name_ja": [r["name_ja"] for r in rows], "level": ["municipality"] * len(rows),
                     "parent": [r["parent"] for r in rows], "hierarchy": ["prefecture"] * len(rows)})


def programme_regions(observed: set[str] | None = None) -> pa.Table:
    """Custom regions for the atlas: each programme entry with a place, rolled up from its named cities when
    ``observed`` (the regions the data hold) has any of them, else from its prefectures or METI bureau."""
    rows = []
    for key, id_, entry in _entries():
        for member in members(entry, observed).members:
            rows.append({"region": f"{key}:{id_}", "member": member, "name": entry.get("name"),
                         "name_ja": entry.get("name_ja")})
    return pa.Table.from_pylist(rows)


def coverage(observed: set[str], names: dict[str, str] | None = None) -> list[dict]:
    """Programme regions the data cover only in part (or not at all), with what is missing, for a warning.

    ``kind`` is ``none`` (no data: not rated), ``part`` (some listed prefectures or cities missing) or ``whole``
    (the named cities are not in the data: rated from their whole prefecture)."""
    from clusteratlas.i18n import _

    names = names or {}

    def named(codes: list[str]) -> str:
        return ", ".join(f"{names[c]} ({c})" if names.get(c) else c for c in codes)

    found = []
    for key, id_, entry in _entries():
        m = members(entry, observed)
        if not m.missing and not m.lacking_municipalities:
            continue
        parts = []
        if m.missing:
            parts.append(_("{found} of {listed} listed {basis} in the data ({share:.0%}); missing {missing}").format(
                found=len(m.listed) - len(m.missing), listed=len(m.listed), basis=_(m.basis), share=m.share,
                missing=named(m.missing)))
        held = [c for c in m.members if c not in m.missing]
        if m.lacking_municipalities:
            parts.append(_("{regions} not in the data").format(regions=named(m.lacking_municipalities)) + (
                _(", rated from {regions} as a whole").format(regions=named(held)) if held else ""))
        if not held:
            parts.append(_("no data for this region: not rated"))
        kind = "none" if not held else "part" if m.missing else "whole"
        found.append({"region": f"{key}:{id_}", "name": entry.get("name"), "share": m.share,
                      "note": "; ".join(parts), "kind": kind})
    return found


def observed_regions(con) -> set[str]:
    """The regions an atlas's observations hold."""
    return {r[0] for r in con.execute("SELECT DISTINCT region FROM observations").fetchall()}


def region_names(con) -> dict[str, str]:
    """Region id -> name in the current language, for notes."""
    from clusteratlas import i18n

    return {r: i18n.name(en, ja) for r, en, ja in con.execute("SELECT region, name, name_ja FROM regions").fetchall()
            if en or ja}


def is_programme_region(region: str) -> bool:
    """Whether ``region`` is a programme's region (``programme:id``, the programme one of :data:`PROGRAMMES`)."""
    return ":" in region and region.split(":", 1)[0] in PROGRAMMES


def profile_notes(con, region: str, rows: pa.Table) -> list[str]:
    """Lines under a programme region's profile: its coverage and its declared fields beside their statistics
    (the benchmark clusters each field is read from, with LQ and stars), as plain text. Empty for other regions.

    ``rows`` needs the columns cluster, lq and stars of the region's clusters (NaN or null LQ shows as —), and may
    have cluster_name and cluster_name_ja (a cluster is then named in the current language)."""
    from clusteratlas import i18n
    from clusteratlas.i18n import _

    if not is_programme_region(region):
        return []
    lines = [_("coverage:") + f" {c['note']}" for c in coverage(observed_regions(con), region_names(con))
             if c["region"] == region]
    stats = {r["cluster"]: r for r in rows.to_pylist()}
    for f in declared_fields(region):
        cells = []
        for cluster in f["clusters"]:
            r = stats.get(cluster)
            named = i18n.name(r.get("cluster_name"), r.get("cluster_name_ja")) if r else None
            if r and r["lq"] is not None and r["lq"] != r["lq"]:  # NaN: no LQ
                r = None
            cells.append(f"{named or cluster} LQ {r['lq']:.2f} {'★' * (r['stars'] or 0)}".rstrip()
                         if r and r["lq"] is not None else f"{named or cluster} —")
        lines.append(_("declared field {name}: ").format(name=i18n.name(f["name"], f["name_ja"])) + "; ".join(cells))
    return lines


def declared_fields(region: str) -> list[dict]:
    """The fields a programme region declares, each with the benchmark clusters its statistics are read from."""
    key, _, id_ = region.partition(":")
    fields = registry()["fields"]
    for k, i, entry in _entries():
        if (k, i) == (key, id_):
            return [{"field": f, "name": fields[f]["name"], "name_ja": fields[f]["name_ja"],
                     "clusters": list(fields[f].get("clusters", []))} for f in entry.get("fields", [])]
    return []


def nistep_profiles_path() -> Path:
    """The three worked ◎○△ profiles of NISTEP (2004), as an assessment file."""
    with resources.as_file(_data("nistep_2004_profiles.csv")) as path:
        return Path(path)


#: The framework and the grouping the published averages are for.
NISTEP_FRAMEWORK = "nistep-jp-15"
NISTEP_GROUPING = "formation_base"


@cache
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


def published_group_name(group: str) -> tuple[str | None, str | None]:
    """(English, Japanese) name of a report's group when it is one of NISTEP's published groups (matched by any of
    its labels, as :func:`published_beside` matches them), else (None, None)."""
    for r in nistep_published_averages().to_pylist():
        if _label_key(group) in {_label_key(x) for x in (r["group"], r["group_name"], r["group_name_ja"])}:
            return r["group_name"], r["group_name_ja"]
    return None, None


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
