"""Eurostat's NUTS regions from the GISCO GeoJSON files.

GISCO publishes one file per NUTS version, scale and level
(``NUTS_RG_03M_2021_4326_LEVL_2.geojson``); each feature carries ``NUTS_ID``,
``LEVL_CODE``, ``CNTR_CODE`` and ``NAME_LATN``. Every region becomes a row of
level ``nuts0`` … ``nuts3`` whose parent, in the hierarchy ``nuts``, is its
code less the last character (``FRF2`` → ``FRF``), which is how NUTS codes
nest. GISCO publishes one file per level, and a user downloads the level
they need: the ancestors a file's codes imply (``FRF`` and ``FR`` for
``FRF2``) are added as regions of their level with their code only, so a
level-2 file imports alone; a file of the level above adds their names
later (the atlas keeps a stored name when a file brings none).
Converting data between NUTS versions is a concordance applied at
import (``--recode``), see :func:`clusteratlas.sources.generic.recode_regions`.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa

from clusteratlas.errors import InputError, check_json
from clusteratlas.i18n import _, listing

#: What :func:`nuts_regions` walks: GISCO features with a NUTS_ID and a LEVL_CODE 0-3.
NUTS_SCHEMA = {
    "type": "object",
    "required": ["features"],
    "properties": {"features": {"type": "array", "items": {
        "type": "object", "required": ["properties"],
        "properties": {"properties": {
            "type": "object", "required": ["NUTS_ID", "LEVL_CODE"],
            "properties": {
                "NUTS_ID": {"type": "string", "pattern": "^[A-Z]{2}[A-Z0-9]{0,3}$"},
                "LEVL_CODE": {"anyOf": [{"type": "integer", "minimum": 0, "maximum": 3},
                                        {"type": "string", "pattern": "^[0-3]$"}]},
                "NAME_LATN": {"type": ["string", "null"]}, "NUTS_NAME": {"type": ["string", "null"]}}}}}}},
}


def read_geojson(path: Path) -> dict:
    """A GeoJSON or TopoJSON document (optionally gzipped)."""
    label = str(path)
    try:
        raw = Path(path).read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        doc = json.loads(raw.decode("utf-8"))
    except (OSError, EOFError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(_("cannot read as GeoJSON/TopoJSON: {exc}").format(exc=exc), file=label) from None
    if not isinstance(doc, dict) or doc.get("type") not in ("FeatureCollection", "Topology"):
        raise InputError(_("not a GeoJSON FeatureCollection or a TopoJSON Topology"), file=label,
                         value=doc.get("type") if isinstance(doc, dict) else type(doc).__name__)
    return doc


def nuts_regions(path: Path) -> tuple[pa.Table, list[str]]:
    """Regions (code, Latin name, level nutsN, parent in hierarchy ``nuts``) from a GISCO NUTS GeoJSON, and notes.

    Every ancestor a code implies but the file lacks (``FRF``, ``FR`` of ``FRF2``) is added with its code
    and level, no name, and said so in the notes.
    """
    label = str(path)
    doc = read_geojson(path)
    check_json(doc, NUTS_SCHEMA, label, "a GISCO NUTS GeoJSON (features with properties NUTS_ID, LEVL_CODE 0-3, "
               "NAME_LATN)")
    rows = []
    for n, feature in enumerate(doc["features"], start=1):
        props = feature["properties"]
        code, level = props["NUTS_ID"], props["LEVL_CODE"]
        if int(level) != len(code) - 2:
            raise InputError(_("feature {n}: the code's length does not match its NUTS level").format(n=n), file=label,
                             value=f"{code} at level {level}")
        rows.append((code, props.get("NAME_LATN") or props.get("NUTS_NAME"), f"nuts{int(level)}",
                     code[:-1] if int(level) > 0 else None, n))
    if not rows:
        raise InputError(_("the file has no features"), file=label)
    given = {r[0] for r in rows}
    implied = sorted({code[:k] for code in given for k in range(2, len(code))} - given, key=lambda c: (len(c), c))
    rows += [(code, None, f"nuts{len(code) - 2}", code[:-1] if len(code) > 2 else None, 0) for code in implied]
    notes = []
    if implied:
        levels = ", ".join(sorted({f"nuts{len(c) - 2}" for c in implied}))
        shown = listing(implied, 8)
        notes.append(f"{label}: " + _("{n:,} ancestor region(s) the codes imply but the file lacks ({levels}: "
                                      "{shown}) added with their code and level, no name; import the level's own "
                                      "file to name them (regions already in the atlas keep their names)").format(
            n=len(implied), levels=levels, shown=shown))
    table = pa.table({"region": [r[0] for r in rows], "name": [r[1] for r in rows],
                     "name_ja": pa.nulls(len(rows), pa.string()), "level": [r[2] for r in rows],
                     "parent": [r[3] for r in rows], "hierarchy": ["nuts" if r[3] else None for r in rows],
                     "__line": pa.array([r[4] for r in rows], pa.int64())})
    return table, notes
