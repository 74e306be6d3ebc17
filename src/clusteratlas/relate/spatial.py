"""Spatial hot spots: global and local Moran's I and Getis–Ord Gi*, for many series at once.

Y is a region × series matrix (e.g. regions × industries of LQs or
employment); W a sparse spatial weights matrix (build it with libpysal, see
:func:`weights_from_libpysal`). Every statistic is computed for all series
in one pass of matrix products, never in a loop over series.

Inference by conditional randomisation, as esda does: for region i the
values of its k_i neighbours are replaced by k_i values drawn without
replacement from the other n − 1 regions, ``permutations`` times; one
matrix of random draws is shared by all regions (shifted past region i), so
results are reproducible from ``seed``. Every permutation test here (global
Moran, local Moran, Gi*) turns its counts into a p-value with one helper,
:func:`pseudo_p`: p = (min(#sim ≥ obs, #sim ≤ obs) + 1) / (permutations + 1),
the chance of a result at least as extreme as the observed one, on the side
of the distribution where the observation lies, under the null hypothesis of
spatial randomness (values assigned to regions at random). Draws that *tie*
the observation count as at least as extreme on either side, so an
observation in the middle of a pile of ties (e.g. a region with no jobs
whose neighbours have none either) gets a large p-value, not 1/(P + 1).
Without ties this is esda's folded pseudo p-value.

Undefined results are NaN with a reason (``reason``: :data:`NO_VARIATION`
for a constant series, all-zero included, and :data:`NO_NEIGHBOURS` for a
region without neighbours), never a number and never significant. ``fdr``
applies the Benjamini–Hochberg false-discovery-rate control over the regions
of each series that have a p-value.
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


NO_VARIATION = "no variation"
NO_NEIGHBOURS = "no neighbours"


def pseudo_p(at_least: np.ndarray, at_most: np.ndarray, permutations: int) -> np.ndarray:
    """Folded permutation p-value with ties counted as extreme: (min(#sim ≥ obs, #sim ≤ obs) + 1) / (P + 1).

    ``at_least`` and ``at_most`` count the simulated statistics ≥ and ≤ the
    observed one (ties in both). The smaller count is the side on which the
    observation lies; a draw equal to the observation is "at least as
    extreme", so a pile of ties can never make a result look significant.
    The one p-value rule of every permutation test in this module.
    """
    at_least, at_most = np.asarray(at_least, dtype=np.float64), np.asarray(at_most, dtype=np.float64)
    return (np.minimum(at_least, at_most) + 1.0) / (permutations + 1.0)


def _tally(sim: np.ndarray, obs: np.ndarray, tol: np.ndarray | float, axis: int | None = 0,
           ) -> tuple[np.ndarray, np.ndarray]:
    """(#sim ≥ obs, #sim ≤ obs) along ``axis`` (None: one draw, 0/1 per entry); within ``tol`` is a tie.

    ``tol`` absorbs rounding (the conditional simulations run in float32), so
    a draw that reproduces the observed configuration is a tie, not a miss.
    """
    ge, le = sim >= obs - tol, sim <= obs + tol
    return (ge, le) if axis is None else (ge.sum(axis=axis), le.sum(axis=axis))


def _reasons(shape: tuple[int, ...], constant: np.ndarray, isolated: np.ndarray | None = None) -> np.ndarray:
    """The reason each result is undefined ('' where it is defined): regions × series, or series."""
    out = np.full(shape, "", dtype=object)
    if isolated is not None:
        out[isolated, :] = NO_NEIGHBOURS
    out[..., constant] = NO_VARIATION
    return out


def fdr(p: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """Benjamini–Hochberg: True where a p-value stays significant at false-discovery rate ``alpha``.

    Applied to each column (series) separately, over its regions. NaN
    p-values (undefined tests) are not tests: they are never significant and
    do not count in the number of tests.
    """
    p = np.asarray(p, dtype=np.float64)
    p2 = p[:, None] if p.ndim == 1 else p
    n = p2.shape[0]
    tests = np.isfinite(p2).sum(axis=0)
    order = np.argsort(p2, axis=0, kind="stable")  # NaN sorts last
    ranked = np.take_along_axis(p2, order, axis=0)
    passes = ranked <= alpha * np.arange(1, n + 1)[:, None] / np.maximum(tests, 1)[None, :]
    last = np.where(passes.any(axis=0), n - 1 - np.argmax(passes[::-1], axis=0), -1)
    keep_sorted = np.arange(n)[:, None] <= last[None, :]
    out = np.empty_like(keep_sorted)
    np.put_along_axis(out, order, keep_sorted, axis=0)
    return out[:, 0] if p.ndim == 1 else out


@dataclass(frozen=True)
class GlobalMoran:
    """Global Moran's I per series, with its expectation and permutation p-value.

    ``reason``: why I and p are NaN for a series ('' where defined).
    """

    I: np.ndarray  # noqa: E741 - the textbook symbol
    EI: float
    p_sim: np.ndarray
    reason: np.ndarray


def moran(y: np.ndarray, w: sp.spmatrix, *, permutations: int = 999, seed: int = 0) -> GlobalMoran:
    """Global Moran's I = (n / S0) · zᵀWz / zᵀz for every column of ``y``.

    Null hypothesis of the pseudo p-value: values assigned to regions at
    random (whole permutations of the regions, the same for every series).
    A constant series (no variation) has no I and no p-value (NaN); so has
    every series when no region has a neighbour.
    """
    y, w = _check(y, w)
    n = y.shape[0]
    z = _standardise(y)
    s0 = w.sum()
    zz = (z * z).sum(axis=0)
    defined = (zz > 0) & (s0 > 0)
    scale = np.where(defined, n / (s0 if s0 > 0 else 1.0) / np.where(zz > 0, zz, 1.0), 0.0)
    stat = scale * (z * (w @ z)).sum(axis=0)
    tol = 1e-9 * (1.0 + np.abs(stat))  # the same sum in another order: ties up to rounding
    rng = np.random.default_rng(seed)
    at_least, at_most = np.zeros(y.shape[1]), np.zeros(y.shape[1])
    for _ in range(permutations):  # a loop over permutations; every series at once
        zp = z[rng.permutation(n)]
        ge, le = _tally(scale * (zp * (w @ zp)).sum(axis=0), stat, tol, axis=None)
        at_least += ge
        at_most += le
    p = np.where(defined, pseudo_p(at_least, at_most, permutations), np.nan)
    reason = _reasons((y.shape[1],), zz == 0)
    if s0 == 0:
        reason[:] = NO_NEIGHBOURS
    return GlobalMoran(np.where(defined, stat, np.nan), -1.0 / (n - 1), p, reason)


@dataclass(frozen=True)
class LocalMoran:
    """Local Moran's I (regions × series), quadrants, pseudo p-values and FDR-significant hot spots.

    ``quadrant``: 1 high-high, 2 low-high, 3 low-low, 4 high-low (value,
    neighbours' lag), 0 where I is undefined. ``reason``: why I and p are NaN
    ('' where defined).
    """

    Is: np.ndarray
    quadrant: np.ndarray
    p_sim: np.ndarray
    significant: np.ndarray
    reason: np.ndarray


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

    Undefined (NaN I and p, quadrant 0, never significant, with a reason):
    every region of a constant series (no variation: z is 0/0) and a region
    without neighbours (no lag to compare with).
    """
    y, w = _check(y, w)
    n = y.shape[0]
    z = _standardise(y)
    den = (z * z).sum(axis=0)
    scale = np.where(den > 0, (n - 1) / np.where(den > 0, den, 1.0), 0.0)
    lag = w @ z
    isolated = np.diff(w.indptr) == 0
    defined = (den > 0)[None, :] & ~isolated[:, None]
    stat = np.where(defined, scale * z * lag, np.nan)
    quadrant = np.where(defined, np.where(z > 0, np.where(lag > 0, 1, 4), np.where(lag > 0, 2, 3)), 0)
    p = np.full_like(z, np.nan)
    zmax = np.abs(z).max(axis=0)
    for i, cols, obs_lag, sim in _conditional_lags(z, w, permutations, seed):
        # I_sim vs I_obs  ⇔  z_i · lag_sim vs z_i · lag_obs (scale > 0). The simulation runs in float32:
        # values within its rounding (≈ 1e-6 of |z_i| · max|z|) are ties
        zi = z[i, cols]
        obs = zi * obs_lag
        tol = 1e-6 * (np.abs(obs) + np.abs(zi) * zmax[cols])
        at_least, at_most = _tally(zi * sim, obs, tol)
        p[i, cols] = pseudo_p(at_least, at_most, permutations)
    p = np.where(defined, p, np.nan)
    reason = _reasons(z.shape, den == 0, isolated)
    return LocalMoran(stat, quadrant, p, fdr(p, alpha) & defined, reason)


@dataclass(frozen=True)
class LocalG:
    """Getis–Ord Gi* (regions × series): statistic, analytical z-score, pseudo p-value, FDR hot/cold spots.

    ``reason``: why the z-score and p (and Gi* itself where so) are NaN ('' where defined).
    """

    Gs: np.ndarray
    Zs: np.ndarray
    p_sim: np.ndarray
    significant: np.ndarray
    reason: np.ndarray


def getis_ord_star(y: np.ndarray, w: sp.spmatrix, *, permutations: int = 999, seed: int = 0,
                   alpha: float = 0.05) -> LocalG:
    """Gi* = (y_i + Σ_j w_ij y_j) / Σ_j y_j with binary weights plus the region itself (esda's star form).

    ``y`` must be ≥ 0 (e.g. employment or LQ). z-scores use esda's analytical
    moments; the pseudo p-value holds y_i fixed and draws the neighbours.

    Undefined (NaN, never significant, with a reason): z and p of a constant
    series (no variation; Gi* itself too when the series is all zero, 0/0),
    and Gi*, z and p of a region without neighbours (only its own value).
    """
    y, w = _check(y, w)
    if (y < 0).any():
        raise InputError("Getis–Ord G needs values ≥ 0", value=float(y.min()))
    n = y.shape[0]
    binary = w.copy()
    binary.data[:] = 1.0
    binary.eliminate_zeros()
    star = binary + sp.identity(n, format="csr")
    total = y.sum(axis=0)
    safe_total = np.where(total > 0, total, 1.0)
    isolated = np.diff(binary.indptr) == 0
    constant = y.std(axis=0) == 0
    stat = np.where((total > 0)[None, :] & ~isolated[:, None], (star @ y) / safe_total, np.nan)
    defined = ~constant[None, :] & ~isolated[:, None]
    card = np.asarray(star.sum(axis=1)).ravel()[:, None]
    mean = total / n
    var = (y**2).sum(axis=0) / n - mean**2
    with np.errstate(invalid="ignore", divide="ignore"):
        ev = card / n
        vg = card * (n - card) / (n - 1) / n**2 * np.where(mean > 0, var / mean**2, 0.0)
        zs = np.where(defined & (vg > 0), (stat - ev) / np.sqrt(vg), np.nan)
    p = np.full_like(y, np.nan)
    ymax = y.max(axis=0)
    for i, cols, _, sim in _conditional_lags(y, binary, permutations, seed):
        sims = (sim + y[i, cols].astype(np.float32)) / safe_total[cols].astype(np.float32)
        obs = stat[i, cols]
        tol = 1e-6 * (np.abs(obs) + card[i, 0] * ymax[cols] / safe_total[cols])  # float32 rounding
        at_least, at_most = _tally(sims, obs, tol)
        p[i, cols] = pseudo_p(at_least, at_most, permutations)
    p = np.where(defined, p, np.nan)
    reason = _reasons(y.shape, constant, isolated)
    return LocalG(stat, zs, p, fdr(p, alpha) & defined, reason)
