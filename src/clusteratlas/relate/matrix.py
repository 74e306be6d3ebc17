"""Region × industry matrices: the input of every relatedness and complexity measure.

The measures work on dense float64 NumPy matrices (rows = regions, columns =
industries or clusters). :func:`to_matrix` builds one from long data with no
Python loop over rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from clusteratlas.errors import InputError
from clusteratlas.i18n import _


@dataclass(frozen=True)
class Matrix:
    """A labelled region × industry matrix."""

    values: np.ndarray
    regions: np.ndarray
    industries: np.ndarray

    def __post_init__(self) -> None:
        if self.values.shape != (len(self.regions), len(self.industries)):
            raise ValueError("values shape does not match the labels")


def to_matrix(table: pa.Table, *, region: str = "region", industry: str = "industry",
              value: str = "employment") -> Matrix:
    """Pivot long data (one row per region × industry) to a dense matrix.

    Missing combinations are 0; repeated combinations are summed. Negative,
    infinite or missing values are refused.
    """
    for col in (region, industry, value):
        if col not in table.column_names:
            raise InputError(_("column '{col}' is missing").format(col=col), expected=", ".join(table.column_names))
    vals = table[value].to_numpy(zero_copy_only=False).astype(np.float64)
    if table.num_rows == 0:
        raise InputError(_("no rows to build a region × industry matrix from"))
    bad = ~np.isfinite(vals) | (vals < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(_("value is not a finite number ≥ 0"), column=value, value=vals[i],
                         hint=_("row {value}: region {value2}, industry {value3}").format(
                             value=i + 1, value2=table[region][i].as_py(), value3=table[industry][i].as_py()))
    regions, r_idx = np.unique(table[region].to_numpy(zero_copy_only=False).astype(str), return_inverse=True)
    inds, i_idx = np.unique(table[industry].to_numpy(zero_copy_only=False).astype(str), return_inverse=True)
    flat = np.bincount(r_idx * len(inds) + i_idx, weights=vals, minlength=len(regions) * len(inds))
    return Matrix(flat.reshape(len(regions), len(inds)), regions, inds)


def shares(values: np.ndarray, axis: int) -> np.ndarray:
    """Each cell's share of its row (axis=1) or column (axis=0) total; 0 where the total is 0."""
    totals = values.sum(axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = values / totals
    return np.where(totals > 0, out, 0.0)
