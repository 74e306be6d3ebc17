"""Spatial hot spots: global and local Moran's I and Getis–Ord Gi*, for many series at once.

Y is a region × series matrix (e.g. regions × industries of LQs or
employment); W a sparse spatial weights matrix (build it with libpysal, see
:func:`weights_from_libpysal`). Every statistic is computed for all series
in one pass of matrix products, never in a loop over series.

Inference by conditional randomisation, as esda does: for region i the
values of its k_i neighbours are replaced by k_i values drawn without
replacement from the other n − 1 regions, ``permutations`` times; one
matrix of random draws is shared by all regions (shifted past region i), so
results are reproducible from ``seed``. The pseudo p-value is folded:
p = (min(#sim ≥ obs, #sim < obs) + 1) / (permutations + 1), the chance of a
result at least as extreme under the null hypothesis of spatial randomness
(values assigned to regions at random). ``fdr`` applies the Benjamini–
Hochberg false-discovery-rate control over the regions of each series.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from clusteratlas.errors import InputError


def weights_from_libpysal(w, *, transform: str = "r") -> sp.csr_matrix:
    """A CSR matrix from a libpysal ``W`` or ``Graph`` (``transform`` 'r' row-standardises, 'b' binary)."""
    if hasattr(w, "transform") and hasattr(w, "sparse") and not callable(w.transform):
        w = w.copy() if hasattr(w, "copy") else w
        w.transform = transform.upper()
        return sp.csr_matrix(w.sparse)
    if hasattr(w, "transform") and callable(w.transform):  # libpysal.graph.Graph
        return sp.csr_matrix(w.transform(transform.upper()).sparse)
    raise InputError("not a libpysal weights object", value=type(w).__name__)


def _check(y: np.ndarray, w: sp.spmatrix) -> tuple[np.ndarray, sp.csr_matrix]:
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    w = sp.csr_matrix(w, dtype=np.float64)
    n = y.shape[0]
    if w.shape != (n, n):
        raise InputError("the weights do not match the regions", value=(w.shape, n))
    if not np.isfinite(y).all():
        raise InputError("the values have missing or infinite entries")
    if n < 3:
        raise InputError("spatial statistics need at least three regions", value=n)
    if w.diagonal().any():
        raise InputError("the weights link regions to themselves; pass weights without self-links")
    return y, w


def _standardise(y: np.ndarray) -> np.ndarray:
    """(y − mean) / std per column; a constant column becomes all zeros (no pattern to find)."""
    std = y.std(axis=0)
    return np.where(std > 0, (y - y.mean(axis=0)) / np.where(std > 0, std, 1.0), 0.0)


def _fold(larger: np.ndarray, permutations: int) -> np.ndarray:
    larger = np.minimum(larger, permutations - larger)
    return (larger + 1.0) / (permutations + 1.0)


def fdr(p: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """Benjamini–Hochberg: True where a p-value stays significant at false-discovery rate ``alpha``.

    Applied to each column (series) separately, over its regions.
    """
    p = np.asarray(p, dtype=np.float64)
    p2 = p[:, None] if p.ndim == 1 else p
    n = p2.shape[0]
    order = np.argsort(p2, axis=0, kind="stable")
    ranked = np.take_along_axis(p2, order, axis=0)
    passes = ranked <= alpha * np.arange(1, n + 1)[:, None] / n
    last = np.where(passes.any(axis=0), n - 1 - np.argmax(passes[::-1], axis=0), -1)
    keep_sorted = np.arange(n)[:, None] <= last[None, :]
    out = np.empty_like(keep_sorted)
    np.put_along_axis(out, order, keep_sorted, axis=0)
    return out[:, 0] if p.ndim == 1 else out


@dataclass(frozen=True)
class GlobalMoran:
    """Global Moran's I per series, with its expectation and permutation p-value."""

    I: np.ndarray  # noqa: E741 - the textbook symbol
    EI: float
    p_sim: np.ndarray


def moran(y: np.ndarray, w: sp.spmatrix, *, permutations: int = 999, seed: int = 0) -> GlobalMoran:
    """Global Moran's I = (n / S0) · zᵀWz / zᵀz for every column of ``y``.

    Null hypothesis of the pseudo p-value: values assigned to regions at
    random (whole permutations of the regions, the same for every series).
    """
    y, w = _check(y, w)
    n = y.shape[0]
    z = _standardise(y)
    s0 = w.sum()
    zz = (z * z).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = np.where(zz > 0, n / s0 * (z * (w @ z)).sum(axis=0) / zz, 0.0)
    rng = np.random.default_rng(seed)
    larger = np.zeros(y.shape[1])
    for _ in range(permutations):  # a loop over permutations; every series at once
        zp = z[rng.permutation(n)]
        with np.errstate(invalid="ignore", divide="ignore"):
            sim = np.where(zz > 0, n / s0 * (zp * (w @ zp)).sum(axis=0) / zz, 0.0)
        larger += sim >= stat
    return GlobalMoran(stat, -1.0 / (n - 1), _fold(larger, permutations))


@dataclass(frozen=True)
class LocalMoran:
    """Local Moran's I (regions × series), quadrants, pseudo p-values and FDR-significant hot spots.

    ``quadrant``: 1 high-high, 2 low-high, 3 low-low, 4 high-low (value, neighbours' lag).
    """

    Is: np.ndarray
    quadrant: np.ndarray
    p_sim: np.ndarray
    significant: np.ndarray


