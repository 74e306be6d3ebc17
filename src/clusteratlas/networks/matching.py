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

import io
import itertools
import json
import re
import time
from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl
import scipy.sparse as sp

from clusteratlas._sql import first_row
from clusteratlas.errors import InputError
from clusteratlas.i18n import _
from clusteratlas.networks.analysis import Network
from clusteratlas.networks.model import sector

WEIGHTS = {"text": 0.5, "network": 0.35, "cluster": 0.15}

#: Runs of Japanese/Chinese characters: indexed as character bigrams (no tokenizer needed).
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]+")
_WORD = re.compile(r"(?u)\b\w\w+\b")
#: The columns of an actor that make its text, in this order (the index checksum covers them).
TEXT_COLUMNS = ("name", "name_ja", "seeds", "needs", "industry")


def analyze(text: str) -> list[str]:
    """Terms of a text: words and word bigrams of alphabetic scripts, character bigrams of CJK runs.

    The first pass used character 2–4-grams of every word as well, so that
    Japanese works without a tokenizer; over long abstracts (ANR) that made
    millions of features and took 11 s for 1,331 actors. Character n-grams
    are only needed where words are not separated, so they are made of the
    CJK runs alone.
    """
    text = text.lower()
    words = _WORD.findall(_CJK.sub(" ", text))
    terms = words + [f"{a} {b}" for a, b in itertools.pairwise(words)]
    for run in _CJK.findall(text):
        terms += [run[i:i + 2] for i in range(len(run) - 1)] if len(run) > 1 else [run]
    return terms


@dataclass
class TextIndex:
    """TF-IDF vectors of the actors' texts (rows L2-normalised, sublinear tf), the terms and their idf.

    Plain arrays so that it is stored in the atlas without pickling (see
    :func:`store_index`) and a query needs neither sklearn nor a refit.
    """

    terms: np.ndarray
    idf: np.ndarray
    matrix: sp.csr_matrix
    actors: list[str] | None = None
    _vocabulary: dict[str, int] | None = None

    @property
    def vocabulary(self) -> dict[str, int]:
        if self._vocabulary is None:
            self._vocabulary = {t: i for i, t in enumerate(self.terms.tolist())}
        return self._vocabulary

    def transform(self, text: str) -> sp.csr_matrix:
        """The L2-normalised TF-IDF row of a new text (equal to sklearn's ``transform``; tested)."""
        counts: dict[int, int] = {}
        vocab = self.vocabulary
        for term in analyze(text):
            j = vocab.get(term)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        cols = np.fromiter(counts, dtype=np.int64, count=len(counts))
        vals = (1 + np.log(np.fromiter(counts.values(), dtype=float, count=len(counts)))) * self.idf[cols]
        norm = np.linalg.norm(vals)
        row = sp.csr_matrix((vals / norm if norm else vals, (np.zeros(cols.size, dtype=np.int64), cols)),
                            shape=(1, self.terms.size))
        row.sort_indices()
        return row


def actor_texts(actors: pl.DataFrame) -> list[str]:
    cols = [c for c in TEXT_COLUMNS if c in actors.columns]
    return actors.select(pl.concat_str([pl.col(c).fill_null("") for c in cols], separator=" ")).to_series().to_list()


