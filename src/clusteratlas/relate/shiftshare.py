"""Shift-share decomposition of employment change between two years.

For region r and industry i with employment e0 (start) and e1 (end), national
(reference) growth g = E1/E0 − 1 and industry growth g_i = E1_i/E0_i − 1,
regional industry growth g_ri = e1_ri/e0_ri − 1:

Classic (Dunn 1960): e1 − e0 = NS + IM + RS with
  national share  NS = e0 · g
  industry mix    IM = e0 · (g_i − g)
  regional share  RS = e0 · (g_ri − g_i)        (the competitive effect)

Esteban-Marquillas (1972) splits RS with the homothetic employment
ê_ri = e0_r · E0_i / E0 (what the region would have with the national mix):
  competitive effect  CE = ê · (g_ri − g_i)
  allocation effect   AE = (e0 − ê) · (g_ri − g_i)
so that RS = CE + AE. Cells with e0 = 0 have no growth rate: their whole
change counts as regional share (and allocation).
"""

from __future__ import annotations

import numpy as np

from clusteratlas.errors import InputError
from clusteratlas.i18n import _


def _rates(start: np.ndarray, end: np.ndarray) -> tuple[float, np.ndarray]:
    e0_total = start.sum()
    if e0_total <= 0:
        raise InputError(_("the start year has no employment"))
    g = end.sum() / e0_total - 1.0
    col0, col1 = start.sum(axis=0), end.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        gi = np.where(col0 > 0, col1 / col0 - 1.0, 0.0)
    return g, gi


def shift_share(start: np.ndarray, end: np.ndarray) -> dict[str, np.ndarray]:
    """Dunn and Esteban-Marquillas components for every region × industry cell.

    Returns arrays shaped like the inputs: ``change``, ``national_share``,
    ``industry_mix``, ``regional_share``, ``homothetic``, ``competitive``,
    ``allocation``. Sum over axis 1 for regional totals.
    """
    start, end = np.asarray(start, dtype=np.float64), np.asarray(end, dtype=np.float64)
    if start.shape != end.shape:
        raise InputError(_("the two years need the same regions and industries"), value=(start.shape, end.shape))
    g, gi = _rates(start, end)
    change = end - start
    ns = start * g
    im = start * (gi - g)[None, :]
    rs = change - ns - im  # = e0 (g_ri − g_i) where e0 > 0, the whole remainder where e0 = 0
    homothetic = start.sum(axis=1, keepdims=True) * start.sum(axis=0, keepdims=True) / start.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        differential = np.where(start > 0, end / start - 1.0 - gi[None, :], 0.0)
    competitive = homothetic * differential
    allocation = rs - competitive
    return {"change": change, "national_share": ns, "industry_mix": im, "regional_share": rs,
            "homothetic": homothetic, "competitive": competitive, "allocation": allocation}
