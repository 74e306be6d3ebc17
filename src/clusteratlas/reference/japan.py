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

from clusteratlas.errors import InputError, check_json
from clusteratlas.i18n import _


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


def prefecture_neighbours() -> pa.Table:
    """Weights: prefectures that share a land border (bundled; derived from ``japanmap``, see data/japanmap-NOTICE).

    Codes are the five-digit prefecture ids (``13000``). ``japanmap`` counts the borders of the part of each
    prefecture that holds its capital, so Okinawa, and islands, have no neighbours. No extra package is needed:
    the list is generated once by ``scripts/make_jp_prefectures_geojson.py``.
    """
    pairs = _rows("jp_prefecture_neighbours.csv")
    return pa.table({"region": [p["region"] for p in pairs], "neighbor": [p["neighbor"] for p in pairs],
                     "weight": pa.array([1.0] * len(pairs), pa.float64())})


def prefecture_geojson() -> dict:
    """The 47 prefectures as a GeoJSON FeatureCollection (longitude/latitude; bundled, works offline).

    Each feature's ``id`` and ``properties.region`` are the prefecture ids of :func:`prefectures`
    (``13000``), with ``name`` and ``name_ja``. Simplified from ``japanmap`` (about 1 km; shared borders
    simplified once, so neighbours meet without gaps); each prefecture is the part that holds its capital,
    without outlying islands. Municipal shapes are read from the user's files (``import weights`` /
    ``import geometry`` with GeoJSON, TopoJSON or a shapefile).
    """
    text = resources.files("clusteratlas.reference").joinpath("data", "jp_prefectures.geojson").read_text(
        encoding="utf-8")
    return json.loads(text)


def _jsic_level(children: tuple[str, ...]) -> dict:
    node = {"type": "object", "required": ["code"],
            "properties": {"code": {"type": "string", "minLength": 1}, "name": {"type": ["string", "null"]},
                           "name_en": {"type": ["string", "null"]}}}
    if children:
        node["properties"][children[0]] = _jsic_level(children[1:])
    return {"type": "array", "items": node}


#: What :func:`jsic` walks.
_JSIC_SCHEMA = {"type": "object", "required": ["major_categories"], "properties": {
    "major_categories": _jsic_level(("middle_categories", "minor_categories", "detail_categories"))}}


def jsic(path: str | Path, *, classification: str = "jsic14") -> pa.Table:
    """Industries from the JSIC JSON (major → middle → minor → detail categories)."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(_("cannot read as a JSIC code list: {exc}").format(exc=exc), file=str(path),
                         expected=_("JSON with major_categories[].middle_categories[]…")) from None
    check_json(doc, _JSIC_SCHEMA, str(path), "a JSIC code list (major_categories[].middle_categories[]"
               ".minor_categories[].detail_categories[], each with a code)")
    majors = doc["major_categories"]
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


def municipalities(path: str | Path, *, year: int = 2020) -> pa.Table:
    """Japan's municipalities of one year (JIS codes) with their prefecture, from Kondo's converter.

    The converter (RIETI; ``municipality_converter_jp.csv`` / ``_en.csv``)
    lists every municipality since 1980 with its code and name in each census
    year (1980, 1985, … 2020), codes written without the leading zero. This
    returns the municipalities of ``year`` as five-digit codes (``01100``),
    level ``municipality``, parent the prefecture (``01000``, as the
    ``jp-prefectures`` reference data) in the hierarchy ``prefecture``; names in
    Japanese from the ``_jp`` file and in English from the ``_en`` file beside
    it, when both are there.
    """
    path = Path(path)
    label = str(path)
    if year not in range(1980, 2021, 5):
        raise InputError(_("the converter has municipalities for census years only"), file=label, value=year,
                         expected=_("1980, 1985, … 2020"))
    english = path.name.endswith("_en.csv")
    sibling = path.with_name(path.name.replace("_en.csv", "_jp.csv") if english
                             else path.name.replace("_jp.csv", "_en.csv"))
    names = {"en": _converter_names(path, year) if english else {},
             "ja": {} if english else _converter_names(path, year)}
    if sibling != path and sibling.exists():
        names["ja" if english else "en"] = _converter_names(sibling, year)
    codes = names["en"] or names["ja"]
    if not codes:
        raise InputError(_("no municipalities for {year}").format(year=year), file=label)
    ordered = sorted(codes)

    def strip_prefecture(name: str | None) -> str | None:
        return name.split(" ", 1)[-1] if name else None  # "北海道 札幌市" -> "札幌市"

    return pa.table({"region": ordered, "name": [names["en"].get(c) for c in ordered],
                     "name_ja": [strip_prefecture(names["ja"].get(c)) for c in ordered],
                     "level": ["municipality"] * len(ordered), "parent": [f"{c[:2]}000" for c in ordered],
                     "hierarchy": ["prefecture"] * len(ordered)})


def _converter_names(path: Path, year: int) -> dict[str, str]:
    """Five-digit code -> name for one year of the municipality converter."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            id_col, name_col = f"id_muni{year}", f"name_muni{year}"
            if id_col not in (reader.fieldnames or []) or name_col not in (reader.fieldnames or []):
                raise InputError(_("not Kondo's municipality converter"), file=str(path),
                                 expected=_("columns {id_col} and {name_col}").format(id_col=id_col, name_col=name_col))
            out = {}
            for line, row in enumerate(reader, start=2):
                code = (row[id_col] or "").strip()
                if not code:
                    continue
                if not code.isdigit() or len(code) > 5:
                    raise InputError(_("not a municipality code"), file=str(path), row=line, column=id_col,
                                     value=code, expected=_("up to five digits, e.g. 1100 (= 01100)"))
                out[code.zfill(5)] = row[name_col]
            return out
    except UnicodeDecodeError as exc:
        raise InputError(_("the file is not UTF-8 text: {exc}").format(exc=exc), file=str(path)) from None