def build_index(texts: list[str], actors: list[str] | None = None) -> TextIndex:
    """Fit TF-IDF (terms of :func:`analyze`, sublinear tf, smooth idf) on the texts."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer=analyze, sublinear_tf=True, max_features=300_000, dtype=np.float32)
    try:
        matrix = vectorizer.fit_transform(texts).tocsr()
    except ValueError:  # no term at all (every text empty)
        return TextIndex(np.array([], dtype=object), np.zeros(0), sp.csr_matrix((len(texts), 0)), actors)
    return TextIndex(np.asarray(vectorizer.get_feature_names_out(), dtype=object),
                     np.asarray(vectorizer.idf_, dtype=float), matrix, actors)


def text_checksum(con: duckdb.DuckDBPyConnection, network: str) -> str:
    """A checksum of the network's actors (texts, kinds, regions, clusters): the stored index is used only
    while it matches."""
    cols = ", ".join(f"coalesce({c}, '')" for c in (*TEXT_COLUMNS, "kind", "region", "cluster"))
    row = first_row(con, f"SELECT count(*), coalesce(sum(hash(actor, {cols})), 0) FROM actors WHERE network = ?",
                    [network])
    return f"{row[0]}:{row[1]}"


def _blob(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _array(blob: bytes) -> np.ndarray:
    return np.load(io.BytesIO(blob), allow_pickle=False)


def store_index(con: duckdb.DuckDBPyConnection, network: str) -> tuple[TextIndex, float]:
    """Build the network's text index and store it in the atlas (table ``network_text_index``, no pickles),
    keyed by the checksum of the actors' texts. Returns the index and the seconds taken to build it."""
    start = time.perf_counter()
    actors = con.sql(f"SELECT actor, {', '.join(TEXT_COLUMNS)} FROM actors WHERE network = ? ORDER BY actor",
                     params=[network]).pl()
    index = build_index(actor_texts(actors), actors["actor"].to_list())
    seconds = time.perf_counter() - start
    m = index.matrix
    # the binary adjacency (CSR over the same actor order) for friends of friends without a graph in memory
    ends = con.sql("""WITH i AS (SELECT actor, row_number() OVER (ORDER BY actor) - 1 AS i FROM actors
                                 WHERE network = $n)
                      SELECT DISTINCT s.i AS s, t.i AS t FROM actor_ties e JOIN i s ON s.actor = e.source
                      JOIN i t ON t.actor = e.target WHERE e.network = $n AND s.i <> t.i""",
                   params={"n": network}).fetchnumpy()
    n = m.shape[0]
    adj = sp.csr_matrix((np.ones(2 * ends["s"].size, dtype=np.int8),
                         (np.r_[ends["s"], ends["t"]], np.r_[ends["t"], ends["s"]])), shape=(n, n))
    adj.sum_duplicates()
    n_ties = int(first_row(con, "SELECT count(*) FROM actor_ties WHERE network = ?", [network])[0])
    con.execute("DELETE FROM network_text_index WHERE network = ?", [network])
    con.execute("INSERT INTO network_text_index VALUES (?, ?, now(), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [network, text_checksum(con, network), seconds, m.shape[0], m.shape[1],
                 json.dumps(index.actors, ensure_ascii=False), json.dumps(index.terms.tolist(), ensure_ascii=False),
                 _blob(index.idf), _blob(m.data), _blob(np.r_[m.indptr, m.indices].astype(np.int64)), n_ties,
                 _blob(np.r_[adj.indptr, adj.indices].astype(np.int32))])
    return index, seconds
#: Indexes and adjacencies read from atlases in this process, keyed by (atlas file, network) and checked
#: against the stored checksum / tie count on every use (a server or a notebook reads the blobs once).
_LOADED: dict[tuple[str, str, str], tuple[object, object]] = {}


def _atlas_key(con: duckdb.DuckDBPyConnection, network: str, what: str) -> tuple[str, str, str]:
    path = first_row(con, "SELECT path FROM duckdb_databases() WHERE database_name = current_database()")
    return (str(path[0]) if path and path[0] else f"memory:{id(con)}", network, what)


def load_index(con: duckdb.DuckDBPyConnection, network: str) -> TextIndex | None:
    """The stored text index of the network, or None when there is none or the actors changed since."""
    checksum = text_checksum(con, network)
    key = _atlas_key(con, network, "text")
    cached = _LOADED.get(key)
    if cached is not None and cached[0] == checksum:
        return cached[1]  # type: ignore[return-value]
    stored = first_row(con, "SELECT checksum FROM network_text_index WHERE network = ?", [network])
    if stored is None or stored[0] != checksum:
        return None
    row = first_row(con, "SELECT checksum, n_rows, n_terms, actors, terms, idf, data, structure "
                         "FROM network_text_index WHERE network = ?", [network])
    n_rows, n_terms = int(row[1]), int(row[2])
    structure = _array(row[7])
    matrix = sp.csr_matrix((_array(row[6]), structure[n_rows + 1:], structure[:n_rows + 1]), shape=(n_rows, n_terms))
    index = TextIndex(np.asarray(json.loads(row[4]), dtype=object), _array(row[5]), matrix, json.loads(row[3]))
    _LOADED[key] = (checksum, index)
    return index


