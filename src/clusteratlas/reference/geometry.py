"""Region neighbours from map geometry: the spatial weights the hot-spot statistics need.

* **TopoJSON** (Census-derived ``us-atlas`` files, the US Cluster Mapping
  Project's counties, economic areas and metro areas): two regions are
  neighbours when their outlines share an arc. This is exact, needs no
  geometry library, and gives rook contiguity (a shared edge).
* **GeoJSON** (GISCO NUTS files): two regions are neighbours when their
  polygons intersect (queen contiguity: a shared point suffices), found with
  a Shapely spatial index (``pip install clusteratlas[spatial]``).

Regions are identified by the feature ``id`` or a property (``NUTS_ID`` is
used when present); islands get no neighbours and are reported by
``clusteratlas hotspots``.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pyarrow as pa

from clusteratlas.errors import InputError
from clusteratlas.sources.nuts import read_geojson


def _feature_id(obj: dict, id_property: str | None, label: str, n: int) -> str:
    props = obj.get("properties") or {}
    key = id_property or ("NUTS_ID" if "NUTS_ID" in props else None)
    value = props.get(key) if key else obj.get("id")
    if value in (None, ""):
        raise InputError(f"feature {n} has no id" + (f" property {key!r}" if key else ""), file=label,
                         hint="Name the id property with --id-property")
    return str(value)


def contiguity(path: Path, *, layer: str | None = None, id_property: str | None = None) -> pa.Table:
    """Neighbour pairs (region, neighbor, weight 1, both directions) from a TopoJSON or GeoJSON file."""
    label = str(path)
    doc = read_geojson(path)
    pairs: set[tuple[str, str]] = set()
    if doc["type"] == "Topology":
        objects = doc.get("objects") or {}
        name = layer or (next(iter(objects)) if len(objects) == 1 else None)
        if name not in objects:
            raise InputError("choose the TopoJSON layer", file=label, value=layer,
                             expected=", ".join(objects), hint="Pass --layer NAME")
        by_arc: dict[int, set[str]] = defaultdict(set)
        for n, geom in enumerate(objects[name].get("geometries") or [], start=1):
            rid = _feature_id(geom, id_property, label, n)
            stack = [geom.get("arcs") or []]
            while stack:
                item = stack.pop()
                if isinstance(item, list):
                    stack.extend(item)
                else:
                    by_arc[item if item >= 0 else ~item].add(rid)
        for regions in by_arc.values():
            for a in regions:
                pairs.update((a, b) for b in regions if b != a)
    else:
        try:
            import shapely
        except ImportError:
            raise InputError("neighbours from GeoJSON need Shapely", file=label,
                             hint="pip install 'clusteratlas[spatial]'") from None
        ids, shapes = [], []
        for n, feature in enumerate(doc.get("features") or [], start=1):
            ids.append(_feature_id(feature, id_property, label, n))
            shapes.append(shapely.geometry.shape(feature["geometry"]) if feature.get("geometry") else None)
        tree = shapely.STRtree([s for s in shapes if s is not None])
        kept = [i for i, s in enumerate(shapes) if s is not None]
        left, right = tree.query([shapes[i] for i in kept], predicate="intersects")
        pairs.update((ids[kept[a]], ids[kept[b]]) for a, b in zip(left, right, strict=True) if a != b)
    if not pairs:
        raise InputError("no two regions in the file touch", file=label)
    ordered = sorted(pairs)
    return pa.table({"region": [p[0] for p in ordered], "neighbor": [p[1] for p in ordered],
                     "weight": pa.array([1.0] * len(ordered), pa.float64())})
