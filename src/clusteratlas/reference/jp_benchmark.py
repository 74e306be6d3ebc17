"""The US benchmark clusters carried onto the Japan Standard Industrial Classification (JSIC), shipped.

The Delgado–Porter–Stern benchmark (51 traded and 16 local clusters, with
subclusters, on NAICS 2012) is carried to JSIC Rev. 13 in three steps, with
:func:`clusteratlas.reference.benchmark.carry`:

1. NAICS 2012 → NAICS 2017 (the Census Bureau's concordance);
2. NAICS 2017 → ISIC Rev. 4 (UNSD's table);
3. ISIC Rev. 4 → JSIC Rev. 13 4-digit classes (UNSD's JSIC13–ISIC4 table, read
   backwards; each ISIC class's weight is shared evenly among its JSIC classes).

Where a link splits, every source votes with its US employment (CBP 2019,
summed over CBSAs, shared evenly over the codes a source links to), so a
class's *purity* is the employment share of the votes for the cluster it got,
counting the ISIC classes' own purity. 3-digit groups (小分類) take the cluster
most of their classes vote for, each class voting with its purity; a group's
purity is that vote's share of its classes.

JSIC Rev. 14 (2023) renumbered parts of retail; no machine-readable Rev. 13 →
14 table exists, so Rev. 14 codes are matched to Rev. 13 through the two code
lists: the same code with the same Japanese name, the same code renamed, or a
new code whose name is a Rev. 13 name (renumbered). Each Rev. 14 code says how
it was matched (``match``); unmatched codes are listed as lost.

The result ships in ``data/jp_benchmark_jsic13.csv``, ``…_jsic14.csv`` and
``…_lost.csv``; :func:`build` remakes them from the public files (the tests
check that the shipped files are what :func:`build` gives).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import unicodedata
from collections import defaultdict
from functools import cache
from importlib import resources
from pathlib import Path

import pyarrow as pa

from clusteratlas.errors import InputError
from clusteratlas.i18n import _
from clusteratlas.reference.benchmark import DEFINITION_COLUMNS, carry, read_cmp

JSIC_REVISIONS = (13, 14)
BENCHMARK_COLUMNS = (*DEFINITION_COLUMNS, "level", "purity", "alternatives", "name", "name_ja", "match")


def _data(name: str) -> str:
    return resources.files("clusteratlas.reference").joinpath("data", name).read_text(encoding="utf-8")


def _csv(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(_data(name))))


@cache
def cluster_names_ja() -> dict[str, str]:
    """Japanese names of the benchmark clusters (clusteratlas's translations), by English name."""
    return {r["cluster"]: r["name_ja"] for r in _csv("jp_cluster_names.csv")}


@cache
def jsic_names(revision: int = 13) -> dict[str, tuple[str | None, str | None]]:
    """JSIC code → (English name, Japanese name), for Rev. 13 or Rev. 14, every level."""
    if revision == 13:
        return {r["jsic13_code"]: (r["name_en"] or None, r["name_ja"] or None) for r in _csv("jsic13_codes.csv")}
    if revision == 14:
        return {r["code"]: (r["name_en"] or None, r["name_ja"] or None) for r in _csv("jsic14_codes.csv")}
    raise InputError(_("unknown JSIC revision"), value=revision, expected=_("13 or 14"))


def benchmark(revision: int = 13) -> pa.Table:
    """The shipped JSIC benchmark: definitions columns plus level, purity, alternatives, names and match."""
    if revision not in JSIC_REVISIONS:
        raise InputError(_("unknown JSIC revision"), value=revision, expected=_("13 or 14"))
    rows = _csv(f"jp_benchmark_jsic{revision}.csv")
    out = {c: [r.get(c) or None for r in rows] for c in BENCHMARK_COLUMNS}
    out["purity"] = [float(p) for p in out["purity"]]
    return pa.table({c: pa.array(v, pa.float64() if c == "purity" else pa.string()) for c, v in out.items()})


def definitions(revision: int = 13) -> pa.Table:
    """The benchmark as a definitions table (both 4-digit classes and 3-digit groups)."""
    return benchmark(revision).select(list(DEFINITION_COLUMNS))


def industries(revision: int = 13) -> pa.Table:
    """The JSIC code list (every level) as an industries table, Japanese and English names."""
    names = jsic_names(revision)
    rows = _csv("jsic13_codes.csv") if revision == 13 else _csv("jsic14_codes.csv")
    key = "jsic13_code" if revision == 13 else "code"
    return pa.table({"industry": [r[key] for r in rows], "classification": [f"jsic{revision}"] * len(rows),
                     "name": [names[r[key]][0] for r in rows], "name_ja": [names[r[key]][1] for r in rows],
                     "parent": [r["parent_code"] or None for r in rows]})


def lost(revision: int = 13) -> pa.Table:
    """Codes lost on the way: step, code, cluster (NAICS/ISIC codes no link carries; JSIC codes no cluster reaches)."""
    rows = [r for r in _csv("jp_benchmark_lost.csv") if r["revision"] in ("", str(revision))]
    return pa.table({c: pa.array([r[c] for r in rows], pa.string()) for c in ("step", "code", "cluster", "note")})


# ------------------------------------------------------------------ build (from the public files)

def _nfkc(text: str | None) -> str:
    return unicodedata.normalize("NFKC", text or "").replace("，", ",").replace(" ", "").strip()


def build(shared: str | Path) -> dict[str, list[dict]]:
    """Rows of the three shipped files, remade from the public files under ``shared`` (…/shared/data)."""
    shared = Path(shared)
    conc = shared / "jp" / "concordance"
    clusters = shared / "clusters"
    us = read_cmp(clusters / "cmp_naics_to_cluster.csv", vintage=2012,
                  subclusters=clusters / "naics_to_cluster_subcluster_noco_redi.csv")
    names_ja = cluster_names_ja()
    missing = sorted(set(us["cluster"].to_pylist()) - set(names_ja))
    if missing:
        raise InputError(_("clusters without a Japanese name"), value=", ".join(missing))
    us = us.set_column(us.schema.get_field_index("cluster_name_ja"), "cluster_name_ja",
                       pa.array([names_ja[c] for c in us["cluster"].to_pylist()], pa.string()))
    sizes: dict[str, float] = defaultdict(float)
    with gzip.open(shared / "us" / "cbp2019_cbsa_naics2017_emp_est.csv.gz", "rt", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if r["naics_level"] == "6" and r["emp"] not in ("", "NA"):
                sizes[r["naics_code"]] += float(r["emp"])
    step1 = _pairs(conc / "naics2012_naics2017.csv", "naics2012_code", "naics2017_code")
    # 2012 codes weigh with the employment of the 2017 codes they became (votes in the next steps)
    sizes12: dict[str, float] = defaultdict(float)
    for a, b in zip(step1["source"].to_pylist(), step1["target"].to_pylist(), strict=True):
        sizes12[a] += sizes.get(b, 0.0)
    step2 = _pairs(conc / "naics2017_isic4.csv", "naics2017_code", "isic4_code")
    with open(conc / "jsic13_isic4.csv", encoding="utf-8") as fh:
        jsic_rows = list(csv.DictReader(fh))
    n_jsic = defaultdict(int)
    for r in jsic_rows:
        n_jsic[r["isic4_code"]] += 1
    step3 = pa.table({"source": [r["isic4_code"] for r in jsic_rows], "target": [r["jsic13_code"] for r in jsic_rows],
                      "weight": pa.array([1.0 / n_jsic[r["isic4_code"]] for r in jsic_rows], pa.float64())})
    # shares of a NAICS code's employment over the targets it splits into
    step1 = _shares(step1)
    step2 = _shares(step2)
    labels = ("NAICS 2012 → 2017", "NAICS 2017 → ISIC Rev. 4", "ISIC Rev. 4 → JSIC Rev. 13")
    c1 = carry(us, step1, sizes=dict(sizes12))
    c2 = carry(c1.definitions, step2, sizes=c1.sizes)
    c3 = carry(c2.definitions, step3, sizes=c2.sizes)
    # purity over the whole chain: the share of a class's employment votes that come, for its cluster,
    # from ISIC classes that were themselves that pure
    isic = {r["industry"]: r["cluster"] for r in c2.definitions.to_pylist()}
    isic_purity = {r["industry"]: r["purity"] for r in c2.split.to_pylist()}
    agree: dict[str, float] = defaultdict(float)
    total: dict[str, float] = defaultdict(float)
    alternatives: dict[str, set] = defaultdict(set)
    final = {r["industry"]: r["cluster"] for r in c3.definitions.to_pylist()}
    for s, t, w in zip(*(step3[c].to_pylist() for c in ("source", "target", "weight")), strict=True):
        if s not in isic or t not in final:
            continue
        vote = w * (c2.sizes or {}).get(s, 0.0)
        total[t] += vote
        if isic[s] == final[t]:
            agree[t] += vote * isic_purity.get(s, 1.0)
        else:
            alternatives[t].add(isic[s])
    names13 = jsic_names(13)
    classes = c3.definitions.to_pylist()
    rows13 = []
    for r in sorted(classes, key=lambda r: r["industry"]):
        t = r["industry"]
        purity = agree[t] / total[t] if total[t] else 1.0
        rows13.append(_row(r, "4", purity, "; ".join(sorted(alternatives[t])), names13))
    # 3-digit groups: each class votes for its cluster with its purity (classes have no Japanese employment
    # of their own here; US employment carried through many-to-many links would let one large US industry
    # outvote the group's main classes)
    votes: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    sub_votes: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    by_cluster = {}
    for r, row in zip(sorted(classes, key=lambda r: r["industry"]), rows13, strict=True):
        weight = max(float(row["purity"]), 1e-6)
        votes[r["industry"][:3]][r["cluster"]] += weight
        sub_votes[(r["industry"][:3], r["cluster"])][r["subcluster"] or ""] += weight
        by_cluster.setdefault(r["cluster"], r)
    for group in sorted(votes):
        ranked = sorted(votes[group].items(), key=lambda kv: (-kv[1], kv[0]))
        cluster, best = ranked[0]
        n_classes = sum(1 for r in classes if r["industry"][:3] == group)
        sub = sorted(sub_votes[(group, cluster)].items(), key=lambda kv: (-kv[1], kv[0]))[0][0] or None
        template = {**by_cluster[cluster], "industry": group, "subcluster": sub}
        rows13.append(_row(template, "3", best / n_classes if n_classes else 1.0,
                           "; ".join(c for c, _ in ranked[1:]), names13))
    lost_rows = [{"revision": "", "step": label, "code": r["industry"], "cluster": r["cluster"],
                  "note": "no link in this step's concordance"}
                 for label, c in zip(labels, (c1, c2, c3), strict=True) for r in c.lost.to_pylist()]
    linked = {r["industry"] for r in rows13}
    for code, (en, ja) in sorted(names13.items()):
        if len(code) == 4 and code.isdigit() and code not in linked:
            lost_rows.append({"revision": "13", "step": "JSIC Rev. 13 classes no cluster reaches", "code": code,
                              "cluster": "",
                              "note": f"no cluster reaches it ({ja} / {en})"})
    rows14, lost14 = _to_rev14(rows13, shared / "jp" / "kobesoft_jsic-data" / "jsic-en.json")
    return {"jsic13": rows13, "jsic14": rows14, "lost": lost_rows + lost14, "jsic14_codes": _rev14_codes(
        shared / "jp" / "kobesoft_jsic-data" / "jsic-en.json")}


def _pairs(path: Path, source: str, target: str) -> pa.Table:
    with open(path, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    pairs = sorted({(r[source].strip(), r[target].strip()) for r in rows if r[source].strip() and r[target].strip()})
    return pa.table({"source": [a for a, _ in pairs], "target": [b for _, b in pairs],
                     "weight": pa.array([1.0] * len(pairs), pa.float64())})


def _shares(table: pa.Table) -> pa.Table:
    """Split each source's weight evenly over its targets (a source's employment is not counted twice)."""
    n = defaultdict(int)
    for s in table["source"].to_pylist():
        n[s] += 1
    return table.set_column(2, "weight", pa.array([1.0 / n[s] for s in table["source"].to_pylist()], pa.float64()))


def _row(r: dict, level: str, purity: float, alternatives: str, names: dict, match: str = "") -> dict:
    en, ja = names.get(r["industry"], (None, None))
    return {**{c: r.get(c) for c in DEFINITION_COLUMNS}, "level": level, "purity": f"{purity:.4f}",
            "alternatives": alternatives or "", "name": en or "", "name_ja": ja or "", "match": match}


def _rev14_codes(path: Path) -> list[dict]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    out = []

    def walk(nodes: list[dict], parent: str, level: int, keys: tuple[str, ...]) -> None:
        for node in nodes:
            out.append({"code": node["code"], "level": str(level), "parent_code": parent,
                        "name_ja": node.get("name") or "", "name_en": node.get("name_en") or ""})
            if keys:
                walk(node.get(keys[0], []), node["code"], level + 1, keys[1:])

    walk(doc["major_categories"], "", 1, ("middle_categories", "minor_categories", "detail_categories"))
    return out


def _to_rev14(rows13: list[dict], path: Path) -> tuple[list[dict], list[dict]]:
    """Rev. 14 codes (levels 3 and 4) matched to Rev. 13 codes by code and Japanese name."""
    codes14 = [c for c in _rev14_codes(path) if c["level"] in ("3", "4")]
    by_code = {r["industry"]: r for r in rows13}
    names13 = jsic_names(13)
    by_name: dict[tuple[int, str], list[str]] = defaultdict(list)
    for code, (_en, ja) in names13.items():
        if code.isdigit() and len(code) in (3, 4):
            by_name[(len(code), _nfkc(ja))].append(code)
    out, lost_rows = [], []
    names14 = {c["code"]: (c["name_en"], c["name_ja"]) for c in codes14}
    for c in codes14:
        code, ja = c["code"], c["name_ja"]
        same = by_code.get(code)
        old_ja = names13.get(code, (None, None))[1]
        renamed = [x for x in by_name.get((len(code), _nfkc(ja)), []) if x in by_code]
        if same and _nfkc(old_ja) == _nfkc(ja):
            src, match = same, "same code, same name"
        elif renamed:
            src, match = by_code[renamed[0]], f"renumbered: Rev. 13 {renamed[0]} has the same name"
        elif same:
            src, match = same, f"same code, renamed (Rev. 13: {old_ja})"
        else:
            lost_rows.append({"revision": "14", "step": "JSIC Rev. 13 → Rev. 14 (code lists)", "code": code,
                              "cluster": "", "note": f"no Rev. 13 code of that number or name ({ja})"})
            continue
        row = _row({**src, "industry": code}, c["level"], float(src["purity"]), src["alternatives"], names14, match)
        out.append(row)
    return out, lost_rows


def write(shared: str | Path, folder: str | Path | None = None) -> None:
    """Write the shipped files (into the package's data folder by default)."""
    folder = Path(folder) if folder else Path(__file__).parent / "data"
    built = build(shared)
    files = {"jsic13": ("jp_benchmark_jsic13.csv", BENCHMARK_COLUMNS),
             "jsic14": ("jp_benchmark_jsic14.csv", BENCHMARK_COLUMNS),
             "lost": ("jp_benchmark_lost.csv", ("revision", "step", "code", "cluster", "note")),
             "jsic14_codes": ("jsic14_codes.csv", ("code", "level", "parent_code", "name_ja", "name_en"))}
    for key, (name, cols) in files.items():
        with open(folder / name, "w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(cols), extrasaction="ignore", lineterminator="\n")
            writer.writeheader()
            writer.writerows(built[key])


if __name__ == "__main__":  # python -m clusteratlas.reference.jp_benchmark ../shared/data
    import sys

    write(sys.argv[1])
