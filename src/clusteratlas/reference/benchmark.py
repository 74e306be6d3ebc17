"""Benchmark cluster definitions and the industry concordances that carry them to other codes.

The US Cluster Mapping Project's benchmark definitions (Delgado, Porter and
Stern 2016: 51 traded and 16 local clusters with subclusters) are published
for NAICS 1997, 2002, 2007 and 2012. :func:`read_cmp` reads them as the
project's API serves them (``/data/meta/clusters``: a JSON list of clusters,
each with its NAICS codes, its year and its subclusters) or as the flat table
people usually keep (one row per vintage × NAICS code × cluster), optionally
with a NAICS → subcluster file.

:func:`carry` moves a definition onto another classification through a
concordance (``source``, ``target`` and an optional ``weight`` per pair): the
Census Bureau's NAICS 2012 → 2017 → 2022 tables, or NAICS → ISIC → NACE and
JSIC → ISIC for Europe and Japan. A target code takes the cluster that most of
its concordance weight comes from; when its sources disagree the code is
listed with the share of weight its cluster got (its *purity*), and source
codes the concordance does not place anywhere are listed as lost. Nothing is
dropped silently.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from clusteratlas.errors import InputError
from clusteratlas.i18n import _
from clusteratlas.sources.files import _check_exists, detect_encoding, sheet_rows

#: The NAICS vintages the benchmark definitions are published for.
CMP_VINTAGES = (1997, 2002, 2007, 2012)
#: Census concordance file names, by (from, to) vintage.
NAICS_CONCORDANCES = {(2002, 2007): "2002_to_2007_NAICS.xls", (2007, 2012): "2007_to_2012_NAICS.xls",
                      (2012, 2017): "2012_to_2017_NAICS.xlsx", (2017, 2022): "2017_to_2022_NAICS.xlsx"}
#: Other Census Bureau concordances, by name (NAICS 2017 → ISIC Rev. 4, the first step towards NACE).
CENSUS_CONCORDANCES = {"2017-isic4": "2017_NAICS_to_ISIC_4.xlsx"}
DEFINITION_COLUMNS = ("industry", "cluster", "type", "subcluster", "cluster_name", "cluster_name_ja")


def offline_route(steps: Sequence[tuple[int, int]] = (), naics: int | None = None) -> str:
    """How to load the benchmark without internet: the options that take local files, and which files."""
    wanted = f" --naics {naics}" if naics else ""
    conc = "".join(f" --concordance {NAICS_CONCORDANCES.get(step, f'{step[0]}_to_{step[1]}_NAICS.xlsx')}"
                   for step in steps)
    return (f"Without internet, give the files instead: clusteratlas reference us-benchmark{wanted} "
            "--definitions CLUSTERS (the CMP cluster JSON, or a table naics_vintage, naics, cluster_name, type) "
            "--subclusters SUBCLUSTERS (NAICS, Cluster, SubclusterName)"
            + (f"{conc} (the Census Bureau's concordance workbooks, one per step, in order)" if steps else
               " [--concordance FILE, one Census concordance per step when carrying to NAICS 2017 or 2022]"))


def fetch_input(url: str, what: str, *, name: str | None = None, steps: Sequence[tuple[int, int]] = (),
                naics: int | None = None) -> Path:
    """Download (or reuse from the cache) one input of the benchmark; offline, say how to give it as a file."""
    from clusteratlas.sources.download import OfflineError, fetch

    try:
        return fetch(url, name=name).path
    except OfflineError as exc:
        raise InputError(_("cannot download {what}: {problem}").format(what=what, problem=exc.problem), value=url,
                         hint=offline_route(steps, naics)) from None


def _text_rows(path: Path) -> list[list[str | None]]:
    """Rows of a CSV (UTF-8 or CP932) or a workbook's first sheet, cells stripped, empty as None."""
    _check_exists(path)  # a missing or empty file is an input error (it was a traceback)
    if path.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
        rows = sheet_rows(path)
    else:
        encoding = detect_encoding(path)
        with open(path, encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline="") as fh:
            rows = list(csv.reader(fh))
    return [[(c.strip() or None) if isinstance(c, str) else c for c in row] for row in rows]


