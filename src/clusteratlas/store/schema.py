"""The atlas's DuckDB schema, built from :mod:`clusteratlas.model`."""

from __future__ import annotations

import duckdb

from clusteratlas import model

SCHEMA_VERSION = 4


def _columns(columns: tuple[model.Column, ...], *, skip: tuple[str, ...] = ()) -> str:
    return ", ".join(f'"{c.name}" {c.sql_type}' for c in columns if c.name not in skip)


def column_names(columns: tuple[model.Column, ...], prefix: str = "", *, skip: tuple[str, ...] = ()) -> str:
    """The columns' quoted names, comma-separated, each after ``prefix`` (a table alias and its dot)."""
    return ", ".join(f'{prefix}"{c.name}"' for c in columns if c.name not in skip)


# Observations (schema 4). A dataset is a number in the rows and its name in `datasets`; a dataset none of whose
# rows carries a flag, size class or source flag is stored without those columns. Each column costs time to store
# whatever it holds (60 M rows: 6.5 s for these 7 columns, 10.5 s for the former 10, the name included), and most
# files carry no flags. The view `observations` shows both as one table with the columns of schema 3, so that
# every reader asks it as before.
OBSERVATION_TABLES = [
    "CREATE TABLE IF NOT EXISTS datasets (id INTEGER PRIMARY KEY, name VARCHAR NOT NULL UNIQUE)",
    f"CREATE TABLE IF NOT EXISTS observations_unflagged (dataset_id INTEGER NOT NULL, "
    f"{_columns(model.OBSERVATIONS, skip=model.OBSERVATION_NOTES)})",
    f"CREATE TABLE IF NOT EXISTS observations_flagged (dataset_id INTEGER NOT NULL, {_columns(model.OBSERVATIONS)})",
]
#: What each note column holds in a row stored without notes: ``flag`` '' (reported as published), the others null.
NOTE_DEFAULTS = {"flag": "''", "size_class": "NULL", "source_flag": "NULL"}


def note_defaults(names: tuple[str, ...] | list[str]) -> str:
    """Select items giving the note columns ``names`` their defaults (``, ''::VARCHAR AS flag`` …): how the rows
    stored without notes are read as if they had them."""
    return "".join(f", {NOTE_DEFAULTS[name]}::VARCHAR AS {name}" for name in names)


#: Whether an observation row carries a note (a note column other than its default): its dataset is then stored
#: in ``observations_flagged``.
HAS_NOTE = "(" + " OR ".join(f"{name} IS DISTINCT FROM {default}" for name, default in NOTE_DEFAULTS.items()) + ")"

OBSERVATIONS_VIEW = (
    f"CREATE OR REPLACE VIEW observations AS SELECT d.name AS dataset, {column_names(model.OBSERVATIONS, 'o.')} "
    f"FROM (SELECT dataset_id, {column_names(model.OBSERVATIONS, skip=model.OBSERVATION_NOTES)}"
    f"{note_defaults(model.OBSERVATION_NOTES)} FROM observations_unflagged "
    f"UNION ALL SELECT dataset_id, {column_names(model.OBSERVATIONS)} FROM observations_flagged) o "
    "JOIN datasets d ON d.id = o.dataset_id")

