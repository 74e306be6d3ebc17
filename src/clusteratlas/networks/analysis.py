"""Network figures of actors: centralities, brokerage, structural holes, communities, core–periphery, summaries.

Ties are undirected except spin-offs and investments (:data:`~clusteratlas.networks.model.DIRECTED_TIES`),
which keep their direction: each actor's in- and out-degree counts them, and shortest paths
(betweenness) and two-paths (brokerage) follow them one way only, an undirected tie both ways.
Figures with no directed form here (eigenvector, constraint, communities, k-core, effective size)
read every tie as undirected, and say so.

igraph (C) is used for everything a library has: degree, strength,
betweenness (exact, or Brandes–Pich estimate from sampled pivots above
``max_exact`` actors), eigenvector centrality, Burt's constraint, Leiden
communities (seeded), k-core. Gould–Fernandez brokerage and Burt's
effective size, which igraph lacks, are computed here from the sparse
adjacency matrix and checked in the tests against brute-force enumeration
and NetworkX.
"""

from __future__ import annotations

import json
import random
import time
import warnings
from dataclasses import dataclass

import duckdb
import igraph as ig
import numpy as np
import polars as pl
import scipy.sparse as sp

from clusteratlas._sql import scalar
from clusteratlas.errors import InputError
from clusteratlas.i18n import _
from clusteratlas.networks.model import DIRECTED_TIES, sector
from clusteratlas.store.networks import ensure_network_schema

ROLE_NAMES = ("coordinator", "gatekeeper", "representative", "itinerant", "liaison")


@dataclass
class Network:
    """A network loaded from the atlas: the igraph graph (vertex i = row i of ``actors``) and its actors.

    ``graph`` reads every tie as undirected (parallel ties summed). ``arcs`` is the directed view: an
    undirected tie is two arcs, a directed tie (spin-off, investment) one, source → target; None when the
    network has no directed tie (then it equals ``graph``). ``directed_only`` holds the directed ties alone.
    """

    name: str
    graph: ig.Graph
    actors: pl.DataFrame
    arcs: ig.Graph | None = None
    directed_only: ig.Graph | None = None

    def index(self, actor: str) -> int:
        hits = np.flatnonzero(self.actors["actor"].to_numpy() == actor)
        if not hits.size:
            raise InputError(_("no actor '{actor}' in network '{name}'").format(actor=actor, name=self.name),
                             hint=_("list actors with 'clusteratlas show network'"))
        return int(hits[0])


def networks_in(con: duckdb.DuckDBPyConnection) -> list[str]:
    ensure_network_schema(con)
    return [r[0] for r in con.execute("SELECT DISTINCT network FROM actors ORDER BY 1").fetchall()]


def resolve_network(con: duckdb.DuckDBPyConnection, network: str | None) -> str:
    """The network asked for, or the only one in the atlas."""
    names = networks_in(con)
    if network is None:
        if len(names) == 1:
            return names[0]
        raise InputError("say which network (--network)" if names else "no network in this atlas",
                         expected=", ".join(names) or None,
                         hint=None if names else "import one with 'clusteratlas network import participations'")
    if network not in names:
        raise InputError(_("no network '{network}' in this atlas").format(network=network),
                         expected=", ".join(names) or "none")
    return network


def load_network(con: duckdb.DuckDBPyConnection, network: str | None = None, *,
                 tie_kinds: tuple[str, ...] | None = None) -> Network:
    """The network's actors and its ties: the undirected weighted graph (parallel ties summed) and, when
    some ties are directed (spin-off, investment), the directed view (see :class:`Network`)."""
    name = resolve_network(con, network)
    actors = con.sql("SELECT * FROM actors WHERE network = ? ORDER BY actor", params=[name]).pl()
    where = "" if tie_kinds is None else " AND kind IN (" + ", ".join("?" * len(tie_kinds)) + ")"
    ties = con.sql(f"SELECT source, target, weight, kind FROM actor_ties WHERE network = ?{where}",
                   params=[name, *(tie_kinds or ())]).pl()
    index = pl.DataFrame({"actor": actors["actor"], "i": np.arange(actors.height, dtype=np.int64)})
    ends = (ties.join(index.rename({"actor": "source", "i": "s"}), on="source")
            .join(index.rename({"actor": "target", "i": "t"}), on="target"))
    s, t = ends["s"].to_numpy(), ends["t"].to_numpy()
    weight = ends["weight"].fill_null(1.0).to_numpy()
    graph = _graph(actors.height, s, t, weight, directed=False)
    one_way = ends["kind"].is_in(list(DIRECTED_TIES)).to_numpy()
    if not one_way.any():
        return Network(name, graph, actors)
    both = ~one_way  # an undirected tie is an arc each way; a directed tie one arc, source → target
    arcs = _graph(actors.height, np.concatenate([s, t[both]]), np.concatenate([t, s[both]]),
                  np.concatenate([weight, weight[both]]), directed=True)
    directed_only = _graph(actors.height, s[one_way], t[one_way], weight[one_way], directed=True)
    return Network(name, graph, actors, arcs, directed_only)


