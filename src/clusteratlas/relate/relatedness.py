"""Relatedness between industries from co-location, and what follows from it.

M is the binary presence matrix (region r is specialised in industry i when
RCA ≥ 1). Co-occurrence C = MᵀM counts the regions specialised in both
industries; k_i = C_ii is the ubiquity of i. All products run in float64
(BLAS): an integer MᵀM bypasses BLAS and is hundreds of times slower.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from clusteratlas.errors import InputError
from clusteratlas.i18n import _

Normalisation = Literal["min_conditional", "cosine", "association", "jaccard"]


def presence(rca_values: np.ndarray, threshold: float = 1.0, *, strict: bool = False) -> np.ndarray:
    """M_ri = 1 where RCA ≥ threshold (``strict``: RCA > threshold, as Stata's ecomplexity), else 0 (float64)."""
    values = np.asarray(rca_values)
    return (values > threshold if strict else values >= threshold).astype(np.float64)


def cooccurrence(m: np.ndarray) -> np.ndarray:
    """C = MᵀM: for each industry pair, the number of regions specialised in both."""
    m = np.asarray(m, dtype=np.float64)
    return m.T @ m


def proximity(m: np.ndarray, method: Normalisation = "min_conditional") -> np.ndarray:
    """Relatedness of every industry pair from co-occurrence of specialisations.

    - ``min_conditional`` (Hidalgo et al. 2007): C_ij / max(k_i, k_j), the
      smaller of the two conditional probabilities;
    - ``cosine``: C_ij / √(k_i k_j);
    - ``association`` (probabilistic affinity): C_ij · n / (k_i k_j), observed
      over expected co-occurrence if specialisations were independent
      (n = number of regions); 1 = as expected;
    - ``jaccard``: C_ij / (k_i + k_j − C_ij).

    The diagonal is kept as computed (1 for all but ``association``), as
    ecomplexity does, so densities agree with it. Pairs involving an industry
    no region specialises in are 0.
    """
    m = np.asarray(m, dtype=np.float64)
    c = cooccurrence(m)
    k = np.diag(c).copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "min_conditional":
            out = c / np.maximum(k[:, None], k[None, :])
        elif method == "cosine":
            out = c / np.sqrt(np.outer(k, k))
        elif method == "association":
            out = c * m.shape[0] / np.outer(k, k)
        elif method == "jaccard":
            out = c / (k[:, None] + k[None, :] - c)
        else:
            raise InputError(_("unknown relatedness normalisation"), value=method,
                             expected=_("min_conditional, cosine, association or jaccard"))
    return np.nan_to_num(out, nan=0.0, posinf=0.0)


def colocation_correlation(values: np.ndarray) -> np.ndarray:
    """Pearson correlation, across regions, of industries' shares of regional employment.

    The co-location measure behind "related clusters" views (Delgado, Porter
    & Stern): industries whose employment shares rise and fall together
    across regions are related. An industry with constant shares gets 0.
    """
    from clusteratlas.relate.matrix import shares

    s = shares(np.asarray(values, dtype=np.float64), axis=1)
    centred = s - s.mean(axis=0)
    norm = np.sqrt((centred**2).sum(axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = (centred.T @ centred) / np.outer(norm, norm)
    return np.nan_to_num(corr, nan=0.0)


def related(prox: np.ndarray, item: int, top: int = 10) -> np.ndarray:
    """Indices of the ``top`` items most related to ``item`` (itself excluded), strongest first."""
    scores = np.array(prox[item], dtype=np.float64)
    scores[item] = -np.inf
    order = np.argsort(-scores, kind="stable")
    return order[:top]


def density(m: np.ndarray, prox: np.ndarray, *, own_proximity: bool = True) -> np.ndarray:
    """Relatedness density ω_ri = Σ_j M_rj φ_ji / Σ_j φ_ji: how close region r is to industry i.

    "What could we grow into next": a high density for an industry the region
    is not yet specialised in means many related specialisations are present.
    Undefined (NaN) for an industry related to nothing (Σ_j φ_ji = 0, e.g. one
    no region specialises in): 0/0, not "no relatedness".

    The sums run over every j, i itself included (φ_ii = 1), as the Python
    ecomplexity package does; ``own_proximity=False`` leaves i out (j ≠ i), as
    the Stata ecomplexity package does (its proximity is φ − I).
    """
    prox = np.array(prox, dtype=np.float64)
    if not own_proximity:
        np.fill_diagonal(prox, 0.0)
    col = prox.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        weights = np.where(col > 0, prox / np.where(col > 0, col, 1.0), 0.0)
    out = np.asarray(m, dtype=np.float64) @ weights
    out[:, col <= 0] = np.nan
    return out


def entries_exits(m_before: np.ndarray, m_after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Specialisations gained (entry) and lost (exit) between two years, as 0/1 matrices."""
    if np.shape(m_before) != np.shape(m_after):
        raise InputError(_("the two years' matrices must have the same regions and industries"))
    before, after = np.asarray(m_before) > 0, np.asarray(m_after) > 0
    return (~before & after).astype(np.float64), (before & ~after).astype(np.float64)
