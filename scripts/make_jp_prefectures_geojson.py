"""Generate the bundled prefecture shapes and neighbour list from the ``japanmap`` package (run once).

Writes ``src/clusteratlas/reference/data/jp_prefectures.geojson`` (a simplified polygon per prefecture,
longitude/latitude, properties ``region`` = ``13000``, ``name``, ``name_ja``) and
``jp_prefecture_neighbours.csv`` (pairs sharing a land border), so that maps and hot spots of Japan work
offline without ``japanmap`` installed. ``japanmap`` (Saito Tsutomu, Apache-2.0; see
``data/japanmap-NOTICE``) draws each prefecture as the part that holds its capital: islands apart from it
(Sado, the Izu and Ogasawara islands, Okinawa's other islands…) are not in the shapes, and Okinawa has no
land neighbour.

The borders are simplified arc by arc (each border shared by two prefectures is simplified once, with its
end points kept), so neighbouring shapes still meet without gaps or overlaps.

    pip install japanmap shapely
    python scripts/make_jp_prefectures_geojson.py
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import japanmap
from shapely.geometry import LineString, Polygon, mapping

DATA = Path(__file__).resolve().parent.parent / "src" / "clusteratlas" / "reference" / "data"
#: Douglas-Peucker tolerance in degrees (about 1 km): enough for a prefecture map, 1/10 of the source's size.
TOLERANCE = 0.01
DIGITS = 4


def _simplified_arc(points: list[tuple[float, float]], cache: dict) -> list[tuple[float, float]]:
    """A border arc simplified the same way whichever prefecture it is read from."""
    key = min(tuple(points), tuple(reversed(points)))
    if key not in cache:
        line = LineString(key).simplify(TOLERANCE, preserve_topology=False) if len(key) > 2 else LineString(key)
        cache[key] = [(round(x, DIGITS), round(y, DIGITS)) for x, y in line.coords]
    arc = cache[key]
    return arc if key == tuple(points) else list(reversed(arc))


def shapes() -> dict:
    """A GeoJSON FeatureCollection of the 47 prefectures."""
    qp, qo = japanmap.get_data()
    names = {row["code"]: row for row in csv.DictReader((DATA / "jp_prefectures.csv").open(encoding="utf-8"))}
    cache: dict = {}
    features = []
    for k, arcs in enumerate(qo):
        ring: list[tuple[float, float]] = []
        for _neighbour, indexes in arcs:
            arc = _simplified_arc([tuple(qp[i][0]) for i in indexes], cache)
            ring.extend(arc[1:] if ring and ring[-1] == arc[0] else arc)
        if ring[0] != ring[-1]:
            ring.append(ring[0])
        polygon = Polygon(ring)
        if not polygon.is_valid:
            polygon = polygon.buffer(0)
        code = f"{k + 1:02d}"
        features.append({"type": "Feature", "id": f"{code}000",
                         "properties": {"region": f"{code}000", "name": names[code]["name"],
                                        "name_ja": names[code]["name_ja"]},
                         "geometry": mapping(polygon)})
    return {"type": "FeatureCollection", "features": features}


def neighbours() -> str:
    """The CSV of prefecture pairs sharing a land border (both directions)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["region", "neighbor"])
    for a, b in sorted(japanmap.adjacent()):
        writer.writerow([f"{a:02d}000", f"{b:02d}000"])
    return out.getvalue()


def _rounded(obj):
    if isinstance(obj, float):
        return round(obj, DIGITS)
    if isinstance(obj, list | tuple):
        return [_rounded(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    return obj


if __name__ == "__main__":
    doc = _rounded(shapes())
    (DATA / "jp_prefectures.geojson").write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n",
                                                 encoding="utf-8")
    (DATA / "jp_prefecture_neighbours.csv").write_text(neighbours(), encoding="utf-8")
    print(f"wrote {len(doc['features'])} prefectures; japanmap {japanmap.__version__}")
