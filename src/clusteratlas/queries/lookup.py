"""Finding a region or a cluster from what a person types: its code, or its name in English or Japanese.

One forgiving comparison serves the pages' search box and the command line (``show region 愛知県``,
``show cluster automotive``): text is folded for width (NFKC: ｱｲﾁ = アイチ, ＡＢＣ = ABC), letter case, and kana
(katakana and hiragana compare equal), so whatever a visitor types in the search box also works on the command
line, and the other way round.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

import duckdb

from clusteratlas.errors import InputError
from clusteratlas.i18n import _
from clusteratlas.queries._core import Missing, not_found


def _hiragana(text: str) -> str:
    return "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in text)


def search_variants(text: str) -> list[str]:
    """The query as typed, NFKC-folded (full/half width), and with katakana <-> hiragana swapped."""
    folded = unicodedata.normalize("NFKC", text).strip()
    kata = "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in folded)
    return list(dict.fromkeys(v for v in (text.strip(), folded, _hiragana(folded), kata) if v))


def fold(text: str | None) -> str:
    """``text`` reduced as the search compares it: NFKC (width), case-folded, katakana as hiragana."""
    return _hiragana(unicodedata.normalize("NFKC", text or "").strip()).casefold()


def search(con: duckdb.DuckDBPyConnection, text: str, limit: int = 50) -> tuple[list[dict], list[dict]]:
    """Regions (through ``list_regions``) and clusters whose id or name contains any variant of ``text``."""
    from clusteratlas.queries.clusters import list_clusters
    from clusteratlas.queries.regions import list_regions

    regions: dict[str, dict] = {}
    for variant in search_variants(text):
        for row in list_regions(con, q=variant, limit=limit).rows():
            regions.setdefault(row["region"], row)
    clusters = []
    try:
        listed = list_clusters(con).rows()
    except Missing:
        listed = []
    needles = [unicodedata.normalize("NFKC", v).casefold() for v in search_variants(text)]
    for row in listed:
        hay = unicodedata.normalize("NFKC", " ".join(str(row.get(k) or "") for k in (
            "cluster", "cluster_name", "cluster_name_ja"))).casefold()
        if any(n in hay for n in needles):
            clusters.append(row)
    return list(regions.values())[:limit], clusters[:limit]


@dataclass
class Match:
    """What a typed region or cluster was taken to be.

    ``by`` is ``"code"`` (typed as stored), ``"name"`` (a whole name, English or Japanese, folded as
    :func:`fold` does) or ``"part"`` (the only one whose name contains what was typed).
    """

    code: str
    name: str | None
    name_ja: str | None
    by: str
    typed: str
    candidates: list[dict[str, Any]] = field(default_factory=list)

    def note(self) -> str | None:
        """One line saying which region or cluster was taken (None when the code was typed)."""
        from clusteratlas import i18n

        if self.by == "code":
            return None
        shown = i18n.name(self.name, self.name_ja) or self.code
        how = _("its name") if self.by == "name" else _("the only name that contains it")
        return _("note:") + " " + _("'{typed}' is {name} ({code}), found by {how}").format(
            typed=self.typed, name=shown, code=self.code, how=how)


def _pick(kind: str, typed: str, rows: list[dict], key: str, name: str, name_ja: str,
          choices: list[str]) -> Match:
    """The row whose code is ``typed``, else the one whose whole name is, else the only one containing it."""
    from clusteratlas import i18n

    def match(row: dict, by: str) -> Match:
        return Match(row[key], row.get(name), row.get(name_ja), by, typed)

    for row in rows:
        if row[key] == typed:
            return match(row, "code")
    wanted = fold(typed)
    whole = [r for r in rows if wanted in (fold(r[key]), fold(r.get(name)), fold(r.get(name_ja)))]
    if len(whole) == 1:
        return match(whole[0], "name")
    found = whole or [r for r in rows if wanted and any(wanted in fold(r.get(k)) for k in (key, name, name_ja))]
    if len(found) == 1:
        return match(found[0], "part")
    if not found:
        raise not_found(kind, typed, choices)
    listed = i18n.listing([f"{r[key]} ({i18n.name(r.get(name), r.get(name_ja)) or r[key]})" for r in found[:10]],
                          10, len(found))
    raise InputError("several regions match" if kind == "region" else "several clusters match", value=typed,
                     expected=_("one of {listed}").format(listed=listed),
                     hint=_("Give the code, or more of the name"))


def find_region(con: duckdb.DuckDBPyConnection, typed: str) -> Match:
    """The mapped region ``typed`` stands for: its code, or its name in English or Japanese (whole, or the only
    one that contains it); a clear error listing the candidates when several match, or none."""
    from clusteratlas.queries._core import require
    from clusteratlas.queries.regions import RESULTS_HINT, mapped_regions

    require(con, "results_regions", RESULTS_HINT)
    codes = mapped_regions(con)
    mapped = set(codes)
    if typed in mapped:
        return Match(typed, None, None, "code", typed)
    named = {r: (en, ja) for r, en, ja in con.execute("SELECT region, name, name_ja FROM regions").fetchall()}
    rows = [{"region": r, "name": named.get(r, (None, None))[0], "name_ja": named.get(r, (None, None))[1]}
            for r in dict.fromkeys(codes)]
    return _pick("region", typed, rows, "region", "name", "name_ja", sorted(mapped))


def find_cluster(con: duckdb.DuckDBPyConnection, typed: str) -> Match:
    """The cluster of the latest map run ``typed`` stands for: its code, or its name in English or Japanese."""
    from clusteratlas.queries.clusters import list_clusters

    rows = list_clusters(con).rows()
    return _pick("cluster", typed, rows, "cluster", "cluster_name", "cluster_name_ja", [r["cluster"] for r in rows])


def suggest(con: duckdb.DuckDBPyConnection, text: str, *, limit: int = 8, level: str | None = None,
            kinds: tuple[str, ...] = ("region", "cluster")) -> list[dict[str, Any]]:
    """Suggestions for what a visitor is typing: the regions and clusters :func:`search` finds, those whose
    code or name (English or Japanese, folded as :func:`fold` does) starts with the text first, then the
    others by name; ``level`` keeps the regions of one level (the compare page's picker), ``kinds`` which
    sorts are wanted. Each is ``{kind, code, name, name_ja, level, type}``."""
    if not text.strip():
        return []
    regions, clusters = search(con, text, limit=200)
    wanted = fold(text)
    found: list[dict[str, Any]] = []
    if "region" in kinds:
        found += [{"kind": "region", "code": r["region"], "name": r.get("name"), "name_ja": r.get("name_ja"),
                   "level": r.get("level"), "type": None} for r in regions if level is None or r.get("level") == level]
    if "cluster" in kinds:
        found += [{"kind": "cluster", "code": c["cluster"], "name": c.get("cluster_name"),
                   "name_ja": c.get("cluster_name_ja"), "level": None, "type": c.get("type")} for c in clusters]

    def rank(s: dict[str, Any]) -> tuple[int, str]:
        names = [fold(s["code"]), fold(s["name"]), fold(s["name_ja"])]
        return (0 if wanted in names else 1 if any(n.startswith(wanted) for n in names) else 2,
                fold(s["name"] or s["name_ja"] or s["code"]))

    return sorted(found, key=rank)[:limit]
