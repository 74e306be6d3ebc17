"""Imputation of withheld (suppressed) employment cells.

Official tables withhold cells to protect respondents. US County Business
Patterns gives a size class (A-M) instead; :func:`impute_suppressed` fills
such cells with the class midpoint the US Cluster Mapping Project uses
(:data:`clusteratlas.reference.size_classes.SIZE_CLASS_MIDPOINTS`) and flags
them ``imputed``.

With ``parents`` (published totals of parent industries), the imputed
children of each parent are rescaled so that reported + imputed children
add up to the published parent: imputed_i = midpoint_i × R / Σ midpoints,
where R = parent − Σ reported children (floored at 0). That constraint is
clusteratlas's option; the US Cluster Mapping Project does not apply it.
"""

from __future__ import annotations

import narwhals as nw

from clusteratlas import model
from clusteratlas.reference.size_classes import SIZE_CLASS_MIDPOINTS


def _midpoint_expr() -> nw.Expr:
    # Narwhals has no chained when; nest otherwise() instead.
    expr: nw.Expr = nw.lit(None, dtype=nw.Float64)
    for letter, value in reversed(list(SIZE_CLASS_MIDPOINTS.items())):
        expr = nw.when(nw.col("size_class") == letter).then(float(value)).otherwise(expr)
    return expr


def impute_suppressed(observations: nw.LazyFrame, *, parents: nw.LazyFrame | None = None,
                      parent_of: nw.LazyFrame | None = None) -> nw.LazyFrame:
    """Fill withheld employment from size classes; flag the filled rows ``imputed``.

    Parameters
    ----------
    observations
        Rows with employment, flag and size_class columns.
    parents
        Optional published parent totals: region, industry (the parent code),
        year, employment.
    parent_of
        With ``parents``: industry → parent (columns industry, parent).

    Rows with a null employment and a size class get the class midpoint
    (or the constrained share); rows without a size class stay null and
    keep their ``suppressed`` flag.
    """
    names = observations.collect_schema().names()
    if "size_class" not in names:
        return observations
    withheld = nw.col("employment").is_null() & ~nw.col("size_class").is_null()
    rows = observations.with_columns(
        nw.when(withheld).then(_midpoint_expr()).alias("_mid"),
        withheld.alias("_withheld"),
    )
    if parents is not None:
        if parent_of is None:
            raise ValueError("parent_of is required with parents")
        rows = _constrain(rows, parents, parent_of)
    else:
        rows = rows.with_columns(nw.col("_mid").alias("_fill"))
    return rows.with_columns(
        nw.when(nw.col("_withheld")).then(nw.col("_fill")).otherwise(nw.col("employment")).alias("employment"),
        nw.when(nw.col("_withheld")).then(nw.lit(model.FLAG_IMPUTED)).otherwise(nw.col("flag")).alias("flag"),
    ).drop("_mid", "_withheld", "_fill")


def _constrain(rows: nw.LazyFrame, parents: nw.LazyFrame, parent_of: nw.LazyFrame) -> nw.LazyFrame:
    keyed = rows.join(parent_of.select("industry", "parent"), on="industry", how="left")
    group = ["region", "parent", "year"]
    sums = keyed.group_by(*group).agg(
        nw.when(~nw.col("_withheld")).then(nw.col("employment")).otherwise(0.0).sum().alias("_reported"),
        nw.col("_mid").sum().alias("_mid_sum"),
    )
    published = parents.select("region", nw.col("industry").alias("parent"), "year",
                               nw.col("employment").alias("_parent_emp"))
    residual = nw.col("_parent_emp") - nw.col("_reported")
    scaled = nw.when(residual > 0).then(residual).otherwise(0.0) * nw.col("_mid") / nw.col("_mid_sum")
    out = (keyed.join(sums, on=group, how="left").join(published, on=group, how="left")
           .with_columns(nw.when(~nw.col("_parent_emp").is_null() & (nw.col("_mid_sum") > 0))
                         .then(scaled).otherwise(nw.col("_mid")).alias("_fill")))
    return out.drop("parent", "_reported", "_mid_sum", "_parent_emp")
