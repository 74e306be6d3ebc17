"""Japanese reference systems: prefectures, METI regional bureaus, JSIC codes.

The 47 prefectures carry their JIS X 0401 code (``01`` … ``47``; as regions
they use the five-digit form e-Stat uses, ``01000``), English and Japanese
names, and the METI regional bureau (経済産業局) whose area they belong to;
the bureaus form the hierarchy ``meti_bureau``. The JSIC code list (日本標準
産業分類) is read from the nested JSON of the MIC classification (divisions,
major groups, groups, industries) with Japanese and English names.
"""

from __future__ import annotations

import csv
import json
from importlib import resources
from pathlib import Path

import pyarrow as pa

from clusteratlas.errors import InputError


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("clusteratlas.reference").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def prefectures() -> pa.Table:
    """Regions: the 47 prefectures (level prefecture, parent = METI bureau) and the 9 bureaus."""
    prefs = _rows("jp_prefectures.csv")
    bureaus = _rows("jp_meti_bureaus.csv")
    region = [f"{p['code']}000" for p in prefs] + [f"meti_{b['code']}" for b in bureaus]
    return pa.table({
        "region": region,
        "name": [p["name"] for p in prefs] + [b["name"] for b in bureaus],
        "name_ja": [p["name_ja"] for p in prefs] + [b["name_ja"] for b in bureaus],
        "level": ["prefecture"] * len(prefs) + ["meti_bureau"] * len(bureaus),
        "parent": [f"meti_{p['bureau']}" for p in prefs] + [None] * len(bureaus),
        "hierarchy": ["meti_bureau"] * len(prefs) + [None] * len(bureaus),
    })


def jsic(path: str | Path, *, classification: str = "jsic14") -> pa.Table:
    """Industries from the JSIC JSON (major → middle → minor → detail categories)."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        majors = doc["major_categories"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"cannot read as a JSIC code list: {exc}", file=str(path),
                         expected="JSON with major_categories[].middle_categories[]…") from None
    rows: list[tuple[str, str | None, str | None, str | None]] = []

    def walk(nodes: list[dict], parent: str | None, children: tuple[str, ...]) -> None:
        for node in nodes:
            rows.append((node["code"], node.get("name_en"), node.get("name"), parent))
            if children:
                walk(node.get(children[0], []), node["code"], children[1:])

    walk(majors, None, ("middle_categories", "minor_categories", "detail_categories"))
    return pa.table({"industry": [r[0] for r in rows], "classification": [classification] * len(rows),
                     "name": [r[1] for r in rows], "name_ja": [r[2] for r in rows],
                     "parent": [r[3] for r in rows]})
