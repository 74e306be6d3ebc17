"""Matching, explained: partners for a need or an actor; partner clusters across regions (synergistic/complementary).

Actors: a score that adds text similarity of capabilities (TF-IDF on words
and on character 2–4-grams, so Japanese needs no tokenizer), network
proximity (friends of friends: shared partners, normalised) and the
relatedness of the two actors' clusters (from ``relate_pairs``), each part
reported with its reason. Clusters: for a region's cluster, other regions
where the same cluster is specialised with a similar composition
(synergistic, cosine of location-quotient profiles), or where clusters
related to it are specialised but it is not (complementary, by co-location
relatedness).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion
from sklearn.preprocessing import normalize

from clusteratlas.errors import InputError
from clusteratlas.networks.analysis import Network, adjacency, load_network
from clusteratlas.networks.model import sector

WEIGHTS = {"text": 0.5, "network": 0.35, "cluster": 0.15}


@dataclass
class TextIndex:
    """TF-IDF vectors of the actors' texts (rows L2-normalised) and the fitted vectoriser."""

    vectorizer: FeatureUnion
    matrix: sp.csr_matrix
    words: np.ndarray


def actor_texts(actors: pl.DataFrame) -> list[str]:
    cols = [c for c in ("name", "name_ja", "seeds", "needs", "industry") if c in actors.columns]
    return actors.select(pl.concat_str([pl.col(c).fill_null("") for c in cols], separator=" ")).to_series().to_list()


def build_index(texts: list[str]) -> TextIndex:
    """Fit word (1–2-gram) and character (2–4-gram, within words) TF-IDF on the texts."""
    word = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), min_df=1, max_df=0.3, sublinear_tf=True,
                           max_features=200_000,
                           token_pattern=r"(?u)\b\w\w+\b")
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=2, sublinear_tf=True, max_features=300_000)
    union = FeatureUnion([("word", word), ("char", char)])
    matrix = normalize(union.fit_transform(texts).tocsr())
    return TextIndex(union, matrix, np.asarray(word.get_feature_names_out()))


@functools.lru_cache(maxsize=4)
def _cached(con_id: int, network: str, count: int, con: duckdb.DuckDBPyConnection) -> tuple[Network, TextIndex]:
    net = load_network(con, network)
    return net, build_index(actor_texts(net.actors))


def shared_terms(index: TextIndex, query_vec: sp.csr_matrix, row: int, n: int = 5) -> list[str]:
    """The word terms that contribute most to the similarity of the query and an actor."""
    word = index.vectorizer.transformer_list[0][1]
    width = len(word.vocabulary_)
    q = query_vec[:, :width].toarray().ravel()
    a = index.matrix[row, :width].toarray().ravel()
    contrib = q * a
    top = np.argsort(-contrib)[:n]
    return [str(index.words[j]) for j in top if contrib[j] > 0]


def _cluster_relatedness(con: duckdb.DuckDBPyConnection, cluster: str | None) -> dict[str, float]:
    if not cluster:
        return {}
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if "relate_pairs" not in tables:
        return {}
    # relatedness as 1 / rank among the cluster's related clusters (ranks by co-location, see 'relate')
    rows = con.execute("SELECT related, min(rank) FROM relate_pairs WHERE item = ? GROUP BY 1", [cluster]).fetchall()
    return {r[0]: 1.0 / float(r[1]) for r in rows if r[1]}