def _definitions_table(rows: list[dict[str, str | None]]) -> pa.Table:
    return pa.table({c: pa.array([r.get(c) for r in rows], pa.string()) for c in DEFINITION_COLUMNS})


def _cluster_type(value: object, label: str) -> str:
    text = str(value or "").strip().lower()
    if text in ("traded", "local"):
        return text
    if text in ("true", "1"):
        return "traded"
    if text in ("false", "0"):
        return "local"
    raise InputError(_("unknown cluster type"), file=label, value=value, expected=_("traded or local"))


def read_cmp(path: str | Path, *, vintage: int | Sequence[int] = 2012,
             subclusters: str | Path | None = None) -> pa.Table:
    """The benchmark definition for one NAICS vintage (or several), as a definitions table.

    ``path`` is the project's cluster metadata (JSON) or a flat CSV with
    ``naics_vintage, naics, cluster_name, type`` (``cluster_code`` optional).
    ``subclusters``, a CSV with ``NAICS, Cluster, SubclusterName`` (the
    subcluster crosswalk), adds each code's subcluster where the codes agree.
    Clusters are identified by their English name, which is also how the
    project labels them. Several vintages give their union, so that one
    definition maps a series whose years use different vintages (CBP
    2000–2011: 1997, 2002, 2007), each year's codes finding their own
    vintage's cluster; a code the vintages put in different clusters is an
    error, since the union could not say which one a year meant.
    """
    path = Path(path)
    label = str(path)
    vintages = [vintage] if isinstance(vintage, int) else list(vintage)
    for v in vintages:
        if v not in CMP_VINTAGES:
            raise InputError(_("the benchmark definitions are published for NAICS {vintages}").format(
                             vintages=", ".join(map(str, CMP_VINTAGES))), value=v,
                             hint=_("Carry them to a later vintage with a concordance"))
    rows = []
    for v in vintages:
        got = _cmp_json(path, v) if path.suffix.lower() == ".json" else _cmp_flat(path, v)
        if not got:
            raise InputError(_("no cluster codes for NAICS {v}").format(v=v), file=label,
                             expected=_("rows or clusters of vintage {v}").format(v=v))
        rows += got
    seen: dict[str, str] = {}
    unique = []
    for row in rows:
        code = row["industry"]
        if not re.fullmatch(r"\d{6}", code or ""):
            raise InputError(_("not a six-digit NAICS code"), file=label, value=code)
        if seen.setdefault(code, row["cluster"]) != row["cluster"]:
            raise InputError(_("a NAICS code is in two clusters"), file=label, value=code,
                             expected=_("one cluster (found {value!r} and {cluster!r})").format(value=seen[code],
                                                                                                cluster=row['cluster']))
        if len(seen) > len(unique):
            unique.append(row)
    rows = unique
    if subclusters is not None:
        names = {}
        for r in _dict_rows(Path(subclusters)):
            if r.get("NAICS") and r.get("SubclusterName"):
                names[(r["NAICS"], r.get("Cluster"))] = r["SubclusterName"]
        for row in rows:
            row["subcluster"] = row.get("subcluster") or names.get((row["industry"], row["cluster"]))
    rows.sort(key=lambda r: r["industry"])
    return _definitions_table(rows)


def _dict_rows(path: Path) -> list[dict[str, str | None]]:
    rows = _text_rows(path)
    if not rows:
        raise InputError(_("the file is empty"), file=str(path))
    header = [str(h or "") for h in rows[0]]
    return [dict(zip(header, r, strict=False)) for r in rows[1:] if any(r)]


def _cmp_flat(path: Path, vintage: int) -> list[dict]:
    rows = _dict_rows(path)
    needed = {"naics_vintage", "naics", "cluster_name", "type"}
    missing = needed - set(rows[0] if rows else ())
    if missing:
        raise InputError(_("not a benchmark definition table: columns missing"), file=str(path),
                         value=", ".join(sorted(missing)), expected=", ".join(sorted(needed)))
    out = []
    for line, r in enumerate(rows, start=2):
        if str(r["naics_vintage"]) != str(vintage):
            continue
        if not r["cluster_name"]:
            raise InputError(_("empty cluster name"), file=str(path), row=line, column="cluster_name")
        out.append({"industry": r["naics"], "cluster": r["cluster_name"], "cluster_name": r["cluster_name"],
                    "type": _cluster_type(r["type"], f"{path}, line {line}")})
    return out