def _graph(n: int, s: np.ndarray, t: np.ndarray, weight: np.ndarray, *, directed: bool) -> ig.Graph:
    """An igraph graph of n vertices from edge ends and weights, parallel edges summed and loops dropped."""
    graph = ig.Graph(n=n, edges=np.column_stack([s, t]).tolist(), directed=directed,
                     edge_attrs={"weight": weight.tolist()})
    graph.simplify(multiple=True, loops=True, combine_edges="sum")
    return graph


def adjacency(graph: ig.Graph) -> sp.csr_matrix:
    """The binary adjacency matrix (CSR, sorted indices): symmetric for an undirected graph, row a column c
    for an arc a → c of a directed one."""
    edges = np.asarray(graph.get_edgelist(), dtype=np.int64).reshape(-1, 2)
    n = graph.vcount()
    if graph.is_directed():
        rows, cols = edges[:, 0], edges[:, 1]
    else:
        rows = np.concatenate([edges[:, 0], edges[:, 1]])
        cols = np.concatenate([edges[:, 1], edges[:, 0]])
    matrix = sp.csr_matrix((np.ones(rows.size, dtype=np.int64), (rows, cols)), shape=(n, n))
    matrix.data[:] = 1
    matrix.sort_indices()
    return matrix


def brokerage(adj: sp.csr_matrix, groups: np.ndarray, nodes: np.ndarray | None = None) -> np.ndarray:
    """Gould–Fernandez brokerage roles of each node: counts of open two-paths a → b → c (a, c not tied).

    ``adj`` is read as directed (row a, column c means a → c); an undirected
    network is its symmetric matrix, so each unordered pair {a, c} counts
    once in each direction and gatekeeper = representative, as in statnet's
    ``brokerage()`` on a symmetric graph. Returns an array (len(nodes), 5) in
    :data:`ROLE_NAMES` order: coordinator (a, b, c in one group),
    gatekeeper (a outside, c in b's group), representative (a in b's group,
    c outside), itinerant (a, c in one group, b outside), liaison (all three
    groups differ). Gould & Fernandez (1989), Sociological Methodology 19.
    """
    codes, groups = np.unique(np.asarray(groups), return_inverse=True)
    k = codes.size
    adj = sp.csr_matrix(adj, dtype=np.int64)
    adj.data[:] = 1
    adj.setdiag(0)
    adj.eliminate_zeros()
    adj_t = adj.T.tocsr()
    nodes = np.arange(adj.shape[0]) if nodes is None else np.asarray(nodes)
    out = np.zeros((nodes.size, 5), dtype=np.int64)
    for row, b in enumerate(nodes):
        ins = adj_t.indices[adj_t.indptr[b]:adj_t.indptr[b + 1]]
        outs = adj.indices[adj.indptr[b]:adj.indptr[b + 1]]
        if not ins.size or not outs.size:
            continue
        gi, go = groups[ins], groups[outs]
        pairs = np.outer(np.bincount(gi, minlength=k), np.bincount(go, minlength=k))
        both = np.intersect1d(ins, outs, assume_unique=True)  # a == c is no two-path
        np.add.at(pairs, (groups[both], groups[both]), -1)
        sub = adj[ins][:, outs].tocoo()  # a → c ties close the path
        np.add.at(pairs, (gi[sub.row], go[sub.col]), -1)
        g = groups[b]
        diag = np.diag(pairs)
        out[row, 0] = pairs[g, g]
        out[row, 1] = pairs[:, g].sum() - pairs[g, g]
        out[row, 2] = pairs[g, :].sum() - pairs[g, g]
        out[row, 3] = diag.sum() - diag[g]
        out[row, 4] = pairs.sum() - out[row, :4].sum()
    return out