def load_adjacency(con: duckdb.DuckDBPyConnection, network: str) -> sp.csr_matrix | None:
    """The stored binary adjacency of the network (actor order), or None if missing or the ties changed since
    (their count differs: ties are only added to a network, or replaced with it)."""
    ties = first_row(con, "SELECT count(*) FROM actor_ties WHERE network = ?", [network])[0]
    state = (text_checksum(con, network), ties)
    key = _atlas_key(con, network, "adjacency")
    cached = _LOADED.get(key)
    if cached is not None and cached[0] == state:
        return cached[1]  # type: ignore[return-value]
    stored = first_row(con, "SELECT checksum, n_ties FROM network_text_index WHERE network = ?", [network])
    if stored is None or tuple(stored) != state:
        return None
    row = first_row(con, "SELECT n_rows, adjacency FROM network_text_index WHERE network = ?", [network])
    if row[1] is None:
        return None
    n, structure = int(row[0]), _array(row[1])
    adj = sp.csr_matrix((np.ones(structure.size - n - 1, dtype=np.int8), structure[n + 1:], structure[:n + 1]),
                        shape=(n, n))
    _LOADED[key] = (state, adj)
    return adj


def text_index(con: duckdb.DuckDBPyConnection, network: str) -> TextIndex:
    """The stored index if current, else built now (and stored when the atlas is writable)."""
    index = load_index(con, network)
    if index is not None:
        return index
    try:
        return store_index(con, network)[0]
    except duckdb.Error:  # read-only atlas: build in memory, kept for this process while the actors match
        actors = con.sql(f"SELECT actor, {', '.join(TEXT_COLUMNS)} FROM actors WHERE network = ? ORDER BY actor",
                         params=[network]).pl()
        index = build_index(actor_texts(actors), actors["actor"].to_list())
        _LOADED[_atlas_key(con, network, "text")] = (text_checksum(con, network), index)
        return index


def shared_terms(index: TextIndex, query_vec: sp.csr_matrix, row: int, n: int = 5) -> list[str]:
    """The terms that contribute most to the similarity of the query and an actor."""
    q = query_vec.toarray().ravel()
    a = index.matrix[row].toarray().ravel()
    contrib = q * a
    top = np.argsort(-contrib)[:n]
    return [str(index.terms[j]) for j in top if contrib[j] > 0]


def friends_of_friends(con: duckdb.DuckDBPyConnection, network: str, actor: str) -> tuple[set[str], pl.DataFrame]:
    """The actor's partners, and for every actor two steps away: the number of shared partners and one of them.

    Plain SQL over the stored ties (hash joins), so a query needs no graph
    in memory: about 0.1 s on the 797,000 ties of Horizon 2020.
    """
    mine = {r[0] for r in con.execute(
        "SELECT DISTINCT CASE WHEN source = $a THEN target ELSE source END FROM actor_ties "
        "WHERE network = $n AND (source = $a OR target = $a) AND source <> target",
        {"a": actor, "n": network}).fetchall()}
    if not mine:
        return mine, pl.DataFrame(schema={"actor": pl.String, "common": pl.Int64, "via": pl.String})
    con.register("__mine", pl.DataFrame({"partner": sorted(mine)}).to_arrow())
    try:
        frame = con.sql("""
            WITH hop AS (SELECT t.source AS via, t.target AS cand FROM actor_ties t JOIN __mine m
                           ON t.source = m.partner WHERE t.network = $n
                         UNION ALL
                         SELECT t.target, t.source FROM actor_ties t JOIN __mine m
                           ON t.target = m.partner WHERE t.network = $n)
            SELECT cand AS actor, count(DISTINCT via) AS common, min(via) AS via FROM hop
            WHERE cand <> $a GROUP BY cand""", params={"n": network, "a": actor}).pl()
    finally:
        con.unregister("__mine")
    return mine, frame


