"""Map classes: how a map's values are cut into the colours of its legend.

One pure function, :func:`map_classes`, chooses the classes of every map (the cluster page, the home page, the
API's map layer and the static edition ask it alike), so that the same numbers always get the same legend:

* **LQ** has fixed breaks around 1 (< 0.8, 0.8–1.25, 1.25–2, ≥ 2): whatever the cluster or the level, an LQ of
  3.2 is never in the class of 0.7, and the legend never reads "0.96 – 0.96" (quantiles of LQs close to 1).
* **Growth** (a rate or a change) diverges around 0: symmetric breaks, rounded, with 0 always a break.
* **Stars** and yes/no ratings (strong, significant…) are categories.
* **Anything else** (employment, wages, counts) has quantiles whose bounds are rounded to as few significant
  digits as keep them distinct (whole numbers when every value is whole); a class no region falls in is dropped.
* **LISA**: significant hot spots (high-high) and cold spots (low-low) of a stored ``hotspots`` run.

A map without a defined class (no value, one region, every region alike, no hot-spot run) gets no breaks and a
``reason`` saying why, never a made-up legend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

SCHEMES = ("auto", "lq", "quantiles", "lisa")
#: The fixed LQ breaks: below 0.8 under-represented, 0.8–1.25 about the reference economy's share, 1.25–2
#: specialised, 2 and more highly specialised (the European Cluster Observatory's specialisation star).
LQ_BREAKS = (0.8, 1.25, 2.0)
YES_NO = ("strong", "strong10", "significant", "qualifying", "size", "specialization", "focus")
STARS = ("stars", "eocic_stars")


@dataclass(frozen=True)
class Classes:
    """The classes of a map.

    Attributes
    ----------
    scheme
        ``lq`` (fixed breaks around 1), ``quantiles``, ``diverging`` (around 0), ``stars``, ``yes-no`` or
        ``lisa``.
    kind
        How to colour them: ``sequential``, ``diverging`` or ``categorical``.
    breaks
        Ascending bounds between classes: class *i* holds ``breaks[i-1] <= v < breaks[i]`` (so there are
        ``len(breaks) + 1`` classes). Empty when the classes are undefined (see ``reason``) or categorical.
    digits
        The decimals that show every bound distinctly (the legend's labels are formatted with them).
    percent
        Whether the values are rates shown as percentages (growth).
    reason, reason_values
        Why there are no classes (or no hot spot): an English sentence with ``{placeholders}`` (the pages
        translate it) and its values; None when the classes are defined.
    regions
        For ``lisa``: ``{"hot": [...], "cold": [...]}``, the regions of each category.
    whole
        Every value is a whole number (counts): a class ``[2, 5)`` can be read "2 – 4".
    """

    scheme: str
    kind: str
    breaks: list[float] = field(default_factory=list)
    digits: int = 0
    percent: bool = False
    reason: str | None = None
    reason_values: dict[str, Any] = field(default_factory=dict)
    regions: dict[str, list[str]] = field(default_factory=dict)
    whole: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"scheme": self.scheme, "kind": self.kind, "breaks": self.breaks, "digits": self.digits,
                "percent": self.percent, "reason": self.reason.format(**self.reason_values) if self.reason
                else None, "reason_template": self.reason, "reason_values": self.reason_values,
                "regions": self.regions, "whole": self.whole}


def resolve_scheme(metric: str, scheme: str = "auto") -> str:
    """The scheme ``auto`` stands for with ``metric`` (``lq``, ``stars``, ``yes-no``, ``diverging`` or
    ``quantiles``); an explicit ``lq``, ``quantiles`` or ``lisa`` as asked."""
    if scheme != "auto":
        return scheme
    if metric in ("lq", "lq_within_type"):
        return "lq"
    if metric in STARS:
        return "stars"
    if metric in YES_NO:
        return "yes-no"
    if metric.endswith("_cagr") or metric.endswith("_change") or metric.startswith("growth"):
        return "diverging"
    return "quantiles"


def _finite(values: list[Any]) -> list[float]:
    out = []
    for v in values:
        if v is None or isinstance(v, str):
            continue
        f = float(v)
        if math.isfinite(f):
            out.append(f)
    return out


def _round_sig(x: float, sig: int) -> float:
    if x == 0:
        return 0.0
    return round(x, sig - 1 - math.floor(math.log10(abs(x))))


def _decimals(x: float, sig: int) -> int:
    """Decimals that show ``x`` rounded to ``sig`` significant digits (0 for whole numbers)."""
    if x == 0 or float(x).is_integer():
        return 0
    return max(0, sig - 1 - math.floor(math.log10(abs(x))))


def _quantile(sorted_values: list[float], p: float) -> float:
    """The ``p`` quantile (linear interpolation between order statistics, numpy's default)."""
    h = (len(sorted_values) - 1) * p
    lo = math.floor(h)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (h - lo) * (sorted_values[hi] - sorted_values[lo])


def _undefined(scheme: str, kind: str, values: list[float], percent: bool = False) -> Classes | None:
    """The reason a data-driven scheme has no classes (no value, one region, all alike), else None."""
    if not values:
        return Classes(scheme, kind, percent=percent, reason="no region has a value")
    if len(values) == 1:
        return Classes(scheme, kind, percent=percent, reason="one region only: no classes to compare it with",
                       reason_values={"value": values[0]})
    if min(values) == max(values):
        return Classes(scheme, kind, percent=percent, reason="every region has the same value ({value})",
                       reason_values={"value": values[0]})
    return None


def quantile_classes(values: list[Any], k: int = 5) -> Classes:
    """Quantile classes with distinct, rounded bounds.

    The bounds are the ``k``-quantiles rounded to the fewest significant digits (2 at least) that keep as many
    distinct bounds as the raw quantiles have (so the legend never reads "0.96 – 0.96"), rounded up to whole
    numbers when every value is whole (employment, counts). A bound no value lies below or at or above, and a
    class no value falls in, are dropped: every class of the legend holds at least one region.
    """
    v = sorted(_finite(values))
    if (undefined := _undefined("quantiles", "sequential", v)) is not None:
        return undefined
    lo, hi = v[0], v[-1]
    raw = sorted({q for q in (_quantile(v, i / k) for i in range(1, k)) if lo < q <= hi})
    whole = all(x.is_integer() for x in v)
    breaks: list[float] = []
    sig = 2
    for sig in range(2, 16):
        rounded = [_round_sig(q, sig) for q in raw]
        if whole:
            rounded = [float(math.ceil(q)) for q in rounded]
        breaks = sorted({b for b in rounded if lo < b <= hi})
        if len(breaks) == len(raw):
            break
    kept: list[float] = []
    for b in breaks:  # every class keeps a region: [previous bound, b) must hold one
        below = kept[-1] if kept else -math.inf
        if any(below <= x < b for x in v):
            kept.append(b)
    if kept and not any(x >= kept[-1] for x in v):
        kept.pop()
    digits = max((_decimals(b, sig) for b in kept), default=0)
    return Classes("quantiles", "sequential", kept, digits, whole=whole)


def _nice(x: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k not below ``x`` (a round bound for a diverging scale)."""
    power = 10 ** math.floor(math.log10(x))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= x * (1 - 1e-12):
            return step * power
    return 10 * power  # pragma: no cover


def diverging_classes(values: list[Any], percent: bool = True) -> Classes:
    """Six classes symmetric around 0 (< −m, −m…−m/2, −m/2…0, 0…m/2, m/2…m, ≥ m), ``m`` the 90th percentile of
    the absolute values rounded up to 1, 2, 2.5 or 5 × 10^k: a fall and a rise of the same size get the same
    depth of colour on the two sides of 0."""
    v = sorted(_finite(values))
    if (undefined := _undefined("diverging", "diverging", v, percent)) is not None:
        return undefined
    size = _quantile(sorted(abs(x) for x in v), 0.9) or max(abs(x) for x in v)
    m = _nice(size)
    breaks = [-m, -m / 2, 0.0, m / 2, m]
    shown = [b * 100 for b in breaks] if percent else breaks
    digits = max(next(d for d in range(12) if abs(round(b, d) - b) < 1e-9 * abs(b)) for b in shown if b)
    return Classes("diverging", "diverging", breaks, digits, percent)


def lisa_classes(quadrants: dict[str, tuple[int, bool]] | None, *, level: str = "", cluster: str = "") -> Classes:
    """Hot spots (significant high-high) and cold spots (significant low-low) from a stored run's
    ``{region: (quadrant, significant)}`` (quadrant 1 high-high, 3 low-low); ``None`` when there is no run."""
    if quadrants is None:
        return Classes("lisa", "categorical", reason="no hot-spot analysis of {cluster} at the level {level}: "
                       "run 'clusteratlas hotspots --level {level}'", reason_values={"cluster": cluster,
                                                                                       "level": level})
    hot = sorted(r for r, (q, s) in quadrants.items() if s and q == 1)
    cold = sorted(r for r, (q, s) in quadrants.items() if s and q == 3)
    reason, values = None, {}
    if not hot:
        reason = "no hot spot: none of the {n} regions is a significant high-high cluster of {cluster}"
        values = {"n": len(quadrants), "cluster": cluster}
    return Classes("lisa", "categorical", reason=reason, reason_values=values, regions={"hot": hot, "cold": cold})


def map_classes(values: list[Any], metric: str, scheme: str = "auto") -> Classes:
    """The classes of a map of ``metric`` (see the module's text); ``scheme`` ``auto`` picks by metric.

    ``lisa`` needs a hot-spot run: use :func:`lisa_classes`.
    """
    chosen = resolve_scheme(metric, scheme)
    percent = metric.endswith("_cagr") or metric.startswith("share")
    if chosen == "lq":
        if not _finite(values):
            return Classes("lq", "sequential", reason="no region has a value")
        return Classes("lq", "sequential", list(LQ_BREAKS), 2)
    if chosen == "stars":
        return Classes("stars", "categorical", [1.0, 2.0, 3.0], 0)
    if chosen == "yes-no":
        return Classes("yes-no", "categorical", [1.0], 0)
    if chosen == "diverging":
        return diverging_classes(values, percent=percent)
    if chosen == "quantiles":
        found = quantile_classes(values)
        if percent and found.breaks:
            digits = max(_decimals(_round_sig(b * 100, 2), 2) for b in found.breaks)
            return Classes(found.scheme, found.kind, found.breaks, digits, True)
        return Classes(found.scheme, found.kind, found.breaks, found.digits, percent, found.reason,
                       found.reason_values, whole=found.whole)
    raise ValueError(f"unknown scheme {scheme!r}: use lisa_classes for hot spots")
