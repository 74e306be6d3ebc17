"""Region shapes for the web maps: one simplified GeoJSON geometry per region and level.

The table ``geometries(level VARCHAR, region VARCHAR, geojson VARCHAR)`` holds
what a choropleth draws. Shapes come from the readers that exist for the
spatial weights (:mod:`clusteratlas.reference.geometry`: TopoJSON, GeoJSON,
shapefiles), are simplified with Shapely (Douglas-Peucker that keeps each
polygon valid) and their coordinates rounded, so a page of 3,000 US counties
stays small. Importing a level replaces that level's shapes in one
transaction; other levels are kept.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from clusteratlas.errors import InputError
from clusteratlas.i18n import _

SCHEMA = "CREATE TABLE IF NOT EXISTS geometries (level VARCHAR, region VARCHAR, geojson VARCHAR)"
FORMATS = ("geojson", "topojson", "shapefile", "japanmap")
#: Decimal places kept in coordinates (about 10 m at the equator: finer than any web map draws).
DIGITS = 4


def _topology_features(doc: dict, layer: str | None, label: str) -> dict:
    """A TopoJSON layer as a GeoJSON FeatureCollection (arcs decoded, quantisation undone)."""
    from clusteratlas.errors import check_json
    from clusteratlas.reference.geometry import TOPOLOGY_SCHEMA

    check_json(doc, TOPOLOGY_SCHEMA, label, "a TopoJSON Topology (objects of geometries with arcs)")
    objects = doc["objects"]
    if layer is None:
        if len(objects) > 1:
            raise InputError(_("the TopoJSON file has several layers"), file=label, expected=", ".join(objects),
                             hint=_("Choose one with --layer"))
        layer = next(iter(objects))
    if layer not in objects:
        raise InputError(_("no such layer in the TopoJSON file"), file=label, value=layer, expected=", ".join(objects))
    scale, shift = (doc.get("transform") or {}).get("scale"), (doc.get("transform") or {}).get("translate")
    arcs = []
    for arc in doc.get("arcs") or []:
        points, x, y = [], 0, 0
        for p in arc:
            if scale:  # quantised: delta-encoded integers
                x, y = x + p[0], y + p[1]
                points.append([x * scale[0] + shift[0], y * scale[1] + shift[1]])
            else:
                points.append([p[0], p[1]])
        arcs.append(points)

    def ring(indexes: list[int]) -> list[list[float]]:
        out: list[list[float]] = []
        for i in indexes:
            pts = arcs[i] if i >= 0 else arcs[~i][::-1]
            out.extend(pts if not out else pts[1:])
        return out

    features = []
    for n, geom in enumerate(objects[layer].get("geometries") or [], start=1):
        kind, a = geom.get("type"), geom.get("arcs") or []
        try:
            if kind == "Polygon":
                shape = {"type": "Polygon", "coordinates": [ring(r) for r in a]}
            elif kind == "MultiPolygon":
                shape = {"type": "MultiPolygon", "coordinates": [[ring(r) for r in p] for p in a]}
            else:
                shape = None
        except (IndexError, TypeError) as exc:
            raise InputError(_("geometry {n} of layer {layer!r} points at an arc the file lacks ({exc})").format(
                n=n, layer=layer, exc=exc),
                             file=label) from None
        features.append({"type": "Feature", "id": geom.get("id"), "properties": geom.get("properties") or {},
                         "geometry": shape})
    return {"type": "FeatureCollection", "features": features}


def read_shapes(path: str | Path, *, file_format: str, layer: str | None = None,
                id_property: str | None = None) -> tuple[list[str], list]:
    """Region ids and Shapely geometries of a GeoJSON, TopoJSON or shapefile."""
    from clusteratlas.reference.geometry import _features, _shapefile_features
    from clusteratlas.sources.nuts import read_geojson

    path = Path(path)
    if file_format not in FORMATS:
        raise InputError(_("unknown geometry format"), value=file_format, expected=", ".join(FORMATS))
    if file_format == "japanmap":
        return japan_prefectures()
    if file_format == "shapefile":
        return _shapefile_features(path, id_property)
    doc = read_geojson(path)
    if file_format == "topojson" or doc.get("type") == "Topology":
        doc = _topology_features(doc, layer, str(path))
    return _features(doc, id_property, str(path))


def japan_prefectures() -> tuple[list[str], list]:
    """Japan's 47 prefectures (ids ``01000``…``47000``) from the outlines bundled with the package.

    See :func:`clusteratlas.reference.japan.prefecture_geojson` (simplified from ``japanmap`` once;
    no extra package needed).
    """
    import shapely.geometry

    from clusteratlas.reference.japan import prefecture_geojson

    features = prefecture_geojson()["features"]
    return [str(f["id"]) for f in features], [shapely.geometry.shape(f["geometry"]) for f in features]


def simplified(shapes: list, tolerance: float) -> list[str | None]:
    """Each shape simplified (topology kept, never emptied) with rounded coordinates, as GeoJSON text."""
    import shapely

    out: list[str | None] = []
    for shape in shapes:
        if shape is None or shape.is_empty:
            out.append(None)
            continue
        small = shapely.simplify(shape, tolerance, preserve_topology=True) if tolerance > 0 else shape
        if small.geom_type not in ("Polygon", "MultiPolygon"):  # e.g. a repaired outline: keep its areas only
            parts = [g for g in shapely.get_parts(small) if g.geom_type in ("Polygon", "MultiPolygon")]
            small = shapely.union_all(parts) if parts else shape
        if small.is_empty:
            small = shape
        small = shapely.transform(small, lambda xy: xy.round(DIGITS))  # rounding only: no topology check
        out.append(json.dumps(shapely.geometry.mapping(small), separators=(",", ":")))
    return out


def store(con: duckdb.DuckDBPyConnection, level: str, ids: list[str], geojson: list[str | None]) -> int:
    """Replace the shapes of ``level`` (all or nothing); returns the number of shapes stored."""
    rows = [(level, r, g) for r, g in zip(ids, geojson, strict=True) if g is not None]
    if not rows:
        raise InputError(_("no shapes to store"), value=level)
    seen: set[str] = set()
    dupes = sorted({r for _, r, _ in rows if r in seen or seen.add(r)})  # type: ignore[func-returns-value]
    if dupes:
        raise InputError(_("a region has several shapes"), value=", ".join(dupes[:5]),
                         expected=_("one feature per region (dissolve them first)"))
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(SCHEMA)
        con.execute("DELETE FROM geometries WHERE level = ?", [level])
        con.executemany("INSERT INTO geometries VALUES (?, ?, ?)", rows)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return len(rows)


def import_geometry(con: duckdb.DuckDBPyConnection, path: str | Path, *, level: str, file_format: str = "geojson",
                    layer: str | None = None, id_property: str | None = None, tolerance: float = 0.01) -> int:
    """Read, simplify and store the shapes of one level (see :func:`store`)."""
    ids, shapes = read_shapes(path, file_format=file_format, layer=layer, id_property=id_property)
    return store(con, level, ids, simplified(shapes, tolerance))


def grid_geojson(cells: dict[str, tuple[int, int]]) -> dict:
    """Unit squares at (row, column) as a GeoJSON FeatureCollection (the sample economy's map)."""
    features = []
    for region, (row, col) in cells.items():
        x, y = float(col), float(-row)
        features.append({"type": "Feature", "id": region, "properties": {},
                         "geometry": {"type": "Polygon", "coordinates": [[[x, y], [x + 1, y], [x + 1, y - 1],
                                                                          [x, y - 1], [x, y]]]}})
    return {"type": "FeatureCollection", "features": features}