def effective_size(graph: ig.Graph) -> np.ndarray:
    """Burt's effective size, unweighted (Borgatti 1997): n − 2t/n, t = ties among the n neighbours; NaN if n = 0."""
    degree = np.asarray(graph.degree(), dtype=float)
    local = np.nan_to_num(np.asarray(graph.transitivity_local_undirected(mode="zero"), dtype=float))
    with np.errstate(invalid="ignore", divide="ignore"):
        result = degree - local * (degree - 1)
    return np.where(degree > 0, result, np.nan)


def betweenness(graph: ig.Graph, *, max_exact: int = 10_000, pivots: int = 500, seed: int = 0,
                ) -> tuple[np.ndarray, str]:
    """Betweenness (unweighted shortest paths, not normalised): exact up to ``max_exact`` actors, else estimated.

    On a directed graph (a network with spin-off or investment ties, :attr:`Network.arcs`) paths follow arcs
    and pairs are ordered (a → c and c → a count apart), as NetworkX's directed betweenness.

    The estimate (Brandes & Pich 2007) sums the dependencies of ``pivots``
    random sources and scales by n / pivots; it is unbiased. 500 pivots
    (6 CPU s on Horizon 2020, 200 took 2.5 s): on a 5,000-actor snowball of
    that network the median relative error of the 50 most central actors
    is 8 % (200: 12 %) and the Spearman rank correlation of the top 500 is
    0.95 (200: 0.91) — benchmarks/bench_network.py. The method is
    returned so every output can state it.
    """
    n = graph.vcount()
    directed = graph.is_directed()
    how = "; directed (spin-off and investment ties one way), ordered pairs" if directed else ""
    if n <= max_exact or pivots >= n:
        return np.asarray(graph.betweenness(directed=directed), dtype=float), "exact" + how
    rng = np.random.default_rng(seed)
    sources = rng.choice(n, size=pivots, replace=False).tolist()
    values = np.asarray(graph.betweenness(directed=directed, sources=sources, targets=None), dtype=float)
    return values * n / pivots, f"sampled pivots k={pivots} of n={n} (Brandes–Pich), seed {seed}{how}"


def communities(graph: ig.Graph, seed: int = 0) -> np.ndarray:
    """Leiden communities maximising weighted modularity, reproducible for a seed."""
    state = random.getstate()
    random.seed(seed)
    ig.set_random_number_generator(random)
    try:
        part = graph.community_leiden(objective_function="modularity", weights="weight", n_iterations=-1)
    finally:
        random.setstate(state)
    return np.asarray(part.membership, dtype=np.int64)


def brokerage_nodes(n: int, ranking: np.ndarray, *, top: int | None) -> tuple[np.ndarray, str]:
    """Which actors get brokerage counts: all (``top`` None, the default: 8 CPU s on the 35,871 actors and
    797,000 ties of Horizon 2020), else the ``top`` of ``ranking`` (stated in the output)."""
    if top is None or top >= n:
        return np.arange(n), "all actors"
    order = np.argsort(-ranking, kind="stable")
    return np.sort(order[:top]), f"the {top:,} actors of highest betweenness (the rest: NULL)"


