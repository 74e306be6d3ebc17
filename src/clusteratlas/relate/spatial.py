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

**What the p-value is, and enough permutations.** The folded p-value is
one-sided, in the direction the observation lies (esda's ``p_sim``): under the
null P(p ≤ a) ≈ 2a, so it is not a two-sided p. Every local result also
carries the two-sided p = min(2p, 1). Significance is decided per direction:
the tests in the upper direction (local Moran: positive local association,
the high-high and low-low clusters; Gi*: hot spots) form one family and those
in the lower direction (local Moran: the outliers; Gi*: cold spots) another;
in each family a test's one-sided p is ``p_sim`` where the observation lies
that way and 1 otherwise, and Benjamini–Hochberg keeps the false-discovery
rate of its claims at α (:func:`directional_fdr`). With P permutations the
smallest p is 1/(P + 1), and Benjamini–Hochberg over m regions rejects
nothing unless some p ≤ α/m: 999 permutations cannot make a region
significant among more than 50 at α = 0.05. So by default
(``permutations=None``) each local test is sequential (Besag & Clifford 1991):
every test gets :data:`FIRST` permutations; a test continues, in growing
batches, until :data:`STOP_AFTER` draws are at least as extreme as its
observation or it reaches :func:`needed_permutations` (m, α) = ⌈m/α⌉ − 1
draws, the fewest with which one region alone can be significant. A test
that reaches the end has exactly the p-value of that many permutations (the
counts only grow, so it never stopped early); one that stops has
p = (g + 1)/(L + 1) from its L draws, g ≥ :data:`STOP_AFTER` of them as
extreme, large by construction. Only the tests with small p-values pay for
the long runs. A fixed ``permutations=P`` runs P for every test, as esda
does; :func:`power_note` says when that many cannot reach significance.

Undefined results are NaN with a reason (``reason``: :data:`NO_VARIATION`
for a constant series, all-zero included, and :data:`NO_NEIGHBOURS` for a
region without neighbours), never a number and never significant. ``fdr``
applies the Benjamini–Hochberg false-discovery-rate control over the regions
of each series that have a p-value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from clusteratlas.errors import InputError
from clusteratlas.i18n import _

if TYPE_CHECKING:  # SciPy is imported where it is used: every command would pay for it (~0.2 s)
    import scipy.sparse as sp


def weights_from_libpysal(w, *, transform: str = "r") -> sp.csr_matrix:
    """A CSR matrix from a libpysal ``W`` or ``Graph`` (``transform`` 'r' row-standardises, 'b' binary)."""
    import scipy.sparse as sp

    if hasattr(w, "transform") and hasattr(w, "sparse") and not callable(w.transform):
        w = w.copy() if hasattr(w, "copy") else w
        w.transform = transform.upper()
        return sp.csr_matrix(w.sparse)
    if hasattr(w, "transform") and callable(w.transform):  # libpysal.graph.Graph
        return sp.csr_matrix(w.transform(transform.upper()).sparse)
    raise InputError(_("not a libpysal weights object"), value=type(w).__name__)


def _check(y: np.ndarray, w: sp.spmatrix) -> tuple[np.ndarray, sp.csr_matrix]:
    import scipy.sparse as sp

    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    w = sp.csr_matrix(w, dtype=np.float64)
    n = y.shape[0]
    if w.shape != (n, n):
        raise InputError(_("the weights do not match the regions"), value=(w.shape, n))
    if not np.isfinite(y).all():
        raise InputError(_("the values have missing or infinite entries"))
    if n < 3:
        raise InputError(_("spatial statistics need at least three regions"), value=n)
    if w.diagonal().any():
        raise InputError(_("the weights link regions to themselves; pass weights without self-links"))
    return y, w


def _standardise(y: np.ndarray) -> np.ndarray:
    """(y − mean) / std per column; a constant column becomes all zeros (no pattern to find)."""
    std = y.std(axis=0)
    return np.where(std > 0, (y - y.mean(axis=0)) / np.where(std > 0, std, 1.0), 0.0)


NO_VARIATION = "no variation"
NO_NEIGHBOURS = "no neighbours"

#: Permutations every local test gets (the esda default) before the sequential ones continue.
FIRST = 999
#: A sequential test stops once this many draws are at least as extreme as the observation.
STOP_AFTER = 20
#: Simulated values of one region held at once in the sequential stage (draws × neighbours × series).
_CELLS = 8_000_000


def needed_permutations(tests: int, alpha: float = 0.05) -> int:
    """The fewest permutations P with which one test alone can pass Benjamini–Hochberg over ``tests``
    tests at false-discovery rate ``alpha``: the smallest p, 1/(P + 1), is ≤ alpha / tests."""
    return max(FIRST, math.ceil(max(tests, 1) / alpha) - 1)


def power_shortfall(permutations: int, tests: int, alpha: float = 0.05) -> tuple[float, int, int] | None:
    """None when ``permutations`` can make one region significant after FDR over ``tests`` regions; else (the
    smallest p, how many regions would have to sit at it before any is significant, the permutations needed)."""
    smallest = 1.0 / (permutations + 1)
    if tests < 1 or smallest <= alpha / tests:
        return None
    return smallest, math.ceil(smallest * tests / alpha - 1e-9), needed_permutations(tests, alpha)


def power_note(permutations: int, tests: int, alpha: float = 0.05) -> str:
    """'' when ``permutations`` can make one region significant after FDR over ``tests`` regions, else why not:
    how small p can get, and how many regions would have to be that extreme before any is significant."""
    short = power_shortfall(permutations, tests, alpha)
    if short is None:
        return ""
    smallest, k, needed = short
    return (f"with {permutations:,} permutations the smallest p is {smallest:.3g}: after the false-discovery "
            f"control over {tests:,} regions no region is significant unless at least {k:,} are that extreme; "
            f"use {needed:,} or more, or the default (sequential)")


def directional_fdr(p: np.ndarray, upper: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """Benjamini–Hochberg in each direction: True where a folded one-sided p stays significant among the
    tests of its own direction (``upper``: the observation lies in the upper tail).

    In the upper family a test's one-sided p is ``p`` where ``upper`` and 1 elsewhere (the observation in
    the other tail is no evidence that way); the lower family likewise. Each family's claims then have a
    false-discovery rate of at most ``alpha``. Applied per column; NaN p-values are not tests.
    """
    p = np.asarray(p, dtype=np.float64)
    up = fdr(np.where(np.isfinite(p), np.where(upper, p, 1.0), np.nan), alpha)
    down = fdr(np.where(np.isfinite(p), np.where(upper, 1.0, p), np.nan), alpha)
    return (up & upper) | (down & ~upper)


def pseudo_p(at_least: np.ndarray, at_most: np.ndarray, permutations: int | np.ndarray) -> np.ndarray:
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
    for _perm in range(permutations):  # a loop over permutations; every series at once
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
    #: min(2 p_sim, 1), the two-sided p; ``permutations``: the draws each test used.
    p_two_sided: np.ndarray | None = None
    permutations: np.ndarray | None = None


def _neighbours(w: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return w.indptr, w.indices, w.data


def _random_ids(n: int, permutations: int, max_k: int, seed: int) -> np.ndarray:
    """permutations × max_k draws without replacement from range(n − 1), one row per permutation."""
    rng = np.random.default_rng(seed)
    if max_k == 0:
        return np.zeros((permutations, 0), dtype=np.int32)
    return np.argsort(rng.random((permutations, n - 1)), axis=1)[:, :max_k].astype(np.int32)


def _distinct_draws(rng: np.random.Generator, population: int, rows: int, k: int) -> np.ndarray:
    """rows × k draws without replacement from range(population), each row in random order.

    Independent uniform draws, with the rows that hold a repeat drawn again: each row is then uniform over
    the ordered k-tuples of distinct values, as the first k of a random permutation, without sorting a
    row of ``population`` random numbers (repeats are rare when k is far below the population).
    """
    out = rng.integers(0, population, size=(rows, k), dtype=np.int64) if k else np.zeros((rows, 0), np.int64)
    while k > 1:
        ordered = np.sort(out, axis=1)
        again = (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
        if not again.any():
            break
        out[again] = rng.integers(0, population, size=(int(again.sum()), k), dtype=np.int64)
    return out


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


Tally = Callable[[int, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _sequential(values: np.ndarray, w: sp.csr_matrix, tally: Tally, defined: np.ndarray, *,
                permutations: int | None, seed: int, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-sided folded p (regions × series), the permutations each test used, and whether the observation
    lies in the upper tail (fewer draws at least as large than at most as large).

    ``tally(i, columns, simulated lags (draws × columns))`` counts the draws at least / at most as large
    as region i's observed statistic. ``permutations`` None: sequential (see the module docstring);
    a number: that many for every test.
    """
    n, k = values.shape
    first = FIRST if permutations is None else permutations
    ge, le = np.zeros((n, k)), np.zeros((n, k))
    for i, cols, _lag, sim in _conditional_lags(values, w, first, seed):
        ge[i, cols], le[i, cols] = tally(i, np.arange(k)[cols], sim)
    used = np.full((n, k), float(first))
    if permutations is None:
        tests = int(defined.sum(axis=0).max()) if defined.size else 0
        most = needed_permutations(tests, alpha)
        active = defined & (np.minimum(ge, le) < STOP_AFTER)
        indptr, _, data = _neighbours(w)
        cards = np.diff(indptr)
        values32 = np.asarray(values, dtype=np.float32)
        rng = np.random.default_rng([seed, 7919])  # a stream of its own: the first stage's draws are not reused
        batch, done = first + 1, first
        while active.any() and done < most:
            size = min(batch, most - done)
            rids = _distinct_draws(rng, n - 1, size, int(cards.max()))  # one matrix of draws for every region
            for i in np.flatnonzero(active.any(axis=1)):
                cols = np.flatnonzero(active[i])
                ids = rids[:, :cards[i]]
                weights = data[indptr[i]:indptr[i + 1]].astype(np.float32)
                # the draws are among the other n − 1 regions; one row per series: np.take gathers fast
                others = np.ascontiguousarray(np.delete(values32[:, cols], i, axis=0).T)
                step = max(1, _CELLS // (cards[i] * cols.size))  # draws at once: bounded memory
                for start in range(0, size, step):
                    sim = (np.take(others, ids[start:start + step], axis=1) @ weights).T
                    a, b = tally(i, cols, sim)
                    ge[i, cols] += a
                    le[i, cols] += b
            used[active] += size
            done += size
            batch *= 2
            active &= np.minimum(ge, le) < STOP_AFTER
    return pseudo_p(ge, le, used), used, ge <= le


def local_moran(y: np.ndarray, w: sp.spmatrix, *, permutations: int | None = None, seed: int = 0,
                alpha: float = 0.05) -> LocalMoran:
    """Local Moran's I_i = (n − 1) z_i (Wz)_i / Σ z² for every region and column (esda's definition).

    ``p_sim`` is the folded one-sided p in the observation's direction (esda's), ``p_two_sided`` =
    min(2 p_sim, 1); ``significant`` keeps the false-discovery rate ``alpha`` within each direction
    (positive local association: the clusters; negative: the outliers), see :func:`directional_fdr`.
    ``permutations`` None: sequential, as many as a region needs to be significant alone (see the module
    docstring); a number: that many.

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
    zmax = np.abs(z).max(axis=0)

    def tally(i: int, cols: np.ndarray, sim: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # I_sim vs I_obs  ⇔  z_i · lag_sim vs z_i · lag_obs (scale > 0). The simulation runs in float32:
        # values within its rounding (≈ 1e-6 of |z_i| · max|z|) are ties
        zi = z[i, cols]
        obs = zi * lag[i, cols]
        tol = 1e-6 * (np.abs(obs) + np.abs(zi) * zmax[cols])
        return _tally(zi * sim, obs, tol)

    p, used, upper = _sequential(z, w, tally, defined, permutations=permutations, seed=seed, alpha=alpha)
    p = np.where(defined, p, np.nan)
    significant = directional_fdr(p, upper, alpha) & defined
    reason = _reasons(z.shape, den == 0, isolated)
    return LocalMoran(stat, quadrant, p, significant, reason, np.minimum(2 * p, 1.0), np.where(defined, used, 0))


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
    #: min(2 p_sim, 1), the two-sided p; ``permutations``: the draws each test used.
    p_two_sided: np.ndarray | None = None
    permutations: np.ndarray | None = None


def getis_ord_star(y: np.ndarray, w: sp.spmatrix, *, permutations: int | None = None, seed: int = 0,
                   alpha: float = 0.05) -> LocalG:
    """Gi* = (y_i + Σ_j w_ij y_j) / Σ_j y_j with binary weights plus the region itself (esda's star form).

    ``y`` must be ≥ 0 (e.g. employment or LQ). z-scores use esda's analytical
    moments; the pseudo p-value holds y_i fixed and draws the neighbours
    (one-sided folded ``p_sim``, ``p_two_sided`` and ``permutations`` as in
    :func:`local_moran`).

    Undefined (NaN, never significant, with a reason): z and p of a constant
    series (no variation; Gi* itself too when the series is all zero, 0/0),
    and Gi*, z and p of a region without neighbours (only its own value).
    """
    import scipy.sparse as sp

    y, w = _check(y, w)
    if (y < 0).any():
        raise InputError(_("Getis–Ord G needs values ≥ 0"), value=float(y.min()))
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
    ymax = y.max(axis=0)

    def tally(i: int, cols: np.ndarray, sim: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sims = (sim + y[i, cols].astype(np.float32)) / safe_total[cols].astype(np.float32)
        obs = stat[i, cols]
        tol = 1e-6 * (np.abs(obs) + card[i, 0] * ymax[cols] / safe_total[cols])  # float32 rounding
        return _tally(sims, obs, tol)

    p, used, upper = _sequential(y, binary, tally, defined, permutations=permutations, seed=seed, alpha=alpha)
    p = np.where(defined, p, np.nan)
    significant = directional_fdr(p, upper, alpha) & defined  # hot spots and cold spots, each at FDR alpha
    reason = _reasons(y.shape, constant, isolated)
    return LocalG(stat, zs, p, significant, reason, np.minimum(2 * p, 1.0), np.where(defined, used, 0))