def _cmp_json(path: Path, vintage: int) -> list[dict]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(_("cannot read as JSON: {exc}").format(exc=exc), file=str(path)) from None
    clusters = doc if isinstance(doc, list) else doc.get("clusters") if isinstance(doc, dict) else None
    if not isinstance(clusters, list):
        raise InputError(_("not the cluster metadata of the US Cluster Mapping Project"), file=str(path),
                         expected=_("a JSON list of clusters with name_t and NAICS code lists"))
    out = []
    for i, cluster in enumerate(clusters):
        if not isinstance(cluster, dict) or "name_t" not in cluster:
            raise InputError(_("cluster {value} has no name_t").format(value=i + 1), file=str(path))
        name = str(cluster["name_t"]).strip()
        if cluster.get("type_t") in ("traded", "local") or "traded_b" in cluster:
            ctype = _cluster_type(cluster.get("traded_b", cluster.get("type_t")), str(path))
        else:  # the project names every local cluster "Local …"
            ctype = "local" if name.lower().startswith("local ") else "traded"
        for key, codes in cluster.items():
            match = re.fullmatch(r"naics(?:_(\d{4}))?_txt", key)
            if not match or not isinstance(codes, list):
                continue
            year = int(match.group(1) or cluster.get("year_t") or 0)
            if year != vintage:
                continue
            out += [{"industry": str(c).strip(), "cluster": name, "cluster_name": name, "type": ctype}
                    for c in codes]
    return out


def read_concordance(path: str | Path, *, source: str | None = None, target: str | None = None,
                     weight: str | None = None) -> pa.Table:
    """A concordance table (``source``, ``target``, ``weight``) from a CSV or workbook.

    The header may sit below title rows, as in the Census Bureau's files
    (``2012 NAICS Code … 2017 NAICS Code``): the first row with two cells
    naming a code is taken as the header, and the first two such columns are
    source and target unless named. Rows without both codes (notes, blank
    lines) are skipped; a ``weight`` column (e.g. an employment share) is used
    when named or called ``weight``/``share``, else each pair weighs 1.
    """
    path = Path(path)
    label = str(path)
    rows = _text_rows(path)
    wanted = [c for c in (source, target) if c]
    header_at = None
    for i, row in enumerate(rows[:50]):
        cells = [str(c or "") for c in row]
        if (wanted and all(w in cells for w in wanted)) or \
                (not wanted and sum(bool(re.search(r"code", c, re.I)) for c in cells) >= 2):
            header_at = i
            break
    if header_at is None:
        raise InputError(_("no header row with the two code columns found"), file=label,
                         expected=f"columns {source!r} and {target!r}" if wanted
                         else "two columns whose names contain 'Code' (e.g. 2012 NAICS Code, 2017 NAICS Code)",
                         hint=_("Name them with --source-column and --target-column"))
    header = [str(c or "") for c in rows[header_at]]
    code_cols = [i for i, c in enumerate(header) if re.search(r"code", c, re.I)]
    try:
        src = header.index(source) if source else code_cols[0]
        tgt = header.index(target) if target else code_cols[1]
    except (ValueError, IndexError):
        raise InputError(_("code column not found"), file=label, row=header_at + 1,
                         value=source or target, hint=_("The header has: {value}").format(
                             value=', '.join(h for h in header if h))) \
            from None
    lowered = [h.lower() for h in header]
    wcol = header.index(weight) if weight in header else next(
        (i for i, h in enumerate(lowered) if h in ("weight", "share")), None)
    if weight and wcol is None:
        raise InputError(_("weight column not found"), file=label, value=weight)
    pairs: list[tuple[str, str, float]] = []
    for line, row in enumerate(rows[header_at + 1:], start=header_at + 2):
        cells = row + [None] * (len(header) - len(row))
        a, b = cells[src], cells[tgt]
        if not a or not b:
            continue
        w = 1.0
        if wcol is not None and cells[wcol] is not None:
            try:
                w = float(cells[wcol])
            except ValueError:
                raise InputError(_("not a number"), file=label, row=line, column=header[wcol], value=cells[wcol]) \
                    from None
            if w < 0:
                raise InputError(_("negative weight"), file=label, row=line, column=header[wcol], value=w)
        pairs.append((str(a), str(b), w))
    if not pairs:
        raise InputError(_("the concordance has no code pairs"), file=label, row=header_at + 1)
    return pa.table({"source": [p[0] for p in pairs], "target": [p[1] for p in pairs],
                     "weight": pa.array([p[2] for p in pairs], pa.float64())})