def actor_metrics(net: Network, *, group: str = "region", seed: int = 0, max_exact: int = 10_000,
                  pivots: int = 500, brokerage_top: int | None = None) -> tuple[pl.DataFrame, dict]:
    """Every per-actor figure, and a dict saying how each was computed."""
    g = net.graph
    paths = net.arcs if net.arcs is not None else g  # directed ties followed one way
    info: dict[str, object] = {}
    strength = np.asarray(g.strength(weights="weight"), dtype=float)
    btw, info["betweenness"] = betweenness(paths, max_exact=max_exact, pivots=pivots, seed=seed)
    with warnings.catch_warnings():  # igraph warns on disconnected graphs; each component is scaled as a whole
        warnings.simplefilter("ignore", RuntimeWarning)
        eig = np.asarray(g.eigenvector_centrality(weights="weight", scale=True), dtype=float) if g.ecount() \
            else np.full(g.vcount(), np.nan)
    constraint = np.asarray(g.constraint(weights="weight"), dtype=float)
    constraint[np.asarray(g.degree()) == 0] = np.nan
    core = np.asarray(g.coreness(), dtype=np.int64)
    adj = adjacency(paths)
    groups = net.actors[group].fill_null("(none)").to_numpy() if group in net.actors.columns else \
        np.zeros(g.vcount())
    nodes, info["brokerage"] = brokerage_nodes(g.vcount(), btw, top=brokerage_top)
    roles = np.full((g.vcount(), 5), -1, dtype=np.int64)
    roles[nodes] = brokerage(adj, groups, nodes)
    one_way = net.directed_only
    no_arcs = np.zeros(g.vcount(), dtype=np.int64)
    frame = pl.DataFrame({
        "actor": net.actors["actor"], "degree": np.asarray(g.degree(), dtype=np.int64), "strength": strength,
        "in_degree": np.asarray(one_way.indegree(), dtype=np.int64) if one_way is not None else no_arcs,
        "out_degree": np.asarray(one_way.outdegree(), dtype=np.int64) if one_way is not None else no_arcs,
        "betweenness": btw, "eigenvector": eig, "constraint_burt": constraint,
        "effective_size": effective_size(g), "community": communities(g, seed), "coreness": core,
        "core": core == core.max() if core.size else core.astype(bool),
        **{name: roles[:, i] for i, name in enumerate(ROLE_NAMES)},
        "brokerage_group": [group] * g.vcount(),
    }).with_columns([pl.when(pl.col(r) < 0).then(None).otherwise(pl.col(r)).alias(r) for r in ROLE_NAMES])
    info.update(group=group, seed=seed, communities="Leiden, modularity, weighted",
                core="innermost k-core (k = max coreness)", effective_size="unweighted (Borgatti 1997)",
                constraint="Burt (1992), weighted by shared projects",
                directed_ties=(f"{one_way.ecount():,} spin-off/investment ties kept one way: in/out-degree, "
                               "betweenness and brokerage follow them; degree, eigenvector, constraint, "
                               "communities and k-core read every tie as undirected")
                if one_way is not None else "none")
    return frame, info


def tie_table(con: duckdb.DuckDBPyConnection, network: str) -> pl.DataFrame:
    """Each tie with the region, country, cluster and 産学官 sector of both ends."""
    return con.sql("""
        SELECT t.source, t.target, t.weight, a.region AS r1, b.region AS r2, a.country AS c1, b.country AS c2,
               a.cluster AS k1, b.cluster AS k2, a.kind AS kind1, b.kind AS kind2
        FROM actor_ties t JOIN actors a ON a.network = t.network AND a.actor = t.source
                          JOIN actors b ON b.network = t.network AND b.actor = t.target
        WHERE t.network = ? AND t.source <> t.target""", params=[network]).pl()


