"""Query functions over the stored networks: what the CLI prints and what the REST API will return (plain dicts)."""

from __future__ import annotations

import duckdb

from clusteratlas.errors import InputError
from clusteratlas.i18n import _
from clusteratlas.networks.analysis import resolve_network
from clusteratlas.networks.model import DIRECTED_TIES


def _dicts(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict]:
    return con.sql(sql, params=params).pl().to_dicts()


def actor_profile(con: duckdb.DuckDBPyConnection, network: str | None, actor: str, *, ties: int = 15) -> dict:
    """An actor, its figures, its strongest ties and its memberships."""
    name = resolve_network(con, network)
    rows = _dicts(con, "SELECT a.*, m.* EXCLUDE (network, actor) FROM actors a LEFT JOIN network_metrics m "
                       "USING (network, actor) WHERE a.network = ? AND a.actor = ?", [name, actor])
    if not rows:
        raise InputError(_("no actor '{actor}' in network '{name}'").format(actor=actor, name=name))
    partner = _dicts(con, """
        SELECT CASE WHEN t.source = ? THEN t.target ELSE t.source END AS partner, b.name, b.kind, b.region,
               t.kind AS tie,
               CASE WHEN t.kind NOT IN (SELECT unnest(?::VARCHAR[])) THEN 'both ways'
                    WHEN t.source = ? THEN 'out' ELSE 'in' END AS direction, t.weight, t.period, t.evidence
        FROM actor_ties t JOIN actors b ON b.network = t.network
             AND b.actor = CASE WHEN t.source = ? THEN t.target ELSE t.source END
        WHERE t.network = ? AND (t.source = ? OR t.target = ?) ORDER BY t.weight DESC, partner LIMIT ?""",
                     [actor, list(DIRECTED_TIES), actor, actor, name, actor, actor, ties])
    members = _dicts(con, "SELECT project, role, role_published, contribution, year, programme, project_name "
                          "FROM actor_memberships "
                          "WHERE network = ? AND actor = ? ORDER BY year DESC NULLS LAST, project LIMIT 20",
                     [name, actor])
    return {"network": name, "actor": rows[0], "ties": partner, "memberships": members}


def contributions(con: duckdb.DuckDBPyConnection, network: str | None, group: str | None = None) -> list[dict]:
    """EU contribution (CORDIS: euros) by country and role as published: participations, organisations, the
    participations with a contribution and their sum (None where the source gives none, e.g. partners).

    ``group``: only the actors of this region, country or cluster; None: every country.
    """
    name = resolve_network(con, network)
    where, params = "m.network = ?", [name]
    if group is not None:
        where += " AND (a.region = ? OR a.country = ? OR a.cluster = ?)"
        params += [group, group, group]
    return _dicts(con, f"""
        SELECT country, role, participations, organisations, with_contribution, contribution FROM (
            SELECT a.country, coalesce(m.role_published, m.role) AS role, count(*) AS participations,
                   count(DISTINCT m.actor) AS organisations, count(m.contribution) AS with_contribution,
                   sum(m.contribution) AS contribution
            FROM actor_memberships m JOIN actors a ON a.network = m.network AND a.actor = m.actor
            WHERE {where} GROUP BY ALL)
        ORDER BY sum(contribution) OVER (PARTITION BY country) DESC NULLS LAST, country,
                 contribution DESC NULLS LAST, role""", params)


def group_network(con: duckdb.DuckDBPyConnection, network: str | None, group: str, *, top: int = 15) -> dict:
    """A region's (or cluster's) network summary, its cluster results beside it, its most central actors, and
    the EU contribution of its actors by country and role.

    Before 'network compute' the summary and the central actors are empty (``computed`` False); a group no
    actor belongs to is an error.
    """
    name = resolve_network(con, network)
    summary = _dicts(con, "SELECT * EXCLUDE (network) FROM network_summaries WHERE network = ? AND grp = ?",
                     [name, group])
    money = contributions(con, name, group)
    if not summary and not money:
        raise InputError(_("no network figures for '{group}' in network '{name}'").format(group=group, name=name),
                         hint=_("run 'clusteratlas network compute'; groups are region, country or cluster codes"))
    level = summary[0]["level"] if summary else "region"
    column = "cluster" if level == "cluster" else "region"
    actors = _dicts(con, f"""
        SELECT a.actor, a.name, a.kind, a.region, m.degree, m.in_degree, m.out_degree, m.strength,
               round(m.betweenness, 1) AS betweenness,
               round(m.eigenvector, 4) AS eigenvector, round(m.constraint_burt, 3) AS constraint_burt, m.community
        FROM actors a JOIN network_metrics m USING (network, actor)
        WHERE a.network = ? AND (a.{column} = ? OR a.country = ?)
        ORDER BY m.betweenness DESC NULLS LAST LIMIT ?""", [name, group, group, top])
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    clusters: list[dict] = []
    if "results_clusters" in tables:
        clusters = _dicts(con, f"""SELECT region, cluster, employment, round(lq, 2) AS lq, stars, strong
            FROM results_clusters WHERE {column} = ? AND subcluster IS NULL
              AND year = (SELECT max(year) FROM results_clusters) ORDER BY strong DESC, lq DESC LIMIT 10""",
                          [group])
    return {"network": name, "summary": summary, "clusters": clusters, "actors": actors, "contributions": money,
            "computed": bool(summary)}


def spinoff_tree(con: duckdb.DuckDBPyConnection, network: str | None, root: str) -> dict:
    """The spin-off tree as nested dicts (for the API and pages)."""
    from clusteratlas.networks.spinoffs import genealogy

    return genealogy(con, network, root)
