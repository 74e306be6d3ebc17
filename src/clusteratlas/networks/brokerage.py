"""Coordinators: the actors that connect groups that are otherwise unconnected, and what the network loses without them.

Ranked by between-group brokerage (Gould–Fernandez gatekeeper +
representative + itinerant + liaison, with region or kind as the group) and
betweenness; for each: the groups its partners belong to, and the components
and reachable pairs of the network with and without it.
"""

from __future__ import annotations

import duckdb
import igraph as ig
import numpy as np
import polars as pl

from clusteratlas.errors import InputError
from clusteratlas.i18n import _
from clusteratlas.networks.analysis import Network, load_network


def reachable_pairs(graph: ig.Graph) -> tuple[int, int, int]:
    """(components, unordered pairs of actors joined by a path, size of the largest component)."""
    sizes = np.asarray(graph.components().sizes(), dtype=np.int64)
    if not sizes.size:
        return 0, 0, 0
    return int(sizes.size), int((sizes * (sizes - 1) // 2).sum()), int(sizes.max())


def removal_effect(graph: ig.Graph, vertex: int) -> dict:
    """Components and reachability before and after removing one actor (the actor's own pairs excluded after)."""
    comps, pairs, largest = reachable_pairs(graph)
    trimmed = graph.copy()
    trimmed.delete_vertices([vertex])
    comps2, pairs2, largest2 = reachable_pairs(trimmed)
    own = graph.subcomponent(vertex)
    lost = pairs - (len(own) - 1) - pairs2  # pairs that only this actor joined
    return {"components_before": comps, "components_after": comps2 - 0, "largest_before": largest,
            "largest_after": largest2, "pairs_lost": int(lost),
            "reachability_lost": lost / pairs if pairs else float("nan")}


def coordinators(con: duckdb.DuckDBPyConnection, network: str | None = None, *, top: int = 10,
                 region: str | None = None) -> pl.DataFrame:
    """The top actors by between-group brokerage then betweenness, with the groups they join and the removal effect.

    Needs the figures of ``clusteratlas network compute``.
    """
    net: Network = load_network(con, network)
    metrics = con.sql("SELECT * FROM network_metrics WHERE network = ?", params=[net.name]).pl()
    if not metrics.height:
        raise InputError(_("no network figures for '{name}'").format(name=net.name),
                         hint=_("run 'clusteratlas network compute' first"))
    group = metrics["brokerage_group"][0]
    frame = net.actors.select("actor", "name", "kind", "region", "country").with_row_index("i").join(
        metrics, on="actor")
    if region:
        frame = frame.filter((pl.col("region") == region) | (pl.col("country") == region))
        if not frame.height:
            raise InputError(_("no actor in region '{region}' in network '{name}'").format(region=region,
                                                                                           name=net.name))
    between = (pl.col("gatekeeper") + pl.col("representative") + pl.col("itinerant") + pl.col("liaison"))
    ranked = frame.with_columns(between.alias("between_groups")).sort(
        ["between_groups", "betweenness"], descending=True, nulls_last=True).head(top)
    labels = net.actors[group].fill_null("(none)").to_numpy() if group in net.actors.columns else None
    rows = []
    for row in ranked.iter_rows(named=True):
        nbrs = net.graph.neighbors(row["i"])
        joined = ""
        if labels is not None and nbrs:
            values, counts = np.unique(labels[nbrs], return_counts=True)
            order = np.argsort(-counts)[:6]
            joined = ", ".join(f"{values[j]} ({counts[j]})" for j in order) + (
                f" … {values.size} {group}s in all" if values.size > 6 else "")
        rows.append({"actor": row["actor"], "name": row["name"], "kind": row["kind"], "region": row["region"],
                     "degree": row["degree"], "betweenness": row["betweenness"],
                     "between_groups": row["between_groups"], "liaison": row["liaison"],
                     "connects": joined, **removal_effect(net.graph, row["i"])})
    return pl.DataFrame(rows)