def match_actors(con: duckdb.DuckDBPyConnection, network: str | None = None, *, need: str | None = None,
                 actor: str | None = None, kind: str | None = None, top: int = 10,
                 index: tuple[Network, TextIndex] | None = None) -> pl.DataFrame:
    """Rank partners for a need (free text, any language) or an actor, with the reason of each part of the score.

    ``kind`` 'complementary' keeps partners of another 産学官 sector than
    the actor (or all for a need), 'synergistic' the same sector.
    """
    if (need is None) == (actor is None):
        raise InputError("give either a need (text) or an actor id")
    if kind not in (None, "complementary", "synergistic"):
        raise InputError("unknown match kind", value=kind, expected="complementary or synergistic")
    net, idx = index or _cached(id(con), *_key(con, network), con)
    n = net.graph.vcount()
    if need is not None:
        query = normalize(idx.vectorizer.transform([need]).tocsr())
        me = None
    else:
        me = net.index(actor)
        query = idx.matrix[me]
    text = np.asarray((idx.matrix @ query.T).todense()).ravel()
    network_score = np.zeros(n)
    via = np.full(n, -1)
    cluster_score = np.zeros(n)
    exclude = np.zeros(n, dtype=bool)
    if me is not None:
        adj = adjacency(net.graph)
        first = adj[me].indices
        common = np.asarray(adj[first].sum(axis=0)).ravel()
        if common.max() > 0:
            network_score = common / common.max()
        # the shared partner with most ties to each candidate, to explain the path
        exclude[first] = True
        exclude[me] = True
        if first.size:
            sub = adj[first].tocsc()
            best = np.asarray(sub.argmax(axis=0)).ravel()
            via = np.where(common > 0, first[best], -1)
        my_cluster = net.actors["cluster"][me] if "cluster" in net.actors.columns else None
        related = _cluster_relatedness(con, my_cluster)
        clusters = net.actors["cluster"].to_list()
        cluster_score = np.array([1.0 if c == my_cluster and c else max(0.0, related.get(c, 0.0)) if c else 0.0
                                  for c in clusters])
        my_sector = sector(net.actors["kind"][me])
        sectors = np.array([sector(k) for k in net.actors["kind"].to_list()])
        if kind == "complementary":
            exclude |= sectors == my_sector
        elif kind == "synergistic":
            exclude |= sectors != my_sector
    score = WEIGHTS["text"] * text + WEIGHTS["network"] * network_score + WEIGHTS["cluster"] * cluster_score
    score[exclude] = -np.inf
    order = np.argsort(-score, kind="stable")[:top]
    ids, names = net.actors["actor"].to_list(), net.actors["name"].to_list()
    rows = []
    for j in order:
        if not np.isfinite(score[j]) or score[j] <= 0:
            break
        reasons = []
        if text[j] > 0:
            terms = shared_terms(idx, query, int(j))
            reasons.append(f"text {text[j]:.2f}" + (f" (shared: {', '.join(terms)})" if terms else ""))
        if network_score[j] > 0:
            reasons.append(f"friend of a friend via {names[via[j]] or ids[via[j]]}")
        if cluster_score[j] > 0:
            reasons.append(f"cluster relatedness {cluster_score[j]:.2f}")
        rows.append({"actor": ids[j], "name": names[j], "kind": net.actors["kind"][int(j)],
                     "region": net.actors["region"][int(j)], "score": float(score[j]), "text": float(text[j]),
                     "network": float(network_score[j]), "cluster": float(cluster_score[j]),
                     "why": "; ".join(reasons)})
    return pl.DataFrame(rows, schema={"actor": pl.String, "name": pl.String, "kind": pl.String, "region": pl.String,
                                      "score": pl.Float64, "text": pl.Float64, "network": pl.Float64,
                                      "cluster": pl.Float64, "why": pl.String})


def _key(con: duckdb.DuckDBPyConnection, network: str | None) -> tuple[str, int]:
    from clusteratlas.networks.analysis import resolve_network

    name = resolve_network(con, network)
    count = con.execute("SELECT count(*) FROM actors WHERE network = ?", [name]).fetchall()[0][0]
    return name, int(count)


# ------------------------------------------------------------------ held-out evaluation
def holdout_evaluation(edges: np.ndarray, n: int, *, texts: list[str] | None = None, fraction: float = 0.2,
                       seed: int = 0, k: int = 10, sample: int = 1000) -> pl.DataFrame:
    """Hide ``fraction`` of the ties (seeded), rank candidates from the rest, report precision@k and recall@k.

    Methods: 'friends of friends' (shared partners in the training ties),
    'text + network' (the matching score without clusters, when ``texts``),
    'most connected' (training degree) and 'random'. Evaluated over up to
    ``sample`` actors that keep a training tie and lost at least one.
    """
    rng = np.random.default_rng(seed)
    hidden = rng.random(len(edges)) < fraction
    train, test = edges[~hidden], edges[hidden]

    def sym(e: np.ndarray) -> sp.csr_matrix:
        m = sp.csr_matrix((np.ones(2 * len(e)), (np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]])), shape=(n, n))
        m.data[:] = 1
        return m

    a_train, a_test = sym(train), sym(test)
    degree = np.diff(a_train.indptr)
    eligible = np.flatnonzero((degree > 0) & (np.diff(a_test.indptr) > 0))
    chosen = rng.choice(eligible, size=min(sample, eligible.size), replace=False)
    text_matrix = normalize(build_index(texts).matrix) if texts is not None else None
    methods = ["friends of friends", "most connected", "random"] + (["text + network"] if texts else [])
    hits = {m: [] for m in methods}
    recalls = {m: [] for m in methods}
    for i in chosen:
        known = a_train[i].indices
        truth = set(a_test[i].indices.tolist())
        common = np.asarray(a_train[known].sum(axis=0)).ravel()
        fof = common / common.max() if common.max() > 0 else common
        scores = {"friends of friends": fof, "most connected": degree.astype(float),
                  "random": rng.random(n)}
        if text_matrix is not None:
            text = np.asarray((text_matrix @ text_matrix[i].T).todense()).ravel()
            scores["text + network"] = WEIGHTS["text"] * text + WEIGHTS["network"] * fof
        for m in methods:
            s = scores[m].astype(float).copy()
            s[known] = -np.inf
            s[i] = -np.inf
            top = np.argpartition(-s, k)[:k]
            got = len(truth.intersection(top.tolist()))
            hits[m].append(got / k)
            recalls[m].append(got / len(truth))
    return pl.DataFrame({"method": methods, "precision_at_k": [float(np.mean(hits[m])) for m in methods],
                         "recall_at_k": [float(np.mean(recalls[m])) for m in methods],
                         "actors": [len(chosen)] * len(methods), "k": [k] * len(methods),
                         "hidden_ties": [int(hidden.sum())] * len(methods), "seed": [seed] * len(methods)})


