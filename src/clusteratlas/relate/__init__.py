"""Relatedness, complexity, concentration and shift-share on region × industry matrices.

Pure NumPy/SciPy functions on dense float64 matrices (rows = regions,
columns = industries or clusters); :func:`to_matrix` builds one from long data.
"""

from clusteratlas.relate.complexity import (
    CONVENTIONS,
    Complexity,
    Convention,
    components,
    eci_pci,
    get_convention,
    outlook,
)
from clusteratlas.relate.concentration import (
    coagglomeration,
    ellison_glaeser,
    entropy,
    gini,
    herfindahl,
    hoover,
    krugman,
    locational_gini,
    lorenz,
    plant_herfindahl_from_counts,
    rca,
    rca_population,
)
from clusteratlas.relate.matrix import Matrix, shares, to_matrix
from clusteratlas.relate.relatedness import (
    colocation_correlation,
    cooccurrence,
    density,
    entries_exits,
    presence,
    proximity,
    related,
)
from clusteratlas.relate.shiftshare import shift_share
from clusteratlas.relate.spatial import (
    GlobalMoran,
    LocalG,
    LocalMoran,
    fdr,
    getis_ord_star,
    local_moran,
    moran,
    weights_from_libpysal,
)

__all__ = [
    "CONVENTIONS",
    "Complexity",
    "Convention",
    "GlobalMoran",
    "LocalG",
    "LocalMoran",
    "Matrix",
    "coagglomeration",
    "colocation_correlation",
    "components",
    "cooccurrence",
    "density",
    "eci_pci",
    "ellison_glaeser",
    "entries_exits",
    "entropy",
    "fdr",
    "get_convention",
    "getis_ord_star",
    "gini",
    "herfindahl",
    "hoover",
    "krugman",
    "local_moran",
    "locational_gini",
    "lorenz",
    "moran",
    "outlook",
    "plant_herfindahl_from_counts",
    "presence",
    "proximity",
    "rca",
    "rca_population",
    "related",
    "shares",
    "shift_share",
    "to_matrix",
    "weights_from_libpysal",
]
