"""Specialisation, concentration and diversity indices on a region × industry matrix.

E is the employment matrix (regions × industries); e_r its row totals, E_i
its column totals, E the grand total. Definitions follow the textbook forms
that EconGeo (Balland) documents; each function says which.

Undefined is NaN, never a number: an index of a region with no employment
(e_r = 0) or of an industry with none (E_i = 0) divides 0 by 0, and so is
NaN (reason :data:`NO_EMPLOYMENT`), as are the indices that need employment
in more than one region when all of it sits in one (reason
:data:`ONE_REGION`). docs/methods.md has the table. A matrix that is all
zeros is refused.
"""

from __future__ import annotations

import numpy as np

from clusteratlas.errors import InputError
from clusteratlas.i18n import _
from clusteratlas.relate.matrix import shares

NO_EMPLOYMENT = "no employment"
ONE_REGION = "all employment in one region"


def _undefined(out: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """``out`` with NaN where the region's or industry's total employment is 0."""
    return np.where(totals > 0, out, np.nan)


def _check(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.size == 0:
        raise InputError(_("a non-empty region × industry matrix is needed"), value=values.shape)
    if not np.isfinite(values).all() or (values < 0).any():
        raise InputError(_("the matrix has negative, infinite or missing values"))
    if values.sum() == 0:
        raise InputError(_("the matrix is all zeros"))
    return values


def rca(values: np.ndarray) -> np.ndarray:
    """Balassa's revealed comparative advantage (= location quotient): (e_ri / e_r) / (E_i / E).

    0 where a region has no employment; 0 for an industry with none.
    """
    values = _check(values)
    region_share = shares(values, axis=1)
    reference = values.sum(axis=0) / values.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        out = region_share / reference
    return np.where(reference > 0, out, 0.0)


def rca_population(values: np.ndarray, population: np.ndarray) -> np.ndarray:
    """RCA against population ("RPOP"): (e_ri / pop_r) / (E_i / POP)."""
    values = _check(values)
    population = np.asarray(population, dtype=np.float64)
    if population.shape != (values.shape[0],) or (population <= 0).any():
        raise InputError(_("population must be positive, one value per region"), value=population.shape)
    per_head = values / population[:, None]
    reference = values.sum(axis=0) / population.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        out = per_head / reference
    return np.where(reference > 0, out, 0.0)


def herfindahl(values: np.ndarray, axis: int = 1) -> np.ndarray:
    """Hirschman–Herfindahl index: Σ share². axis=1: of each region's industries
    (specialisation); axis=0: of each industry's regions (concentration).
    NaN for a region (industry) with no employment."""
    values = _check(values)
    return _undefined((shares(values, axis=axis) ** 2).sum(axis=axis), values.sum(axis=axis))


def krugman(values: np.ndarray) -> np.ndarray:
    """Krugman specialisation index per region: Σ_i |e_ri / e_r − E_i / E| (0 to 2); NaN with no employment."""
    values = _check(values)
    out = np.abs(shares(values, axis=1) - values.sum(axis=0) / values.sum()).sum(axis=1)
    return _undefined(out, values.sum(axis=1))


def hoover(values: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """Hoover coefficient of localisation per industry: ½ Σ_r |e_ri / E_i − w_r|.

    w_r is the region's share of the reference (default: of total employment;
    pass population for the Hoover index of concentration). 0 = spread like
    the reference, 1 = all in regions the reference does not have. NaN for
    an industry with no employment.
    """
    values = _check(values)
    weight = values.sum(axis=1) if reference is None else np.asarray(reference, dtype=np.float64)
    if weight.shape != (values.shape[0],) or weight.sum() <= 0 or (weight < 0).any():
        raise InputError(_("the reference must be ≥ 0 with one value per region"), value=weight.shape)
    out = 0.5 * np.abs(shares(values, axis=0) - (weight / weight.sum())[:, None]).sum(axis=0)
    return _undefined(out, values.sum(axis=0))


def gini(x: np.ndarray) -> float:
    """Gini coefficient of a non-negative vector (0 = equal, → 1 = concentrated).

    G = Σ_i Σ_j |x_i − x_j| / (2 n² mean), computed in O(n log n) from the sorted values.
    NaN for an all-zero vector (mean 0: 0/0).
    """
    x = np.sort(np.asarray(x, dtype=np.float64))
    if x.size == 0 or (x < 0).any() or not np.isfinite(x).all():
        raise InputError(_("Gini needs finite values ≥ 0"), value=x.size)
    total = x.sum()
    if total == 0:
        return float("nan")
    n = x.size
    ranks = np.arange(1, n + 1)
    return float((2 * (ranks * x).sum()) / (n * total) - (n + 1) / n)


def _lorenz_curves(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lorenz curves of every industry at once: (regions + 1) × industries arrays x and y.

    Regions are ordered by ascending LQ in each column (one RCA matrix, one sort
    per column); y is NaN in the columns of industries with no employment.
    """
    order = np.argsort(rca(values), axis=0, kind="stable")
    total = values.sum(axis=1)
    ind = np.take_along_axis(values, order, axis=0)
    zeros = np.zeros((1, values.shape[1]))
    x = np.vstack([zeros, np.cumsum(total[order], axis=0) / total.sum()])
    sums = ind.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.vstack([zeros, np.cumsum(ind, axis=0) / sums])
    y[:, sums == 0] = np.nan
    return x, y


def lorenz(values: np.ndarray, industry: int) -> tuple[np.ndarray, np.ndarray]:
    """Lorenz curve of one industry against total employment (regions by ascending LQ).

    Returns the cumulative share of total employment (x) and of the industry (y),
    both starting at 0; the locational Gini is the area between it and the diagonal × 2.
    An industry with no employment has no curve: y is NaN.
    """
    x, y = _lorenz_curves(_check(values))
    return x[:, industry], y[:, industry]


def locational_gini(values: np.ndarray) -> np.ndarray:
    """Krugman's locational Gini per industry: 1 − Σ_k (x_k − x_{k−1})(y_k + y_{k−1}).

    0 when the industry is spread like total employment; towards 1 when it
    sits in regions with little of the economy. NaN for an industry with no
    employment (its Lorenz curve is 0/0). All industries in one pass: one RCA
    matrix and one sort per column (not an RCA matrix per industry).
    """
    x, y = _lorenz_curves(_check(values))
    return 1.0 - np.sum(np.diff(x, axis=0) * (y[1:] + y[:-1]), axis=0)


def entropy(values: np.ndarray, groups: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Diversity per region as entropy (bits): total, unrelated and related variety.

    Frenken, Van Oort & Verburg (2007): with s_i the industry shares of a
    region and S_g the share of group g (e.g. the 2-digit parent of a 4-digit
    code), unrelated variety UV = Σ_g S_g log2(1/S_g), related variety
    RV = Σ_g S_g H_g with H_g = Σ_{i∈g} (s_i/S_g) log2(S_g/s_i), and total
    variety TV = Σ_i s_i log2(1/s_i) = UV + RV. Without groups only TV.
    NaN for a region with no employment.
    """
    values = _check(values)
    s = shares(values, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(s > 0, s * np.log2(1.0 / s), 0.0)
    regional = values.sum(axis=1)
    out = {"total_variety": _undefined(term.sum(axis=1), regional)}
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != (values.shape[1],):
            raise InputError(_("one group per industry is needed"), value=groups.shape)
        labels, idx = np.unique(groups, return_inverse=True)
        group_share = np.zeros((values.shape[0], len(labels)))
        np.add.at(group_share.T, idx, s.T)
        with np.errstate(divide="ignore", invalid="ignore"):
            uv = np.where(group_share > 0, group_share * np.log2(1.0 / group_share), 0.0).sum(axis=1)
        out["unrelated_variety"] = _undefined(uv, regional)
        out["related_variety"] = out["total_variety"] - out["unrelated_variety"]
    return out


def ellison_glaeser(values: np.ndarray, plant_herfindahl: np.ndarray) -> np.ndarray:
    """Ellison–Glaeser agglomeration index γ per industry.

    γ_i = (G_i − (1 − Σ_r x_r²) H_i) / ((1 − Σ_r x_r²)(1 − H_i)), with
    G_i = Σ_r (s_ri − x_r)², s_ri the region's share of industry i, x_r its
    share of all employment, and H_i the Herfindahl of the industry's plant
    sizes. Official tables rarely give plant sizes: with only establishment
    counts N_i, pass ``1 / N_i`` (all plants of equal size), which is what
    :func:`plant_herfindahl_from_counts` does; say so when reporting γ.

    NaN for an industry with no employment (G is 0/0), and for every
    industry when all employment is in one region (1 − Σ x² = 0).
    """
    values = _check(values)
    h = np.asarray(plant_herfindahl, dtype=np.float64)
    if h.shape != (values.shape[1],) or (h < 0).any() or (h >= 1).any():
        raise InputError(_("one plant Herfindahl in [0, 1) per industry is needed"), value=h.shape)
    x = values.sum(axis=1) / values.sum()
    g = ((shares(values, axis=0) - x[:, None]) ** 2).sum(axis=0)
    spread = 1.0 - (x**2).sum()
    if spread <= 1e-15:
        return np.full(values.shape[1], np.nan)
    return _undefined((g - spread * h) / (spread * (1.0 - h)), values.sum(axis=0))


def plant_herfindahl_from_counts(establishments: np.ndarray) -> np.ndarray:
    """1 / N per industry: the plant Herfindahl if all N establishments were equal in size."""
    n = np.asarray(establishments, dtype=np.float64)
    n = n.sum(axis=0) if n.ndim == 2 else n
    if (n <= 1).any():
        raise InputError(_("each industry needs more than one establishment for γ"), value=float(n.min()))
    return 1.0 / n


def coagglomeration(values: np.ndarray) -> np.ndarray:
    """Ellison–Glaeser co-agglomeration of every industry pair (simplified form).

    γ^c_ij = Σ_r (s_ri − x_r)(s_rj − x_r) / (1 − Σ_r x_r²), the form of
    Ellison, Glaeser & Kerr (2010). One matrix product, no loop. NaN for
    pairs with an industry without employment, and for all pairs when all
    employment is in one region.
    """
    values = _check(values)
    x = values.sum(axis=1) / values.sum()
    dev = shares(values, axis=0) - x[:, None]
    spread = 1.0 - (x**2).sum()
    if spread <= 1e-15:
        return np.full((values.shape[1], values.shape[1]), np.nan)
    has = values.sum(axis=0) > 0
    return np.where(has[:, None] & has[None, :], (dev.T @ dev) / spread, np.nan)
