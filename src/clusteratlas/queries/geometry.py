"""Region shapes of one level, as the web maps draw them (GeoJSON)."""

from __future__ import annotations

import json
from typing import Any

import duckdb

from clusteratlas.i18n import _
from clusteratlas.queries._core import Missing, tables


def geometry_levels(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The levels that have shapes (empty when none were imported)."""
    if "geometries" not in tables(con):
        return []
    return [r[0] for r in con.execute("SELECT DISTINCT level FROM geometries ORDER BY 1").fetchall()]


def geometry(con: duckdb.DuckDBPyConnection, level: str) -> dict[str, Any]:
    """A FeatureCollection of every region of ``level`` (feature id = region id, names as properties)."""
    if level not in geometry_levels(con):
        raise Missing(_("the atlas has no shapes for the level {level!r}").format(level=level),
                      hint=_("Import them with 'clusteratlas import geometry FILE --level LEVEL'"))
    rows = con.execute("SELECT g.region, g.geojson, r.name, r.name_ja FROM geometries g "
                       "LEFT JOIN (SELECT region, any_value(name) AS name, any_value(name_ja) AS name_ja "
                       "FROM regions GROUP BY region) r USING (region) WHERE g.level = ? ORDER BY g.region",
                       [level]).fetchall()
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": region, "properties": {"name": region, "label": name, "label_ja": name_ja},
         "geometry": json.loads(shape)} for region, shape, name, name_ja in rows]}