def match_actors(con: duckdb.DuckDBPyConnection, network: str | None = None, *, need: str | None = None,
                 actor: str | None = None, kind: str | None = None, top: int = 10,
                 index: TextIndex | None = None) -> pl.DataFrame:
    """Rank partners for a need (free text, any language) or an actor, with the reason of each part of the score.

    score = 0.5 × text (cosine of TF-IDF vectors) + 0.35 × friends of
    friends (shared partners / the most any candidate shares) + 0.15 ×
    cluster relatedness (1 for the same cluster, else the co-location
    proximity of the two clusters from ``clusteratlas relate``). ``kind``
    'complementary' keeps partners of another 産学官 sector than the actor,
    'synergistic' the same sector. The text index is the one stored by
    ``network compute`` (rebuilt when the actors changed).
    """
    from clusteratlas.networks.analysis import resolve_network

    if (need is None) == (actor is None):
        raise InputError(_("give either a need (text) or an actor id"))
    if kind not in (None, "complementary", "synergistic"):
        raise InputError(_("unknown match kind"), value=kind, expected=_("complementary or synergistic"))
    name = resolve_network(con, network)
    idx = index or text_index(con, name)
    key = _atlas_key(con, name, "actors")
    checksum = text_checksum(con, name)
    cached = _LOADED.get(key)
    if cached is not None and cached[0] == checksum:
        actors: pl.DataFrame = cached[1]  # type: ignore[assignment]
    else:
        actors = con.sql("SELECT actor, name, kind, region, cluster FROM actors WHERE network = ? ORDER BY actor",
                         params=[name]).pl()
        _LOADED[key] = (checksum, actors)
    ids = actors["actor"].to_list()
    n = len(ids)
    if idx.matrix.shape[0] != n:
        raise InputError(_("the text index does not match the network's actors"), hint=_("run 'network compute'"))
    network_score, cluster_score = np.zeros(n), np.zeros(n)
    via: list[str | None] = [None] * n

    def via_of(i: int) -> str | None:
        return via[i]
    exclude = np.zeros(n, dtype=bool)
    if need is not None:
        query = idx.transform(need)
    else:
        me = int(np.searchsorted(actors["actor"].to_numpy(), actor))
        if me >= n or ids[me] != actor:
            raise InputError(_("no actor '{actor}' in network '{name}'").format(actor=actor, name=name),
                             hint=_("list actors with 'clusteratlas show network'"))
        query = idx.matrix[me]
        adj = load_adjacency(con, name)
        if adj is not None:  # stored at 'network compute': a few milliseconds
            first = adj.indices[adj.indptr[me]:adj.indptr[me + 1]]
            common = np.asarray(adj[first].sum(axis=0), dtype=float).ravel()
            common[me] = 0
            exclude[first] = True
            if first.size and common.max() > 0:
                network_score = common / common.max()
                sub = adj[first].tocsc()  # the shared partner named for a candidate: its first one

                def via_of(i: int) -> str | None:
                    rows = sub.indices[sub.indptr[i]:sub.indptr[i + 1]]
                    return ids[first[rows.min()]] if rows.size else None
        else:  # ties changed since: plain SQL over the stored ties
            mine, fof = friends_of_friends(con, name, actor)
            position = {a: i for i, a in enumerate(ids)}
            exclude[[position[a] for a in mine if a in position]] = True
            if fof.height:
                rows = np.array([position[a] for a in fof["actor"].to_list()], dtype=np.int64)
                common = fof["common"].to_numpy().astype(float)
                network_score[rows] = common / common.max()
                for i, v in zip(rows.tolist(), fof["via"].to_list(), strict=True):
                    via[i] = v
        exclude[me] = True
        my_cluster = actors["cluster"][me]
        related = _cluster_relatedness(con, my_cluster)
        cluster_score = np.array([1.0 if c and c == my_cluster else related.get(c, 0.0) if c else 0.0
                                  for c in actors["cluster"].to_list()])
        my_sector = sector(actors["kind"][me])
        kinds = actors["kind"].fill_null("")
        sectors = kinds.replace_strict({k: sector(k) for k in kinds.unique().to_list()}).to_numpy()
        if kind == "complementary":
            exclude |= sectors == my_sector
        elif kind == "synergistic":
            exclude |= sectors != my_sector
    text = np.asarray((idx.matrix @ query.T).todense(), dtype=float).ravel() if idx.matrix.shape[1] else np.zeros(n)
    score = WEIGHTS["text"] * text + WEIGHTS["network"] * network_score + WEIGHTS["cluster"] * cluster_score
    score[exclude] = -np.inf
    order = np.argsort(-score, kind="stable")[:top]
    names = dict(zip(ids, actors["name"].to_list(), strict=True))
    rows_out = []
    for j in order.tolist():
        if not np.isfinite(score[j]) or score[j] <= 0:
            break
        reasons = []
        if text[j] > 0:
            terms = shared_terms(idx, query, j)
            reasons.append(f"text {text[j]:.2f}" + (f" (shared: {', '.join(terms)})" if terms else ""))
        if network_score[j] > 0:
            v = via_of(j)
            reasons.append(f"friend of a friend via {names.get(v) or v}")
        if cluster_score[j] > 0:
            reasons.append(f"cluster relatedness {cluster_score[j]:.2f}")
        rows_out.append({"actor": ids[j], "name": names[ids[j]], "kind": actors["kind"][j],
                         "region": actors["region"][j], "score": float(score[j]), "text": float(text[j]),
                         "network": float(network_score[j]), "cluster": float(cluster_score[j]),
                         "why": "; ".join(reasons)})
    return pl.DataFrame(rows_out, schema={"actor": pl.String, "name": pl.String, "kind": pl.String,
                                          "region": pl.String, "score": pl.Float64, "text": pl.Float64,
                                          "network": pl.Float64, "cluster": pl.Float64, "why": pl.String})


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
    text_matrix = build_index(texts).matrix if texts is not None else None
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
CLUSTER_MATCH_SCHEMA = {"kind": pl.String, "region": pl.String, "cluster": pl.String, "score": pl.Float64,
                        "similarity": pl.Float64, "relatedness": pl.Float64, "colocation": pl.Float64,
                        "lq_there": pl.Float64, "lq_here": pl.Float64, "employment_there": pl.Float64,
                        "basis": pl.String, "why": pl.String}


