"""Region neighbours from map geometry: the spatial weights the hot-spot statistics need.

* **TopoJSON** (Census-derived ``us-atlas`` files, the US Cluster Mapping
  Project's counties, economic areas and metro areas): two regions are
  neighbours when their outlines share an arc. This is exact, needs no
  geometry library, and gives rook contiguity (a shared edge).
* **GeoJSON** (GISCO NUTS files) and **shapefiles** (the Census Bureau's
  cartographic boundary zips): two regions are neighbours when their polygons
  intersect (queen contiguity: a shared point suffices), found with a Shapely
  spatial index (``pip install clusteratlas[spatial]``; shapefiles through pyshp).

Regions are identified by the feature ``id`` or a property (``NUTS_ID`` is
used when present); islands get no neighbours and are reported by
``clusteratlas hotspots``.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pyarrow as pa

from clusteratlas.errors import InputError, check_json
from clusteratlas.i18n import _
from clusteratlas.sources.nuts import read_geojson

_ID = {"type": ["string", "integer"]}
#: What :func:`_shared_arcs` walks (arcs are checked as they are walked: nested lists of integers).
TOPOLOGY_SCHEMA = {
    "type": "object", "required": ["objects"],
    "properties": {"objects": {"type": "object", "minProperties": 1, "additionalProperties": {
        "type": "object",
        "properties": {"geometries": {"type": "array", "items": {
            "type": "object",
            "properties": {"id": _ID, "properties": {"type": ["object", "null"]},
                           "arcs": {"type": "array"}}}}}}}},
}
#: What :func:`_features` walks; the geometry itself is checked by Shapely.
FEATURES_SCHEMA = {
    "type": "object", "required": ["features"],
    "properties": {"features": {"type": "array", "items": {
        "type": "object",
        "properties": {"id": _ID, "properties": {"type": ["object", "null"]},
                       "geometry": {"type": ["object", "null"], "required": ["type", "coordinates"],
                                    "properties": {"type": {"type": "string"},
                                                   "coordinates": {"type": "array"}}}}}}},
}


def _feature_id(obj: dict, id_property: str | None, label: str, n: int) -> str:
    props = obj.get("properties") or {}
    key = id_property or ("NUTS_ID" if "NUTS_ID" in props else None)
    value = props.get(key) if key else obj.get("id")
    if value in (None, ""):
        raise InputError((_("feature {n} has no id property {key!r}") if key else _("feature {n} has no id")).format(
                             n=n, key=key), file=label,
                         hint=_("Name the id property with --id-property"))
    return str(value)


def contiguity(path: Path, *, layer: str | None = None, id_property: str | None = None) -> pa.Table:
    """Neighbour pairs (region, neighbor, weight 1, both directions) from TopoJSON, GeoJSON or a shapefile."""
    label = str(path)
    if Path(path).suffix.lower() in (".shp", ".zip"):
        return _pairs_table(_touching(*_shapefile_features(Path(path), id_property)), label)
    doc = read_geojson(path)
    if doc["type"] == "Topology":
        return _pairs_table(_shared_arcs(doc, layer, id_property, label), label)
    return _pairs_table(_touching(*_features(doc, id_property, label)), label)


def _shared_arcs(doc: dict, layer: str | None, id_property: str | None, label: str) -> set[tuple[str, str]]:
    """Pairs of TopoJSON geometries (of one layer) whose outlines share an arc."""
    check_json(doc, TOPOLOGY_SCHEMA, label, "a TopoJSON Topology (objects of geometries with arcs)")
    objects = doc["objects"]
    name = layer or (next(iter(objects)) if len(objects) == 1 else None)
    if name not in objects:
        raise InputError(_("choose the TopoJSON layer"), file=label, value=layer,
                         expected=", ".join(objects), hint=_("Pass --layer NAME"))
    by_arc: dict[int, set[str]] = defaultdict(set)
    for n, geom in enumerate(objects[name].get("geometries") or [], start=1):
        rid = _feature_id(geom, id_property, label, n)
        stack = [geom.get("arcs") or []]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, int) and not isinstance(item, bool):
                by_arc[item if item >= 0 else ~item].add(rid)  # ~i is arc i reversed
            else:
                raise InputError(_("geometry {n} ({rid}) of layer {name!r} has an arc index that is not an "
                                   "integer").format(n=n, rid=rid, name=name), file=label, value=item,
                                 expected=_("arcs as nested lists of integers (~i for arc i reversed)"))
    pairs: set[tuple[str, str]] = set()
    for regions in by_arc.values():
        pairs.update((a, b) for a in regions for b in regions if a != b)
    return pairs


def _pairs_table(pairs: set[tuple[str, str]], label: str) -> pa.Table:
    if not pairs:
        raise InputError(_("no two regions in the file touch"), file=label)
    ordered = sorted(pairs)
    return pa.table({"region": [p[0] for p in ordered], "neighbor": [p[1] for p in ordered],
                     "weight": pa.array([1.0] * len(ordered), pa.float64())})


def _shapely():
    try:
        import shapely
    except ImportError:
        raise InputError(_("neighbours from polygons need Shapely"), hint=_("pip install 'clusteratlas[spatial]'")) \
            from None
    return shapely


def _features(doc: dict, id_property: str | None, label: str) -> tuple[list[str], list]:
    shapely = _shapely()
    check_json(doc, FEATURES_SCHEMA, label, "a GeoJSON FeatureCollection (features with a geometry)")
    ids, shapes = [], []
    for n, feature in enumerate(doc["features"], start=1):
        ids.append(_feature_id(feature, id_property, label, n))
        try:
            shapes.append(shapely.geometry.shape(feature["geometry"]) if feature.get("geometry") else None)
        except (shapely.errors.ShapelyError, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            raise InputError(_("feature {n} ({value}) has a geometry Shapely cannot read: {exc}").format(
                n=n, value=ids[-1], exc=exc), file=label,
                             expected=_("a GeoJSON Polygon or MultiPolygon")) from None
    return ids, shapes


def _shapefile_features(path: Path, id_property: str | None) -> tuple[list[str], list]:
    """Ids and polygons of an ESRI shapefile (or a zip holding one, as the Census Bureau ships them)."""
    shapely = _shapely()
    try:
        import shapefile
    except ImportError:
        raise InputError(_("reading shapefiles needs pyshp"), file=str(path),
                         hint=_("pip install 'clusteratlas[spatial]'")) from None
    try:
        reader = shapefile.Reader(str(path))
        fields = [f.name for f in reader.fields[1:]]
        key = id_property or next((f for f in ("GEOID", "NUTS_ID", "FIPS", "STATE_FIPS") if f in fields), None)
        if key not in fields:
            raise InputError(_("choose the id field of the shapefile"), file=str(path), value=id_property,
                             expected=", ".join(fields), hint=_("Pass --id-property FIELD"))
        ids, shapes = [], []
        for item in reader.iterShapeRecords():
            ids.append(str(item.record[key]).strip())
            geo = item.shape.__geo_interface__
            shapes.append(shapely.geometry.shape(geo) if geo.get("coordinates") else None)
        reader.close()
    except shapefile.ShapefileException as exc:
        raise InputError(_("cannot read as a shapefile: {exc}").format(exc=exc), file=str(path)) from None
    return ids, shapes


def _touching(ids: list[str], shapes: list) -> set[tuple[str, str]]:
    """Pairs of ids whose polygons intersect (queen contiguity), found with a spatial index."""
    shapely = _shapely()
    kept = [i for i, s in enumerate(shapes) if s is not None]
    tree = shapely.STRtree([shapes[i] for i in kept])
    left, right = tree.query([shapes[i] for i in kept], predicate="intersects")
    return {(ids[kept[a]], ids[kept[b]]) for a, b in zip(left, right, strict=True)
            if ids[kept[a]] != ids[kept[b]]}
