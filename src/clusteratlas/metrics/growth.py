"""Growth of employment between years: absolute change and CAGR.

CAGR(start, end) = (e_end / e_start) ** (1 / (end - start)) - 1, defined
only where e_start > 0 and end > start. A region × cluster with no row in
the base year has no growth figure (null), rather than an assumed zero.
"""

from __future__ import annotations

import narwhals as nw

from clusteratlas.metrics._engine import safe_ratio


def cagr(end: nw.Expr, start: nw.Expr, years: nw.Expr) -> nw.Expr:
    """Compound annual growth rate; null where undefined."""
    ratio = safe_ratio(end, start)
    return nw.when((years > 0) & (start > 0)).then(ratio ** (1.0 / years) - 1.0)


def add_growth(rows: nw.LazyFrame, keys: list[str], *, base_year: int | None = None,
               source: nw.LazyFrame | None = None) -> nw.LazyFrame:
    """Add growth since the base year to every row.

    ``keys`` identify a series (e.g. level, region, cluster). The base year
    defaults to the earliest year in ``rows``. Base-year employment is read
    from ``source`` (default ``rows``): pass a cheaper frame with the same
    series and employment so an expensive ``rows`` plan is not run twice.
    Adds ``base_year``, ``employment_base``, ``employment_change`` and
    ``employment_cagr``.
    """
    if base_year is None:
        first = rows.select(nw.col("year").min().alias("base_year"))
        rows = rows.join(first, how="cross")
    else:
        rows = rows.with_columns(nw.lit(base_year, dtype=nw.Int32).alias("base_year"))
    if source is None:
        base = rows.filter(nw.col("year") == nw.col("base_year"))
    else:
        base = source.filter(nw.col("year") == (base_year if base_year is not None
                                                else source.select(nw.col("year").min()).collect().item()))
    base = base.select(*keys, nw.col("employment").alias("employment_base"))
    out = rows.join(base, on=keys, how="left")
    years = nw.col("year") - nw.col("base_year")
    return out.with_columns(
        (nw.col("employment") - nw.col("employment_base")).alias("employment_change"),
        cagr(nw.col("employment"), nw.col("employment_base"), years).alias("employment_cagr"),
    )


def growth_between(rows: nw.LazyFrame, keys: list[str], start: int, end: int) -> nw.LazyFrame:
    """Employment change and CAGR of every series between two given years."""
    first = rows.filter(nw.col("year") == start).select(*keys, nw.col("employment").alias("employment_start"))
    last = rows.filter(nw.col("year") == end).select(*keys, nw.col("employment").alias("employment_end"))
    both = first.join(last, on=keys, how="full", suffix="_r")
    both = both.with_columns(nw.coalesce(nw.col(k), nw.col(f"{k}_r")).alias(k) for k in keys)
    both = both.drop(*(f"{k}_r" for k in keys))
    return both.with_columns(
        nw.lit(start).alias("start_year"), nw.lit(end).alias("end_year"),
        (nw.col("employment_end") - nw.col("employment_start")).alias("employment_change"),
        cagr(nw.col("employment_end"), nw.col("employment_start"), nw.lit(end - start))
        .alias("employment_cagr"),
    )
