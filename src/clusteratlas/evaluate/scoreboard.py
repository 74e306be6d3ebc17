"""Composite scoreboards: normalise indicators, weigh them, aggregate, rank, and test the ranks' sensitivity.

The method behind IMD's competitiveness ranking (4 factors × 5 sub-factors)
and the EU's regional scoreboards (OECD/JRC Handbook on Constructing
Composite Indicators, 2008):

1. **normalise** each indicator across units: ``minmax`` to [0, 1], ``zscore``
   (mean 0, standard deviation 1), or ``rank`` (1 = lowest, ties averaged),
   flipping indicators where lower is better;
2. **weigh** them (equal weights by default; weights are rescaled to sum to 1);
3. **aggregate**: ``arithmetic`` (a weighted mean: full compensation between
   indicators) or ``geometric`` (a weighted geometric mean of min-max scores
   shifted to [ε, 1]: a weak indicator is compensated less);
4. optionally in two stages, indicators into pillars and pillars into the index;
5. **rank** (1 = best);
6. **sensitivity**: redraw the weights many times (Dirichlet around the
   chosen ones) and report each unit's median rank and its 5th–95th
   percentile range, so a reader sees which ranks are robust.

A unit with a missing indicator is scored on the indicators it has (the
weights of the others are shared out among them), and the count of missing
values is reported beside its score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from clusteratlas.errors import InputError
from clusteratlas.i18n import _

NORMALISATIONS = ("minmax", "zscore", "rank")
AGGREGATIONS = ("arithmetic", "geometric")
_EPSILON = 0.01  # the floor of min-max scores before a geometric mean, so a minimum does not zero the index


def normalise(values: np.ndarray, method: str = "minmax", *, higher_is_better: np.ndarray | None = None) -> np.ndarray:
    """Normalise each column of a units × indicators matrix (NaN = missing stays NaN)."""
    if method not in NORMALISATIONS:
        raise InputError(_("unknown normalisation"), value=method, expected=", ".join(NORMALISATIONS))
    x = np.array(values, dtype=float)
    if higher_is_better is not None:
        x = np.where(np.asarray(higher_is_better, dtype=bool)[None, :], x, -x)
    out = np.full_like(x, np.nan)
    for j in range(x.shape[1]):
        col = x[:, j]
        ok = ~np.isnan(col)
        if ok.sum() == 0:
            continue
        v = col[ok]
        if method == "minmax":
            span = v.max() - v.min()
            out[ok, j] = (v - v.min()) / span if span > 0 else 0.5
        elif method == "zscore":
            sd = v.std(ddof=0)
            out[ok, j] = (v - v.mean()) / sd if sd > 0 else 0.0
        else:
            out[ok, j] = rankdata(v, method="average")
    return out


def aggregate(scores: np.ndarray, weights: np.ndarray, method: str = "arithmetic") -> np.ndarray:
    """Weighted arithmetic or geometric mean per row, over the indicators each unit has."""
    if method not in AGGREGATIONS:
        raise InputError(_("unknown aggregation"), value=method, expected=", ".join(AGGREGATIONS))
    w = np.broadcast_to(np.asarray(weights, dtype=float), scores.shape)
    present = ~np.isnan(scores)
    w = np.where(present, w, 0.0)
    total = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "arithmetic":
            out = (np.where(present, scores, 0.0) * w).sum(1)
            return np.where(total > 0, out / total, np.nan)
        if np.nanmin(scores) < 0:
            raise InputError(_("a geometric mean needs non-negative scores"), hint=_("Use --normalise minmax or rank"))
        logs = np.where(present, np.log(np.maximum(scores, 0.0) * (1 - _EPSILON) + _EPSILON), 0.0)
        return np.where(total > 0, np.exp((logs * w).sum(1) / total), np.nan)


@dataclass
class Scoreboard:
    """The composite index: units, scores, ranks (1 = best), missing counts, and pillar scores when grouped."""

    units: list[str]
    score: np.ndarray
    rank: np.ndarray
    missing: np.ndarray
    pillars: dict[str, np.ndarray]
    weights: dict[str, float]


def composite(units: list[str], indicators: list[str], values: np.ndarray, *, weights: dict[str, float] | None = None,
              normalisation: str = "minmax", aggregation: str = "arithmetic",
              lower_is_better: set[str] | None = None, pillars: dict[str, str] | None = None) -> Scoreboard:
    """Build the index. ``pillars`` maps an indicator to its pillar: indicators are aggregated into
    pillars first (equal weight within the pillar unless weights say otherwise), then pillars into the
    index (weights of pillars by name, equal by default)."""
    values = np.asarray(values, dtype=float)
    if values.shape != (len(units), len(indicators)):
        raise InputError(_("the value matrix does not match the units and indicators"),
                         value=f"{values.shape} for {len(units)} × {len(indicators)}")
    if len(units) < 2:
        raise InputError(_("a scoreboard needs at least two units to compare"))
    weights = dict(weights or {})
    unknown = set(weights) - set(indicators) - set((pillars or {}).values())
    if unknown:
        raise InputError(_("weights for unknown indicators or pillars"), value=", ".join(sorted(unknown)),
                         expected=", ".join(indicators))
    if any(w < 0 for w in weights.values()):
        raise InputError(_("negative weight"), value=min(weights.values()), expected=_("weights of 0 or more"))
    better = np.array([i not in (lower_is_better or set()) for i in indicators])
    norm = normalise(values, normalisation, higher_is_better=better)
    pillar_scores: dict[str, np.ndarray] = {}
    if pillars:
        missing_pillar = [i for i in indicators if i not in pillars]
        if missing_pillar:
            raise InputError(_("indicators without a pillar"), value=", ".join(missing_pillar))
        names = sorted(set(pillars.values()), key=list(pillars.values()).index)
        for p in names:
            idx = [k for k, i in enumerate(indicators) if pillars[i] == p]
            w = np.array([weights.get(indicators[k], 1.0) for k in idx])
            pillar_scores[p] = aggregate(norm[:, idx], w, aggregation)
        stage = np.column_stack([pillar_scores[p] for p in names])
        if normalisation == "zscore" and aggregation == "geometric":
            raise InputError(_("a geometric mean needs non-negative scores"), hint=_("Use --normalise minmax or rank"))
        top = np.array([weights.get(p, 1.0) for p in names])
        score = aggregate(stage, top, aggregation)
        used = {p: float(w) for p, w in zip(names, top / top.sum(), strict=True)}
    else:
        w = np.array([weights.get(i, 1.0) for i in indicators])
        if w.sum() == 0:
            raise InputError(_("all weights are 0"))
        score = aggregate(norm, w, aggregation)
        used = {i: float(x) for i, x in zip(indicators, w / w.sum(), strict=True)}
    return Scoreboard(list(units), score, _rank(score), np.isnan(values).sum(axis=1), pillar_scores, used)


def _rank(score: np.ndarray) -> np.ndarray:
    """Ranks with 1 = highest score; ties share the best rank; units without a score rank last."""
    filled = np.where(np.isnan(score), -np.inf, score)
    return rankdata(-filled, method="min").astype(int)


@dataclass
class Sensitivity:
    """Rank statistics over random weights: median and the 5th–95th percentile range per unit."""

    median: np.ndarray
    low: np.ndarray
    high: np.ndarray
    draws: int


def sensitivity(units: list[str], indicators: list[str], values: np.ndarray, *, draws: int = 1000,
                concentration: float = 20.0, seed: int = 0, **options) -> Sensitivity:
    """Ranks under top-level weights (of indicators, or of pillars when grouped) drawn from a Dirichlet
    centred on the chosen ones (higher ``concentration`` = closer to them); every other choice of
    :func:`composite` is kept."""
    if draws < 10:
        raise InputError(_("too few draws for a sensitivity check"), value=draws, expected=_("10 or more"))
    base = composite(units, indicators, values, **options)
    keys = list(base.weights)
    centre = np.array([base.weights[k] for k in keys])
    rng = np.random.default_rng(seed)
    ranks = np.empty((draws, len(units)))
    for d in range(draws):
        w = rng.dirichlet(np.maximum(centre, 1e-9) * concentration * len(keys))
        drawn_weights = {**(options.get("weights") or {}), **dict(zip(keys, w, strict=True))}
        drawn = composite(units, indicators, values, **{**options, "weights": drawn_weights})
        ranks[d] = drawn.rank
    return Sensitivity(np.median(ranks, axis=0), np.percentile(ranks, 5, axis=0), np.percentile(ranks, 95, axis=0),
                       draws)