def composition_cosine(home: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Cosine similarity of a region's composition vector (employment by part of the cluster) with each row
    of ``others``; NaN where either vector is all zero (no composition to compare)."""
    home = np.asarray(home, dtype=float)
    others = np.atleast_2d(np.asarray(others, dtype=float))
    norms = np.linalg.norm(others, axis=1) * np.linalg.norm(home)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norms > 0, others @ home / np.where(norms > 0, norms, 1.0), np.nan)


def cluster_relatedness(con: duckdb.DuckDBPyConnection, cluster: str | None) -> pl.DataFrame:
    """The clusters related to ``cluster`` by co-location (from ``clusteratlas relate --by cluster``), with the
    figures: proximity (Hidalgo et al. 2007: min of the conditional probabilities that two clusters are both
    specialised, LQ > 1, in the same region), the correlation of their location quotients across regions,
    and the rank. Empty when ``relate`` has not been run."""
    schema = {"related": pl.String, "proximity": pl.Float64, "colocation": pl.Float64, "rank": pl.Int64}
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if not cluster or "relate_pairs" not in tables:
        return pl.DataFrame(schema=schema)
    return con.sql("""SELECT related, proximity, colocation, rank FROM relate_pairs
                      WHERE item = ? AND breakdown = 'cluster'
                        AND year = (SELECT max(year) FROM relate_pairs WHERE item = ? AND breakdown = 'cluster')
                      QUALIFY row_number() OVER (PARTITION BY related ORDER BY rank) = 1 ORDER BY rank""",
                   params=[cluster, cluster]).pl().cast(schema)


def _cluster_relatedness(con: duckdb.DuckDBPyConnection, cluster: str | None) -> dict[str, float]:
    """Proximity of each cluster related to ``cluster`` (see :func:`cluster_relatedness`)."""
    rel = cluster_relatedness(con, cluster)
    return {r: float(p) for r, p in zip(rel["related"], rel["proximity"], strict=True) if p is not None and p > 0}


def _compositions(con: duckdb.DuckDBPyConnection, cluster: str, year: int, regions: list[str]) -> pl.DataFrame:
    """Employment of each region by subcluster of ``cluster`` (by industry when the definition has no
    subclusters), from the observations and the definition of the latest map run; regions above the observed
    level are summed over their observed descendants (region hierarchy and custom regions)."""
    definition = con.execute("SELECT definition FROM map_runs ORDER BY run_at DESC LIMIT 1").fetchall()
    if not definition:
        return pl.DataFrame(schema={"region": pl.String, "part": pl.String, "employment": pl.Float64})
    con.register("__wanted", pl.DataFrame({"region": regions}).to_arrow())
    try:
        return con.sql("""
            WITH RECURSIVE links AS (SELECT region AS child, parent FROM region_links
                                     UNION SELECT member, region FROM custom_members),
            up(region, leaf) AS (
                SELECT DISTINCT region, region FROM observations WHERE year = $year
                UNION
                SELECT l.parent, u.leaf FROM links l JOIN up u ON l.child = u.region),
            defs AS (SELECT industry, coalesce(subcluster, industry) AS part FROM definitions
                     WHERE definition = $definition AND cluster = $cluster)
            SELECT u.region, d.part, sum(o.employment) AS employment
            FROM observations o JOIN defs d USING (industry) JOIN up u ON u.leaf = o.region
            WHERE o.year = $year AND u.region IN (SELECT region FROM __wanted)
            GROUP BY 1, 2""", params={"year": year, "definition": definition[0][0], "cluster": cluster}).pl()
    finally:
        con.unregister("__wanted")


def match_clusters(con: duckdb.DuckDBPyConnection, region: str, cluster: str, *, kind: str | None = None,
                   top: int = 10, year: int | None = None, min_employment: float = 1000.0) -> pl.DataFrame:
    """Partner clusters elsewhere for ``cluster`` in ``region`` (regions of the same level), each with its figures.

    synergistic: the same cluster, specialised there (LQ > 1), ranked by the
    cosine similarity of the two regions' compositions of the cluster
    (employment by subcluster, or by industry when the definition has no
    subclusters); ``why`` names the parts both are specialised in (share of
    the cluster above the nation's share). complementary: a cluster related to
    this one by co-location (proximity from ``clusteratlas relate``) that is
    specialised there (LQ > 1) but not here, ranked by proximity × ln(LQ
    there). Partner clusters with fewer than ``min_employment`` jobs are
    left out (a one-plant cluster of a small region has extreme LQs and
    compositions).
    """
    if kind not in (None, "complementary", "synergistic"):
        raise InputError(_("unknown match kind"), value=kind, expected=_("complementary or synergistic"))
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if "results_clusters" not in tables:
        raise InputError(_("no cluster results in this atlas"), hint=_("run 'clusteratlas map' first"))
    year_sql = "(SELECT max(year) FROM results_clusters)" if year is None else str(int(year))
    res = con.sql(f"SELECT level, region, cluster, year, lq, employment FROM results_clusters "
                  f"WHERE year = {year_sql} AND subcluster IS NULL").pl()
    mine = res.filter((pl.col("region") == region) & (pl.col("cluster") == cluster))
    if not mine.height:
        raise InputError(_("no result for cluster '{cluster}' in region '{region}'").format(cluster=cluster,
                                                                                            region=region),
                         hint=_("see 'clusteratlas show region'"))
    level, the_year = mine["level"][0], int(mine["year"][0])
    res = res.filter(pl.col("level") == level)
    lq_here = dict(zip(res.filter(pl.col("region") == region)["cluster"],
                       res.filter(pl.col("region") == region)["lq"], strict=True))
    rows: list[dict] = []
    if kind in (None, "synergistic"):
        rows += _synergistic(con, res, region, cluster, the_year, lq_here, min_employment)
    if kind in (None, "complementary"):
        rows += _complementary(con, res, region, cluster, lq_here, min_employment)
    frame = pl.DataFrame(rows, schema=CLUSTER_MATCH_SCHEMA)
    return (frame.sort(["kind", "score", "region"], descending=[True, True, False], nulls_last=True)
            .group_by("kind", maintain_order=True).head(top))


def _synergistic(con: duckdb.DuckDBPyConnection, res: pl.DataFrame, region: str, cluster: str, year: int,
                 lq_here: dict, min_employment: float) -> list[dict]:
    same = res.filter((pl.col("cluster") == cluster) & (pl.col("region") != region) & (pl.col("lq") > 1)
                      & (pl.col("employment") >= min_employment))
    if not same.height:
        return []
    comp = _compositions(con, cluster, year, [region, *same["region"].to_list()])
    wide = comp.pivot(on="part", index="region", values="employment").fill_null(0.0)
    parts = sorted(c for c in wide.columns if c != "region")
    if not parts or region not in wide["region"].to_list():
        basis = "no composition (observations of the cluster's industries missing)"
        sim = dict.fromkeys(same["region"].to_list(), float("nan"))
        special_here: set[str] = set()
        special: dict[str, list[str]] = {}
    else:
        kind_of_part = "subcluster" if con.execute(
            "SELECT count(subcluster) FROM definitions WHERE cluster = ?", [cluster]).fetchall()[0][0] else "industry"
        basis = f"composition by {kind_of_part} ({len(parts)})"
        matrix = wide.select(parts).to_numpy()
        regions = wide["region"].to_list()
        # the nation's mix: every region of this level that has the cluster, here from the regions compared;
        # shares above the compared regions' pooled share mark a specialised part
        pooled = _national_mix(con, cluster, year, parts, res)
        shares = matrix / np.where(matrix.sum(axis=1, keepdims=True) > 0, matrix.sum(axis=1, keepdims=True), 1)
        over = shares > pooled
        me = regions.index(region)
        # specialisation within the cluster: each part's share over the nation's share (a part the nation
        # lacks counts as 0), so the similarity is of what is over-represented, not of the largest part
        with np.errstate(invalid="ignore", divide="ignore"):
            relative = np.where(pooled > 0, shares / np.where(pooled > 0, pooled, 1), 0.0)
        cos = composition_cosine(relative[me], relative)
        sim = dict(zip(regions, cos.tolist(), strict=True))
        special_here = {parts[k] for k in np.flatnonzero(over[me])}
        special = {r: [parts[k] for k in np.flatnonzero(over[i]) if parts[k] in special_here]
                   for i, r in enumerate(regions)}
    rows = []
    for r in same.iter_rows(named=True):
        s = sim.get(r["region"], float("nan"))
        both = special.get(r["region"], [])
        rows.append({"kind": "synergistic", "region": r["region"], "cluster": cluster,
                     "score": None if s != s else s, "similarity": None if s != s else s, "relatedness": None,
                     "colocation": None, "lq_there": r["lq"], "lq_here": lq_here.get(cluster),
                     "employment_there": r["employment"], "basis": basis,
                     "why": (f"same cluster specialised there (LQ {r['lq']:.2f}, here {lq_here.get(cluster):.2f});"
                             f" composition similarity {s:.2f}" if s == s else
                             f"same cluster specialised there (LQ {r['lq']:.2f}); composition unknown")
                     + (f"; both specialised in {', '.join(both[:4])}" + (" …" if len(both) > 4 else "")
                        if both else "")})
    return rows


def _national_mix(con: duckdb.DuckDBPyConnection, cluster: str, year: int, parts: list[str],
                  res: pl.DataFrame) -> np.ndarray:
    """The share of each part in the cluster's employment over all regions of the level (the nation's mix)."""
    comp = _compositions(con, cluster, year, res["region"].unique().to_list())
    total = comp.group_by("part").agg(pl.col("employment").sum())
    amounts = dict(zip(total["part"], total["employment"], strict=True))
    vec = np.array([amounts.get(p, 0.0) for p in parts], dtype=float)
    return vec / vec.sum() if vec.sum() > 0 else vec


def _complementary(con: duckdb.DuckDBPyConnection, res: pl.DataFrame, region: str, cluster: str, lq_here: dict,
                   min_employment: float) -> list[dict]:
    rel = cluster_relatedness(con, cluster).filter(pl.col("proximity") > 0)
    if not rel.height:
        return []
    cand = (res.join(rel, left_on="cluster", right_on="related")
            .filter((pl.col("region") != region) & (pl.col("lq") > 1) & (pl.col("employment") >= min_employment)))
    rows = []
    for r in cand.iter_rows(named=True):
        here = lq_here.get(r["cluster"])
        if here is not None and here > 1:
            continue  # specialised here too: not a different specialisation
        excess = r["employment"] * (1 - 1 / r["lq"])
        score = r["proximity"] * float(np.log1p(excess))
        rows.append({"kind": "complementary", "region": r["region"], "cluster": r["cluster"], "score": score,
                     "similarity": None, "relatedness": r["proximity"], "colocation": r["colocation"],
                     "lq_there": r["lq"], "lq_here": here, "employment_there": r["employment"],
                     "basis": f"related to {cluster} (rank {r['rank']})",
                     "why": f"{r['cluster']} specialised there (LQ {r['lq']:.2f}, {excess:,.0f} jobs above the "
                            f"nation's share) but not here "
                            f"(LQ {here if here is not None else float('nan'):.2f}); related to {cluster} by "
                            f"co-location: proximity {r['proximity']:.2f}, LQ correlation {r['colocation']:.2f}"})
    return rows