def _neighbours(w: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return w.indptr, w.indices, w.data


def _random_ids(n: int, permutations: int, max_k: int, seed: int) -> np.ndarray:
    """permutations × max_k draws without replacement from range(n − 1), one row per permutation."""
    rng = np.random.default_rng(seed)
    if max_k == 0:
        return np.zeros((permutations, 0), dtype=np.int32)
    return np.argsort(rng.random((permutations, n - 1)), axis=1)[:, :max_k].astype(np.int32)


_BLOCK = 128  # series per pass: keeps each region's simulated values (permutations × k × block) in cache


def _conditional_lags(z: np.ndarray, w: sp.csr_matrix, permutations: int, seed: int):
    """Yield (i, columns, observed lag, simulated lags permutations × block) region by region.

    Series are processed in blocks of :data:`_BLOCK` columns, all with the
    same random draws, so the simulated values of a region stay in cache.
    """
    n = z.shape[0]
    indptr, _, data = _neighbours(w)
    cards = np.diff(indptr)
    rids = _random_ids(n, permutations, int(cards.max()), seed)
    lag = w @ z
    shifted = [None] * n
    for start in range(0, z.shape[1], _BLOCK):
        cols = slice(start, min(start + _BLOCK, z.shape[1]))
        block = np.ascontiguousarray(z[:, cols], dtype=np.float32)
        for i in range(n):
            k = cards[i]
            if k == 0:
                continue
            if shifted[i] is None:
                ids = rids[:, :k]
                shifted[i] = ids + (ids >= i)  # skip region i itself
            weights = data[indptr[i]:indptr[i + 1]].astype(np.float32)
            yield i, cols, lag[i, cols], weights @ block[shifted[i]]


def local_moran(y: np.ndarray, w: sp.spmatrix, *, permutations: int = 999, seed: int = 0,
                alpha: float = 0.05) -> LocalMoran:
    """Local Moran's I_i = (n − 1) z_i (Wz)_i / Σ z² for every region and column (esda's definition).

    A region without neighbours gets I = 0, p = 1 and is never significant.
    """
    y, w = _check(y, w)
    n = y.shape[0]
    z = _standardise(y)
    den = (z * z).sum(axis=0)
    scale = np.where(den > 0, (n - 1) / np.where(den > 0, den, 1.0), 0.0)
    lag = w @ z
    stat = scale * z * lag
    quadrant = np.where(z > 0, np.where(lag > 0, 1, 4), np.where(lag > 0, 2, 3))
    p = np.ones_like(stat)
    for i, cols, obs_lag, sim in _conditional_lags(z, w, permutations, seed):
        # I_sim ≥ I_obs  ⇔  z_i · lag_sim ≥ z_i · lag_obs (scale > 0); the simulation runs in float32,
        # so a draw of exactly the observed neighbours must not miss by rounding: allow 1e-6 relative
        zi = z[i, cols]
        obs = zi * obs_lag
        larger = ((zi * sim) >= (obs - 1e-6 * np.abs(obs)).astype(np.float32)).sum(axis=0)
        p[i, cols] = _fold(larger, permutations)
    p = np.where(den > 0, p, 1.0)
    return LocalMoran(stat, quadrant, p, fdr(p, alpha) & (den > 0))


@dataclass(frozen=True)
class LocalG:
    """Getis–Ord Gi* (regions × series): statistic, analytical z-score, pseudo p-value, FDR hot/cold spots."""

    Gs: np.ndarray
    Zs: np.ndarray
    p_sim: np.ndarray
    significant: np.ndarray


def getis_ord_star(y: np.ndarray, w: sp.spmatrix, *, permutations: int = 999, seed: int = 0,
                   alpha: float = 0.05) -> LocalG:
    """Gi* = (y_i + Σ_j w_ij y_j) / Σ_j y_j with binary weights plus the region itself (esda's star form).

    ``y`` must be ≥ 0 (e.g. employment or LQ). z-scores use esda's analytical
    moments; the pseudo p-value holds y_i fixed and draws the neighbours.
    """
    y, w = _check(y, w)
    if (y < 0).any():
        raise InputError("Getis–Ord G needs values ≥ 0", value=float(y.min()))
    n = y.shape[0]
    binary = w.copy()
    binary.data[:] = 1.0
    star = binary + sp.identity(n, format="csr")
    total = y.sum(axis=0)
    safe_total = np.where(total > 0, total, 1.0)
    stat = (star @ y) / safe_total
    card = np.asarray(star.sum(axis=1)).ravel()[:, None]
    mean = total / n
    var = (y**2).sum(axis=0) / n - mean**2
    with np.errstate(invalid="ignore", divide="ignore"):
        ev = card / n
        vg = card * (n - card) / (n - 1) / n**2 * np.where(mean > 0, var / mean**2, 0.0)
        zs = np.where(vg > 0, (stat - ev) / np.sqrt(vg), 0.0)
    p = np.ones_like(stat)
    for i, cols, _, sim in _conditional_lags(y, binary, permutations, seed):
        sims = (sim + y[i, cols].astype(np.float32)) / safe_total[cols].astype(np.float32)
        larger = (sims >= (stat[i, cols] * (1 - 1e-6)).astype(np.float32)).sum(axis=0)
        p[i, cols] = _fold(larger, permutations)
    p = np.where(total > 0, p, 1.0)
    return LocalG(stat, zs, p, fdr(p, alpha) & (total > 0))
