"""Parameters of the cluster-mapping metrics, with their rules declared once.

Each parameter states its allowed range next to its published default, and
one check (:func:`MapParams.__post_init__`) enforces them all, so the CLI,
the Python API and any later interface reject the same values the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from clusteratlas.errors import InputError
from clusteratlas.i18n import _

#: (low, high, inclusive) bounds for each numeric parameter.
_BOUNDS: dict[str, tuple[float, float, bool]] = {
    "size_top": (0.0, 1.0, False),
    "focus_top": (0.0, 1.0, False),
    "productivity_top": (0.0, 1.0, False),
    "specialisation_lq": (0.0, 1e6, False),
    "strong_quantile": (0.0, 1.0, True),
    "strong10_quantile": (0.0, 1.0, True),
    "significant_quantile": (0.0, 1.0, True),
    "qualifying_quantile": (0.0, 1.0, True),
    "size_quantile": (0.0, 1.0, True),
    "min_lq": (0.0, 1e6, True),
}


@dataclass(frozen=True)
class MapParams:
    """Thresholds of the European Cluster Observatory stars and the US strong clusters.

    Defaults are the published rules. ``size_top`` / ``focus_top`` /
    ``productivity_top`` are the share of peer regions that earn the star
    (0.10 = top 10 %); the US quantiles are those of the US Cluster Mapping
    Project's code (P25 size floor, P25/P50/P75/P90 on the LQ).

    ``peer_levels`` sets the comparison set: by default each level's regions
    are compared with the regions of the same level; ``{"custom":
    "economic_area"}`` rates custom regions against the thresholds of the
    economic areas, as the US Cluster Mapping Project does.
    """

    size_top: float = 0.10
    specialisation_lq: float = 2.0
    focus_top: float = 0.10
    productivity_top: float = 0.10
    strong_quantile: float = 0.75
    strong10_quantile: float = 0.90
    significant_quantile: float = 0.50
    qualifying_quantile: float = 0.25
    size_quantile: float = 0.25
    min_lq: float = 1.0
    base_year: int | None = None
    by_subcluster: bool = False
    peer_levels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for level, peer in self.peer_levels.items():
            if not level or not peer or level == peer:
                raise InputError(_("bad comparison set"), value=f"{level}={peer}",
                                 expected=_("LEVEL=OTHER_LEVEL, e.g. custom=economic_area"))
        for f in fields(self):
            if f.name not in _BOUNDS:
                continue
            value = getattr(self, f.name)
            low, high, inclusive = _BOUNDS[f.name]
            ok = isinstance(value, int | float) and (
                low <= value <= high if inclusive else low < value < high
            )
            if not ok:
                bracket = "[]" if inclusive else "()"
                raise InputError(_("parameter {name} out of range").format(name=f.name), value=value,
                                 expected=_("a number in {value}{low:g}, {high:g}{value2}").format(
                                     value=bracket[0], low=low, high=high, value2=bracket[1]))
