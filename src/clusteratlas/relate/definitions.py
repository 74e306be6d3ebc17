"""Data-driven cluster definitions, after Delgado, Porter & Stern (2016).

An open implementation of their approach, for countries with no benchmark
definitions (Japan, for one):

1. **Linkage** between every pair of industries: co-location of employment
   (the correlation, across regions, of the industries' shares of regional
   employment, which equals the correlation of their location quotients),
   and, where the user has them, input-output links (the largest of the
   four buy/sell shares) and occupation links (the correlation of the
   industries' occupation mixes). Each is rescaled to [0, 1] by rank and the
   available ones are averaged.
2. **Clustering**: average-linkage hierarchical clustering on
   1 − linkage, cut at ``k`` clusters (or at each k of a range, keeping the
   best validation score).
3. **Validation scores**, per linkage measure: ``vs_industry`` = the share of
   industries whose mean linkage to their own cluster exceeds their mean
   linkage to every other cluster; ``vs_cluster`` = the share of clusters
   whose mean internal linkage exceeds their mean linkage to every other
   cluster; ``margin`` = the mean, over industries, of own-cluster minus
   best-other-cluster linkage. Singletons count as failures (they are not a
   cluster of related industries). A range of k is searched for the best
   vs_industry, then vs_cluster, then the *finest* partition: merging
   unrelated groups keeps the scores high, so among equals the most clusters
   that still validate win, while splitting a real group makes them fail.

What differs from the paper: DPS search thousands of configurations from
several clustering algorithms and more linkage variants (co-location of
establishments, of employment across several region levels) and then refine
by hand; this is one reproducible configuration family, documented as such.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from scipy.stats import rankdata

from clusteratlas.errors import InputError
from clusteratlas.relate.relatedness import colocation_correlation


def _rank_scale(matrix: np.ndarray) -> np.ndarray:
    """Off-diagonal values mapped to (0, 1] by rank (ties averaged); diagonal 1; symmetric."""
    n = matrix.shape[0]
    upper = np.triu_indices(n, 1)
    ranks = rankdata(matrix[upper]) / len(upper[0])
    out = np.eye(n)
    out[upper] = ranks
    out[(upper[1], upper[0])] = ranks
    return out


def io_linkage(flows: np.ndarray) -> np.ndarray:
    """Input-output link of each pair: max of i's share of j's inputs, j's of i's, and the output shares."""
    f = np.asarray(flows, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] != f.shape[1] or (f < 0).any():
        raise InputError("input-output flows must be a square matrix of values ≥ 0", value=f.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        out_share = np.nan_to_num(f / f.sum(axis=1, keepdims=True))  # i's sales going to j
        in_share = np.nan_to_num(f / f.sum(axis=0, keepdims=True))  # j's purchases coming from i
    return np.maximum.reduce([out_share, out_share.T, in_share, in_share.T])


def occupation_linkage(occupations: np.ndarray) -> np.ndarray:
    """Correlation of the occupation mixes (industries × occupations employment) of each pair."""
    occ = np.asarray(occupations, dtype=np.float64)
    return colocation_correlation(occ)


def combined_linkage(employment: np.ndarray, *, io_flows: np.ndarray | None = None,
                     occupations: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The linkage matrices used: each available measure, rank-scaled, and their mean ('combined')."""
    employment = np.asarray(employment, dtype=np.float64)
    n = employment.shape[1]
    measures = {"colocation": colocation_correlation(employment)}
    if io_flows is not None:
        measures["input_output"] = io_linkage(io_flows)
    if occupations is not None:
        measures["occupations"] = occupation_linkage(occupations)
    for name, m in measures.items():
        if m.shape != (n, n):
            raise InputError(f"the {name} linkage does not match the industries", value=m.shape,
                             expected=f"({n}, {n})")
    scaled = {name: _rank_scale(m) for name, m in measures.items()}
    scaled["combined"] = np.mean(list(scaled.values()), axis=0)
    return scaled


def validation_scores(labels: np.ndarray, link: np.ndarray) -> dict[str, float]:
    """DPS-style validation of a clustering against one linkage matrix (see the module text)."""
    labels = np.asarray(labels)
    groups, idx = np.unique(labels, return_inverse=True)
    g = len(groups)
    member = np.zeros((len(labels), g))
    member[np.arange(len(labels)), idx] = 1.0
    size = member.sum(axis=0)
    off = link - np.diag(np.diag(link))
    to_cluster = off @ member  # Σ_{j in c} L_ij, self excluded
    denom = size[None, :] - member  # members other than i itself
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_to = np.where(denom > 0, to_cluster / denom, -np.inf)
    own = mean_to[np.arange(len(labels)), idx]
    other = np.where(member > 0, -np.inf, mean_to).max(axis=1) if g > 1 else np.full(len(labels), -np.inf)
    industry_ok = (size[idx] > 1) & (own > other)
    margin = np.where(size[idx] > 1, own - np.where(np.isfinite(other), other, 0.0), 0.0)
    block = member.T @ off @ member
    pairs = np.outer(size, size) - np.diag(size)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_block = np.where(pairs > 0, block / pairs, -np.inf)
    inside = np.diag(mean_block)
    outside = np.where(np.eye(g, dtype=bool), -np.inf, mean_block).max(axis=1) if g > 1 else np.full(g, -np.inf)
    cluster_ok = (size > 1) & (inside > outside)
    return {"vs_industry": float(industry_ok.mean()), "vs_cluster": float(cluster_ok.mean()),
            "margin": float(margin.mean())}


@dataclass(frozen=True)
class DerivedDefinition:
    """A data-driven definition: a cluster label per industry, and how well it validates."""

    labels: np.ndarray
    k: int
    scores: dict[str, dict[str, float]]


def derive_clusters(employment: np.ndarray, *, k: int | None = None, k_range: tuple[int, int] | None = None,
                    io_flows: np.ndarray | None = None, occupations: np.ndarray | None = None,
                    ) -> DerivedDefinition:
    """Group industries into clusters from their linkages (see the module text).

    ``employment`` is regions × industries. Give ``k`` (number of clusters),
    or ``k_range`` = (low, high) to keep the k with the best combined
    ``vs_industry``, then ``vs_cluster``, then the most clusters.
    """
    employment = np.asarray(employment, dtype=np.float64)
    n = employment.shape[1]
    if n < 3 or employment.shape[0] < 3:
        raise InputError("deriving clusters needs at least three regions and three industries",
                         value=employment.shape)
    links = combined_linkage(employment, io_flows=io_flows, occupations=occupations)
    distance = 1.0 - links["combined"]
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(np.clip(distance, 0, None), checks=False), method="average")
    if k is not None:
        candidates = [k]
    elif k_range is not None:
        candidates = list(range(k_range[0], k_range[1] + 1))
    else:
        raise InputError("give the number of clusters (k) or a range to search")
    if any(c < 2 or c >= n for c in candidates):
        raise InputError("the number of clusters must be between 2 and the number of industries − 1",
                         value=candidates[0] if len(candidates) == 1 else f"{candidates[0]}–{candidates[-1]}")
    best = None
    for c in candidates:
        labels = fcluster(tree, t=c, criterion="maxclust")
        scores = {name: validation_scores(labels, m) for name, m in links.items()}
        key = (scores["combined"]["vs_industry"], scores["combined"]["vs_cluster"], c)
        if best is None or key > best[0]:
            best = (key, labels, c, scores)
    _, labels, c, scores = best
    return DerivedDefinition(labels, c, scores)