@dataclass
class Carried:
    """A definition carried through a concordance, with what could not be carried cleanly.

    ``definitions`` is the new definitions table; ``lost`` lists the source
    codes of the definition that the concordance sends nowhere; ``split``
    lists target codes whose sources sit in more than one cluster, with the
    cluster chosen and its share of the weight (``purity``). With sizes,
    ``sizes`` holds each target's share of them, for the next step of a chain.
    """

    definitions: pa.Table
    lost: pa.Table
    split: pa.Table
    sizes: dict[str, float] | None = None

    @property
    def mean_purity(self) -> float:
        """Average purity over the target codes (1.0 where the sources agree)."""
        n = self.definitions.num_rows
        if n == 0:
            return float("nan")
        impure = self.split["purity"].to_pylist()
        return (n - len(impure) + sum(impure)) / n


def carry(definitions: pa.Table, concordance: pa.Table, *, sizes: dict[str, float] | None = None) -> Carried:
    """Carry ``definitions`` (industry → cluster) onto the target codes of ``concordance``.

    Each target code takes the cluster with the largest summed weight over
    its source codes (ties go to the cluster named first alphabetically, so
    the result does not depend on row order); the subcluster is chosen the
    same way within that cluster. With ``sizes`` (e.g. national employment
    by source code) each source votes with its concordance weight times its
    size, so purity becomes the employment share of the chosen cluster;
    sources without a size then vote with 0. Source codes outside the
    definition do not vote, so a target only partly covered still gets the
    cluster of the part that is.
    """
    by_code = {r["industry"]: r for r in definitions.to_pylist()}
    votes: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    sub_votes: dict[tuple[str, str], dict[str | None, float]] = defaultdict(lambda: defaultdict(float))
    placed: set[str] = set()
    target_sizes: dict[str, float] = defaultdict(float)
    for src, tgt, w in zip(*(concordance[c].to_pylist() for c in ("source", "target", "weight")), strict=True):
        row = by_code.get(src)
        if row is None:
            continue
        placed.add(src)
        if sizes is not None:
            w *= sizes.get(src, 0.0)
            target_sizes[tgt] += w
        votes[tgt][row["cluster"]] += w
        sub_votes[(tgt, row["cluster"])][row.get("subcluster")] += w
    out, split = [], []
    for tgt in sorted(votes):
        ranked = [kv for kv in sorted(votes[tgt].items(), key=lambda kv: (-kv[1], kv[0]))
                  if kv[1] > 0 or sizes is None]
        if not ranked:  # every source weighs 0 (no employment): nothing to go by
            continue
        cluster, best = ranked[0]
        total = sum(votes[tgt].values())
        template = next(r for r in by_code.values() if r["cluster"] == cluster)
        subs = sorted(sub_votes[(tgt, cluster)].items(), key=lambda kv: (-kv[1], str(kv[0])))
        out.append({**{c: template.get(c) for c in DEFINITION_COLUMNS}, "industry": tgt, "subcluster": subs[0][0]})
        if len(ranked) > 1:
            split.append({"industry": tgt, "cluster": cluster, "purity": best / total if total else 0.0,
                          "alternatives": "; ".join(c for c, _ in ranked[1:])})
    lost = sorted(set(by_code) - placed)
    return Carried(
        _definitions_table(out),
        pa.table({"industry": pa.array(lost, pa.string()),
                  "cluster": pa.array([by_code[c]["cluster"] for c in lost], pa.string())}),
        pa.table({"industry": pa.array([s["industry"] for s in split], pa.string()),
                  "cluster": pa.array([s["cluster"] for s in split], pa.string()),
                  "purity": pa.array([s["purity"] for s in split], pa.float64()),
                  "alternatives": pa.array([s["alternatives"] for s in split], pa.string())}),
        dict(target_sizes) if sizes is not None else None,
    )