DDL = [
    "CREATE TABLE IF NOT EXISTS atlas_meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    *OBSERVATION_TABLES,
    OBSERVATIONS_VIEW,
    "CREATE TABLE IF NOT EXISTS regions (region VARCHAR PRIMARY KEY, name VARCHAR, name_ja VARCHAR, "
    "level VARCHAR)",
    "CREATE TABLE IF NOT EXISTS region_links (hierarchy VARCHAR, region VARCHAR, parent VARCHAR, "
    "PRIMARY KEY (hierarchy, region))",
    "CREATE TABLE IF NOT EXISTS custom_members (region VARCHAR, member VARCHAR, PRIMARY KEY (region, member))",
    f"CREATE TABLE IF NOT EXISTS industries ({_columns(model.INDUSTRIES)}, PRIMARY KEY (industry))",
    f"CREATE TABLE IF NOT EXISTS definitions (definition VARCHAR NOT NULL, {_columns(model.DEFINITIONS)})",
    f"CREATE TABLE IF NOT EXISTS reference_totals ({_columns(model.REFERENCE_TOTALS)})",
    # the source's own total of each observed region (a CBP file's total rows), per dataset: see metrics.unpublished
    "CREATE TABLE IF NOT EXISTS region_totals (dataset VARCHAR, region VARCHAR, year INTEGER, employment DOUBLE, "
    "cells DOUBLE)",
    "CREATE TABLE IF NOT EXISTS region_neighbors (region VARCHAR, neighbor VARCHAR, weight DOUBLE, "
    "PRIMARY KEY (region, neighbor))",
    "CREATE TABLE IF NOT EXISTS indicators (indicator VARCHAR, region VARCHAR, year INTEGER, value DOUBLE, "
    "unit VARCHAR, PRIMARY KEY (indicator, region, year))",
    "CREATE TABLE IF NOT EXISTS imports (imported_at TIMESTAMP, kind VARCHAR, name VARCHAR, file VARCHAR, "
    "rows BIGINT, sha256 VARCHAR)",
    # Qualitative evaluation: framework versions, assessments with every revision, their scores.
    "CREATE TABLE IF NOT EXISTS evaluation_frameworks (framework VARCHAR, version VARCHAR, sha256 VARCHAR, "
    "name VARCHAR, name_ja VARCHAR, document VARCHAR, loaded_at TIMESTAMP, PRIMARY KEY (framework, version))",
    "CREATE TABLE IF NOT EXISTS assessments (assessment VARCHAR, revision INTEGER, framework VARCHAR, "
    "framework_version VARCHAR, subject VARCHAR, subject_type VARCHAR, subject_name VARCHAR, "
    "subject_name_ja VARCHAR, region VARCHAR, assessor VARCHAR, assessed_on VARCHAR, tags VARCHAR, "
    "content_sha256 VARCHAR, recorded_at TIMESTAMP, file VARCHAR, PRIMARY KEY (assessment, revision))",
    "CREATE TABLE IF NOT EXISTS assessment_scores (assessment VARCHAR, revision INTEGER, factor VARCHAR, "
    '"column" VARCHAR, value VARCHAR, points DOUBLE, evidence VARCHAR, source VARCHAR)',
    # the date as written (令和6年4月1日, 2024年度); added on open to atlases made before it existed
    "ALTER TABLE assessments ADD COLUMN IF NOT EXISTS assessed_on_text VARCHAR",
    # the current revision per id and identity (an id once stood for several subjects: see store/evaluations.py)
    "CREATE OR REPLACE VIEW assessments_current AS SELECT * FROM assessments "
    "QUALIFY revision = max(revision) OVER (PARTITION BY assessment, framework, subject, assessor)",
    "CREATE TABLE IF NOT EXISTS programme_registry (programme VARCHAR, id VARCHAR, name VARCHAR, name_ja VARCHAR, "
    "start BIGINT, type VARCHAR, fields VARCHAR, fields_ja VARCHAR, regions VARCHAR, parts BIGINT, "
    "PRIMARY KEY (programme, id))",
    "CREATE TABLE IF NOT EXISTS map_runs (run_at TIMESTAMP, definition VARCHAR, parameters VARCHAR, "
    "clusters BIGINT, unmapped_employment DOUBLE)",
    # Added in schema 2: the reference economy of each run, and the observed regions in no region system.
    # (ADD COLUMN IF NOT EXISTS migrates an older atlas when it is opened; its earlier runs keep NULL.)
    *(f"ALTER TABLE map_runs ADD COLUMN IF NOT EXISTS {col}" for col in (
        "reference VARCHAR", "reference_label VARCHAR", "reference_employment DOUBLE",
        "outside_regions BIGINT", "outside_employment DOUBLE")),
    # Added in schema 3: the run's id, its whole spec and what it produced, as JSON (clusteratlas.metrics.run).
    # Rows of older versions keep NULL there and are read back marked legacy (clusteratlas.store.runs).
    *(f"ALTER TABLE map_runs ADD COLUMN IF NOT EXISTS {col}" for col in (
        "run_id VARCHAR", "spec VARCHAR", "outcome VARCHAR")),
    # The service's tokens (only their hashes) and its write log (clusteratlas.store.tokens): part of the
    # schema, so that every reader finds them and the command line can manage tokens beside a running server.
    "CREATE TABLE IF NOT EXISTS api_tokens (id VARCHAR PRIMARY KEY, name VARCHAR, role VARCHAR, hash VARCHAR, "
    "created_at TIMESTAMP, expires_at TIMESTAMP, revoked_at TIMESTAMP)",
    "CREATE TABLE IF NOT EXISTS api_writes (written_at TIMESTAMP, token VARCHAR, name VARCHAR, role VARCHAR, "
    "action VARCHAR, detail VARCHAR, sha256 VARCHAR)",
]