def summaries(actors: pl.DataFrame, ties: pl.DataFrame, metrics: pl.DataFrame) -> pl.DataFrame:
    """Per region and per cluster: actors, ties, density inside, shares of ties inside / other region / abroad /
    unknown location (adding up to 1), and the 産学官 mix of the ties that touch the group. Groups of one actor
    get NaN density with a note."""
    sec = {k: sector(k) for k in set(ties["kind1"].to_list()) | set(ties["kind2"].to_list())}
    ties = ties.with_columns(pl.col("kind1").replace_strict(sec, default="other").alias("s1"),
                             pl.col("kind2").replace_strict(sec, default="other").alias("s2"))
    pair = pl.concat_list(pl.col("s1"), pl.col("s2")).list.sort()
    ties = ties.with_columns(pair.list.join("-").alias("sectors"))
    deg = actors.select("actor", "region", "cluster").join(metrics.select("actor", "degree"), on="actor", how="left")
    rows = []
    for level, (a_col, t1, t2) in {"region": ("region", "r1", "r2"), "cluster": ("cluster", "k1", "k2")}.items():
        counts = deg.filter(pl.col(a_col).is_not_null()).group_by(a_col).agg(
            pl.len().alias("actors"), pl.col("degree").mean().alias("mean_degree"))
        both = pl.concat([ties.select(pl.col(t1).alias("grp"), pl.col(t2).alias("other"), "c1", "c2", "sectors"),
                          ties.filter(pl.col(t1).ne_missing(pl.col(t2)))
                          .select(pl.col(t2).alias("grp"), pl.col(t1).alias("other"), pl.col("c2").alias("c1"),
                                  pl.col("c1").alias("c2"), "sectors")]).filter(pl.col("grp").is_not_null())
        # every tie counts in exactly one of: inside, other region of the same country, abroad, unknown
        # location (an end without a country, outside the group); the four shares add up to 1
        inside = pl.col("grp").eq_missing(pl.col("other"))
        located = pl.col("c1").is_not_null() & pl.col("c2").is_not_null()
        agg = both.group_by("grp").agg(
            pl.len().alias("ties"), inside.sum().alias("internal_ties"),
            (~inside & located & (pl.col("c1") == pl.col("c2"))).sum().alias("__other_region"),
            (~inside & located & (pl.col("c1") != pl.col("c2"))).sum().alias("__abroad"),
            (~inside & ~located).sum().alias("__unknown"),
            (pl.col("sectors") == "academia-industry").sum().alias("__ia"),
            (pl.col("sectors") == "government-industry").sum().alias("__ig"),
            (pl.col("sectors") == "academia-government").sum().alias("__ag"),
            pl.col("sectors").is_in(["industry-industry", "academia-academia", "government-government"]).sum()
            .alias("__within"))
        frame = counts.rename({a_col: "grp"}).join(agg, on="grp", how="left").with_columns(
            pl.col("ties").fill_null(0), pl.col("internal_ties").fill_null(0))
        n = pl.col("actors").cast(pl.Float64)
        share = {name: pl.when(pl.col("ties") > 0).then(pl.col(src) / pl.col("ties")).otherwise(None)
                 for name, src in (("share_internal", "internal_ties"), ("share_other_region", "__other_region"),
                                   ("share_abroad", "__abroad"), ("share_unknown_location", "__unknown"),
                                   ("share_industry_academia", "__ia"),
                                   ("share_industry_government", "__ig"), ("share_academia_government", "__ag"),
                                   ("share_within_sector", "__within"))}
        frame = frame.with_columns(
            pl.lit(level).alias("level"),
            pl.when(n > 1).then(pl.col("internal_ties") / (n * (n - 1) / 2)).otherwise(float("nan")).alias("density"),
            **share,
        ).with_columns((1 - pl.col("share_industry_academia") - pl.col("share_industry_government")
                        - pl.col("share_academia_government") - pl.col("share_within_sector"))
                       .alias("share_other_sector"),
                       pl.when(n <= 1).then(pl.lit("one actor: density undefined"))
                       .when(pl.col("ties") == 0).then(pl.lit("no ties: shares undefined"))
                       .otherwise(None).alias("note"))
        rows.append(frame.select("level", "grp", "actors", "ties", "internal_ties", "density", "share_internal",
                                 "share_other_region", "share_abroad", "share_unknown_location",
                                 "share_industry_academia",
                                 "share_industry_government", "share_academia_government", "share_within_sector",
                                 "share_other_sector", "mean_degree", "note"))
    return pl.concat(rows)


def run_network(con: duckdb.DuckDBPyConnection, network: str | None = None, *, group: str = "region",
                seed: int = 0, max_exact: int = 10_000, pivots: int = 500) -> dict:
    """Compute every figure of a network and store it (replacing the network's previous figures)."""
    start = time.perf_counter()
    net = load_network(con, network)
    metrics, info = actor_metrics(net, group=group, seed=seed, max_exact=max_exact, pivots=pivots)
    summ = summaries(net.actors, tie_table(con, net.name), metrics)
    seconds = time.perf_counter() - start
    con.execute("BEGIN TRANSACTION")
    try:
        for table, frame in (("network_metrics", metrics), ("network_summaries", summ)):
            con.execute(f"DELETE FROM {table} WHERE network = ?", [net.name])
            con.register("__frame", frame.with_columns(pl.lit(net.name).alias("network")).to_arrow())
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM __frame")
            con.unregister("__frame")
        from clusteratlas.networks.matching import store_index

        info["text_index_seconds"] = round(store_index(con, net.name)[1], 2)  # matching reads it, not rebuilds it
        con.execute("INSERT INTO network_runs VALUES (now(), ?, ?, ?, ?, ?, ?, ?)",
                    [net.name, net.graph.vcount(), net.graph.ecount(), info["betweenness"], seed, seconds,
                     json.dumps(info, ensure_ascii=False)])
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    info.update(network=net.name, actors=net.graph.vcount(), ties=net.graph.ecount(), seconds=round(seconds, 2),
                communities_found=int(metrics["community"].n_unique()))
    return info


def stored_ties(con: duckdb.DuckDBPyConnection, network: str) -> int:
    return int(scalar(con, "SELECT count(*) FROM actor_ties WHERE network = ?", [network]))