def naics_steps(start: int, end: int) -> list[tuple[int, int]]:
    """The Census concordance steps from NAICS ``start`` to ``end`` (e.g. 2012 → 2017 → 2022)."""
    chain = sorted({v for pair in NAICS_CONCORDANCES for v in pair})
    if start not in chain or end not in chain or end < start:
        raise InputError(_("no Census concordance chain between these NAICS vintages"), value=f"{start} → {end}",
                         expected=_("vintages among {vintages}, the second not earlier").format(
                             vintages=", ".join(map(str, chain))))
    return [(a, b) for a, b in itertools.pairwise(chain) if a >= start and b <= end]


#: NACE Rev. 2 sections by division (the first two levels of NACE Rev. 2 are those of ISIC Rev. 4).
NACE_SECTIONS = {
    "A": range(1, 4), "B": range(5, 10), "C": range(10, 34), "D": range(35, 36), "E": range(36, 40),
    "F": range(41, 44), "G": range(45, 48), "H": range(49, 54), "I": range(55, 57), "J": range(58, 64),
    "K": range(64, 67), "L": range(68, 69), "M": range(69, 76), "N": range(77, 83), "O": range(84, 85),
    "P": range(85, 86), "Q": range(86, 89), "R": range(90, 94), "S": range(94, 97), "T": range(97, 99),
    "U": range(99, 100),
}
#: Built-in concordances usable by name wherever a concordance file is expected.
BUILTIN_CONCORDANCES = ("isic4-nace2-division",)


def nace_division(code: str) -> str | None:
    """The NACE Rev. 2 division, written as Eurostat's regional tables do (``C20``), of an ISIC/NACE code."""
    digits = re.sub(r"\D", "", code)[:2]
    if len(digits) < 2:
        return None
    number = int(digits)
    section = next((s for s, divisions in NACE_SECTIONS.items() if number in divisions), None)
    return f"{section}{digits}" if section else None


def builtin_concordance(name: str, sources: list[str]) -> pa.Table:
    """A built-in concordance over ``sources``: ``isic4-nace2-division`` sends each ISIC Rev. 4 code to its
    NACE Rev. 2 division (identical to ISIC's division by construction of NACE)."""
    if name != "isic4-nace2-division":
        raise InputError(_("unknown built-in concordance"), value=name, expected=", ".join(BUILTIN_CONCORDANCES))
    pairs = [(c, nace_division(c)) for c in sources]
    pairs = [(a, b) for a, b in pairs if b]
    return pa.table({"source": [a for a, _ in pairs], "target": [b for _, b in pairs],
                     "weight": pa.array([1.0] * len(pairs), pa.float64())})


def carry_chain(definitions: pa.Table, steps: list[tuple[str, pa.Table | Callable[[list[str]], pa.Table]]], *,
                sizes: dict[str, float] | None = None) -> Carried:
    """Carry a definition through several concordances in turn (``steps``: label, concordance).

    A concordance may also be a function of the codes reaching its step (a
    built-in one, see :func:`builtin_concordance`). The lost and split codes of
    every step are gathered, each with the label of its step; with ``sizes``,
    each step's target sizes weigh the next step's votes.
    """
    lost, split = [_empty_losses()[0]], [_empty_losses()[1]]
    table = definitions
    for label, concordance in steps:
        if callable(concordance):
            concordance = concordance(table["industry"].to_pylist())
        carried = carry(table, concordance, sizes=sizes)
        labels = pa.array([label] * carried.lost.num_rows, pa.string())
        lost.append(carried.lost.append_column("step", labels))
        split.append(carried.split.append_column("step", pa.array([label] * carried.split.num_rows, pa.string())))
        table, sizes = carried.definitions, carried.sizes
    return Carried(table, pa.concat_tables(lost), pa.concat_tables(split), sizes)


def _empty_losses() -> tuple[pa.Table, pa.Table]:
    text = pa.string()
    return (pa.table({"industry": pa.array([], text), "cluster": pa.array([], text), "step": pa.array([], text)}),
            pa.table({"industry": pa.array([], text), "cluster": pa.array([], text),
                      "purity": pa.array([], pa.float64()), "alternatives": pa.array([], text),
                      "step": pa.array([], text)}))