#: Tables a user can export, and what they hold.
EXPORTABLE = {
    "clusters": "results_clusters",
    "regions": "results_regions",
    "unmapped": "results_unmapped",
    "observations": "observations",
    "definitions": "definitions",
    "region-list": "regions",
    "industries": "industries",
    "reference-totals": "reference_totals",
    "region-totals": "region_totals",
    "imports": "imports",
    "relate-regions": "relate_regions",
    "relate-items": "relate_items",
    "relate-cells": "relate_cells",
    "relate-pairs": "relate_pairs",
    "shift-share": "shift_share",
    "indicators": "indicators",
    "hotspots": "hotspots",
    "hotspots-global": "hotspots_global",
    "assessments": "assessments",
    "assessment-scores": "assessment_scores",
    "frameworks": "evaluation_frameworks",
    "programmes": "programme_registry",
}


def split_observations(con: duckdb.DuckDBPyConnection) -> bool:
    """Bring the observations of an atlas made before schema 4 (one table with each row's dataset name) into the
    tables of :data:`DDL`, in one transaction; the view that replaces the table shows the same rows.

    Returns whether there was such a table. Run before :data:`DDL`, whose view takes the table's name.
    """
    kind = con.execute("SELECT table_type FROM information_schema.tables WHERE table_catalog = current_database() "
                       "AND table_schema = 'main' AND table_name = 'observations'").fetchall()
    if not kind or kind[0][0] != "BASE TABLE":
        return False
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("ALTER TABLE observations ADD COLUMN IF NOT EXISTS source_flag VARCHAR")  # before schema 3
        for statement in OBSERVATION_TABLES:
            con.execute(statement)
        con.execute("INSERT INTO datasets SELECT row_number() OVER (ORDER BY dataset), dataset "
                    "FROM (SELECT DISTINCT dataset FROM observations)")
        con.execute("CREATE TEMP TABLE __noted AS SELECT DISTINCT dataset FROM observations WHERE " + HAS_NOTE)
        columns = column_names(model.OBSERVATIONS, "o.", skip=model.OBSERVATION_NOTES)
        con.execute(f"INSERT INTO observations_unflagged SELECT d.id, {columns} FROM observations o "
                    "JOIN datasets d ON d.name = o.dataset WHERE o.dataset NOT IN (SELECT dataset FROM __noted)")
        con.execute(f"INSERT INTO observations_flagged SELECT d.id, {column_names(model.OBSERVATIONS, 'o.')} "
                    "FROM observations o JOIN datasets d ON d.name = o.dataset "
                    "WHERE o.dataset IN (SELECT dataset FROM __noted)")
        con.execute("DROP TABLE __noted")
        con.execute("DROP TABLE observations")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return True
