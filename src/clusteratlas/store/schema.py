"""The atlas's DuckDB schema, built from :mod:`clusteratlas.model`."""

from __future__ import annotations

from clusteratlas import model

SCHEMA_VERSION = 1


def _columns(columns: tuple[model.Column, ...], *, skip: tuple[str, ...] = ()) -> str:
    return ", ".join(f'"{c.name}" {c.sql_type}' for c in columns if c.name not in skip)


DDL = [
    "CREATE TABLE IF NOT EXISTS atlas_meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    f"CREATE TABLE IF NOT EXISTS observations (dataset VARCHAR NOT NULL, {_columns(model.OBSERVATIONS)})",
    "CREATE TABLE IF NOT EXISTS regions (region VARCHAR PRIMARY KEY, name VARCHAR, name_ja VARCHAR, "
    "level VARCHAR)",
    "CREATE TABLE IF NOT EXISTS region_links (hierarchy VARCHAR, region VARCHAR, parent VARCHAR, "
    "PRIMARY KEY (hierarchy, region))",
    "CREATE TABLE IF NOT EXISTS custom_members (region VARCHAR, member VARCHAR, PRIMARY KEY (region, member))",
    f"CREATE TABLE IF NOT EXISTS industries ({_columns(model.INDUSTRIES)}, PRIMARY KEY (industry))",
    f"CREATE TABLE IF NOT EXISTS definitions (definition VARCHAR NOT NULL, {_columns(model.DEFINITIONS)})",
    f"CREATE TABLE IF NOT EXISTS reference_totals ({_columns(model.REFERENCE_TOTALS)})",
    "CREATE TABLE IF NOT EXISTS region_neighbors (region VARCHAR, neighbor VARCHAR, weight DOUBLE, "
    "PRIMARY KEY (region, neighbor))",
    "CREATE TABLE IF NOT EXISTS indicators (indicator VARCHAR, region VARCHAR, year INTEGER, value DOUBLE, "
    "unit VARCHAR, PRIMARY KEY (indicator, region, year))",
    "CREATE TABLE IF NOT EXISTS imports (imported_at TIMESTAMP, kind VARCHAR, name VARCHAR, file VARCHAR, "
    "rows BIGINT, sha256 VARCHAR)",
    "CREATE TABLE IF NOT EXISTS map_runs (run_at TIMESTAMP, definition VARCHAR, parameters VARCHAR, "
    "clusters BIGINT, unmapped_employment DOUBLE)",
]

#: Tables a user can export, and what they hold.
EXPORTABLE = {
    "clusters": "results_clusters",
    "regions": "results_regions",
    "unmapped": "results_unmapped",
    "observations": "observations",
    "definitions": "definitions",
    "region-list": "regions",
    "imports": "imports",
    "relate-regions": "relate_regions",
    "relate-items": "relate_items",
    "relate-cells": "relate_cells",
    "relate-pairs": "relate_pairs",
    "shift-share": "shift_share",
    "indicators": "indicators",
    "hotspots": "hotspots",
    "hotspots-global": "hotspots_global",
}