def network_edges(net: Network) -> np.ndarray:
    return np.asarray(net.graph.get_edgelist(), dtype=np.int64).reshape(-1, 2)


# ------------------------------------------------------------------ clusters across regions
def match_clusters(con: duckdb.DuckDBPyConnection, region: str, cluster: str, *, kind: str | None = None,
                   top: int = 10, year: int | None = None) -> pl.DataFrame:
    """Partner clusters elsewhere for ``cluster`` in ``region``, each with the figures behind it.

    synergistic: regions where the same cluster is specialised (LQ > 1),
    ranked by the cosine similarity of the two regions' LQ profiles over all
    clusters (similar composition). complementary: regions where the cluster
    is not specialised but clusters related to it (co-location relatedness
    from ``relate``) are, ranked by the sum of relatedness × LQ of those.
    """
    if kind not in (None, "complementary", "synergistic"):
        raise InputError("unknown match kind", value=kind, expected="complementary or synergistic")
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if "results_clusters" not in tables:
        raise InputError("no cluster results in this atlas", hint="run 'clusteratlas map' first")
    year_sql = "(SELECT max(year) FROM results_clusters)" if year is None else str(int(year))
    res = con.sql(f"SELECT level, region, cluster, lq, employment FROM results_clusters WHERE year = {year_sql} "
                  "AND subcluster IS NULL").pl()
    mine = res.filter((pl.col("region") == region) & (pl.col("cluster") == cluster))
    if not mine.height:
        raise InputError(f"no result for cluster '{cluster}' in region '{region}'",
                         hint="see 'clusteratlas show region'")
    level = mine["level"][0]
    res = res.filter(pl.col("level") == level)
    wide = res.pivot(on="cluster", index="region", values="lq").fill_null(0.0)
    clusters = [c for c in wide.columns if c != "region"]
    matrix = np.log1p(wide.select(clusters).to_numpy())
    regions = wide["region"].to_list()
    me = regions.index(region)
    norms = np.linalg.norm(matrix, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cosine = matrix @ matrix[me] / (norms * norms[me])
    lq = wide[cluster].to_numpy()
    related = _cluster_relatedness(con, cluster)
    rows = []
    for j, other in enumerate(regions):
        if other == region:
            continue
        if lq[j] > 1 and kind in (None, "synergistic"):
            shared = [c for c in clusters if wide[c][j] > 1 and wide[c][me] > 1 and c != cluster]
            rows.append({"region": other, "cluster": cluster, "kind": "synergistic", "score": float(cosine[j]),
                         "lq_there": float(lq[j]), "lq_here": float(lq[me]),
                         "why": f"same cluster specialised there (LQ {lq[j]:.2f}); profile cosine {cosine[j]:.2f}"
                                + (f"; both specialised in {', '.join(shared[:5])}" if shared else "")})
        if lq[j] <= 1 and kind in (None, "complementary") and related:
            parts = [(c, related[c], float(wide[c][j])) for c in related if c in clusters and wide[c][j] > 1]
            if parts:
                score = sum(max(r, 0.0) * np.log1p(q) for _, r, q in parts)
                best = sorted(parts, key=lambda p: -p[1])[:3]
                rows.append({"region": other, "cluster": best[0][0], "kind": "complementary", "score": float(score),
                             "lq_there": best[0][2], "lq_here": float(lq[me]),
                             "why": "related clusters specialised there: " + ", ".join(
                                 f"{c} (relatedness 1/rank {r:.2f}, LQ {q:.2f})" for c, r, q in best)})
    frame = pl.DataFrame(rows, schema={"region": pl.String, "cluster": pl.String, "kind": pl.String,
                                       "score": pl.Float64, "lq_there": pl.Float64, "lq_here": pl.Float64,
                                       "why": pl.String})
    return frame.sort(["kind", "score"], descending=[True, True]).group_by("kind", maintain_order=True).head(top)
