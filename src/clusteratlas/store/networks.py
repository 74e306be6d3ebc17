"""The atlas tables of actors and their networks (issue 12).

Every table is keyed by ``network``: one atlas can hold several networks
(e.g. the Horizon 2020 co-participations and the French Investissements
d'avenir partners) whose actor ids would otherwise collide. ``region`` holds a
code of the region systems the atlas already has (a NUTS code, a country
code, a US county/state FIPS code, a Japanese prefecture code), so every
network figure joins ``results_clusters`` / ``results_regions`` on ``region``
(and ``cluster``).
"""

from __future__ import annotations

import contextlib

import duckdb

NETWORK_DDL = [
    "CREATE TABLE IF NOT EXISTS actors (network VARCHAR NOT NULL, actor VARCHAR NOT NULL, name VARCHAR, "
    "name_ja VARCHAR, kind VARCHAR NOT NULL, region VARCHAR, country VARCHAR, city VARCHAR, industry VARCHAR, "
    "cluster VARCHAR, size VARCHAR, founded INTEGER, seeds VARCHAR, needs VARCHAR, source VARCHAR, "
    "PRIMARY KEY (network, actor))",
    "CREATE TABLE IF NOT EXISTS actor_ties (network VARCHAR NOT NULL, source VARCHAR NOT NULL, "
    "target VARCHAR NOT NULL, kind VARCHAR NOT NULL, year INTEGER, period VARCHAR, weight DOUBLE, "
    "evidence VARCHAR)",
    # role: coordinator or member (the analysis); role_published: as the file writes it (CORDIS coordinator,
    # participant, partner); contribution: the EU contribution in euros (empty where the source gives none)
    "CREATE TABLE IF NOT EXISTS actor_memberships (network VARCHAR NOT NULL, actor VARCHAR NOT NULL, "
    "project VARCHAR NOT NULL, role VARCHAR, project_name VARCHAR, programme VARCHAR, year INTEGER, "
    "description VARCHAR, role_published VARCHAR, contribution DOUBLE)",
    # One row per actor and metric run; betweenness_method says 'exact' or 'sampled k=…'.
    "CREATE TABLE IF NOT EXISTS network_metrics (network VARCHAR, actor VARCHAR, degree BIGINT, in_degree BIGINT, "
    "out_degree BIGINT, strength DOUBLE, "
    "betweenness DOUBLE, eigenvector DOUBLE, constraint_burt DOUBLE, effective_size DOUBLE, community BIGINT, "
    "coreness BIGINT, core BOOLEAN, coordinator BIGINT, gatekeeper BIGINT, representative BIGINT, "
    "itinerant BIGINT, liaison BIGINT, brokerage_group VARCHAR, PRIMARY KEY (network, actor))",
    # Summaries per region / cluster (level), joinable with results_clusters and results_regions.
    "CREATE TABLE IF NOT EXISTS network_summaries (network VARCHAR, level VARCHAR, grp VARCHAR, actors BIGINT, "
    "ties BIGINT, internal_ties BIGINT, density DOUBLE, share_internal DOUBLE, share_other_region DOUBLE, "
    "share_abroad DOUBLE, share_unknown_location DOUBLE, share_industry_academia DOUBLE, "
    "share_industry_government DOUBLE, share_academia_government DOUBLE, share_within_sector DOUBLE, "
    "share_other_sector DOUBLE, mean_degree DOUBLE, note VARCHAR, PRIMARY KEY (network, level, grp))",
    # The TF-IDF index of the actors' texts (numpy arrays saved without pickles), valid while checksum matches.
    "CREATE TABLE IF NOT EXISTS network_text_index (network VARCHAR PRIMARY KEY, checksum VARCHAR, "
    "built_at TIMESTAMP, seconds DOUBLE, n_rows BIGINT, n_terms BIGINT, actors VARCHAR, terms VARCHAR, "
    "idf BLOB, data BLOB, structure BLOB, n_ties BIGINT, adjacency BLOB)",
    "CREATE TABLE IF NOT EXISTS network_runs (run_at TIMESTAMP, network VARCHAR, actors BIGINT, ties BIGINT, "
    "betweenness_method VARCHAR, seed BIGINT, seconds DOUBLE, parameters VARCHAR)",
]

#: Tables of a network, in the order they are cleared when a network is replaced.
NETWORK_TABLES = ("network_text_index", "network_metrics", "network_summaries", "actor_memberships", "actor_ties",
                  "actors")


def ensure_network_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the network tables if missing (idempotent; called when an atlas opens; no-op when all exist,
    so a read-only connection works)."""
    have = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    for statement in NETWORK_DDL:
        if statement.split("EXISTS ")[1].split(" ")[0] not in have:
            con.execute(statement)
    # atlases written before the published roles and contributions (issue 19): add the columns (NULL for old rows)
    if "actor_memberships" in have and not con.execute(
            "SELECT 1 FROM duckdb_columns() WHERE table_name = 'actor_memberships' AND column_name = 'contribution'"
    ).fetchall():
        with contextlib.suppress(duckdb.Error):
            con.execute("ALTER TABLE actor_memberships ADD COLUMN IF NOT EXISTS role_published VARCHAR")
            con.execute("ALTER TABLE actor_memberships ADD COLUMN IF NOT EXISTS contribution DOUBLE")
    # atlases written before the directed degrees (issue 19): add them (NULL until 'network compute')
    if "network_metrics" in have and not con.execute(
            "SELECT 1 FROM duckdb_columns() WHERE table_name = 'network_metrics' AND column_name = 'in_degree'"
    ).fetchall():
        with contextlib.suppress(duckdb.Error):  # a read-only atlas is read as it is
            for column in ("in_degree", "out_degree"):
                con.execute(f"ALTER TABLE network_metrics ADD COLUMN IF NOT EXISTS {column} BIGINT")
    # atlases written before the unknown-location share: add the column (NULL until 'network compute')
    if "network_summaries" in have and not con.execute(
            "SELECT 1 FROM duckdb_columns() WHERE table_name = 'network_summaries' "
            "AND column_name = 'share_unknown_location'").fetchall():
        with contextlib.suppress(duckdb.Error):  # a read-only atlas is read as it is
            con.execute("ALTER TABLE network_summaries ADD COLUMN share_unknown_location DOUBLE")
