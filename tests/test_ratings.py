"""The peer quantiles behind the stars and the strong clusters: the same on DuckDB and on Polars, and equal to
numpy's linear percentiles, with ties, zeros and missing values."""

from __future__ import annotations

import duckdb
import narwhals as nw
import numpy as np
import polars as pl
import pytest

from clusteratlas.metrics.params import MapParams
from clusteratlas.metrics.ratings import peer_thresholds


def _rows(seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    n = 6000
    frame = pl.DataFrame({
        "level": rng.choice(["county", "state"], n),
        "year": rng.choice([2019, 2020], n).astype(np.int32),
        "cluster": rng.choice([f"c{i}" for i in range(7)], n),
        "employment": rng.choice([0.0, 5.0, 12.0, 80.0, 410.5], n) * rng.integers(0, 3, n),  # ties and zeros
        "share_of_region": rng.random(n),
        "average_wage": np.where(rng.random(n) < 0.2, np.nan, rng.lognormal(10, 0.4, n)),
        "establishments": rng.integers(0, 40, n).astype(np.float64),
        "establishment_cells": rng.integers(0, 3, n),
        "lq_within_type": rng.lognormal(0, 0.8, n),
    })
    return frame.with_columns(pl.col("average_wage").fill_nan(None))  # missing wages, as null


@pytest.mark.parametrize("seed", [1, 2])
def test_peer_thresholds_agree_across_engines_and_with_numpy(seed):
    params = MapParams()
    frame = _rows(seed)
    con = duckdb.connect()
    con.register("rows_", frame.to_arrow())
    rows = nw.from_native(con.sql("SELECT * FROM rows_"))
    key = ["level", "year", "cluster"]
    a = peer_thresholds(rows, params).collect().to_polars().sort(key)
    assert a.height > 20
    # Polars interpolates with another formula: equal to the last bit or two
    on_polars = peer_thresholds(nw.from_native(frame.lazy()), params).collect().to_polars().sort(key)
    assert a.columns == on_polars.columns and a.height == on_polars.height
    for column in a.columns:
        for x, y in zip(a[column].to_list(), on_polars[column].to_list(), strict=True):
            assert x == y or (x is not None and y is not None and abs(x - y) <= 1e-12 * abs(y)), (column, x, y)
    # numpy's linear percentile (type 7) of one group, by hand
    group = frame.filter((pl.col("level") == "county") & (pl.col("year") == 2020) & (pl.col("cluster") == "c3")
                         & (pl.col("employment") > 0))
    row = a.filter((pl.col("level") == "county") & (pl.col("year") == 2020) & (pl.col("cluster") == "c3")).row(
        0, named=True)
    assert row["peers"] == group.height
    assert row["_size_cut"] == pytest.approx(np.percentile(group["employment"].to_numpy(), 100 * (1 - params.size_top)))
    assert row["_lq_strong"] == pytest.approx(np.percentile(group["lq_within_type"].to_numpy(),
                                                            100 * params.strong_quantile))
    wages = group["average_wage"].drop_nulls().to_numpy()
    assert row["_wage_cut"] == pytest.approx(np.percentile(wages, 100 * (1 - params.productivity_top)))
    assert row["_peer_est_cells"] == group["establishment_cells"].sum()
