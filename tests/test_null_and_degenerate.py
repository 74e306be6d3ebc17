"""Statistics on null data and degenerate input (issue 9): no false significance, NaN with a reason.

- permutation p-values count ties as at least as extreme (one helper for every test);
- random values with many ties on a lattice give (almost) no FDR-significant region;
- constant and all-zero series, regions without neighbours, all-zero regions and
  industries give NaN with a reason, never a number;
- on CBP 2019 metros (CBSA neighbours from the US Cluster Mapping Project's MSA
  outlines), metros with no Biopharmaceutical jobs and none next door are not cold spots.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from clusteratlas.relate.spatial import (
    NO_NEIGHBOURS,
    NO_VARIATION,
    fdr,
    getis_ord_star,
    local_moran,
    moran,
    pseudo_p,
    weights_from_libpysal,
)
from tests.conftest import shared_file

libpysal = pytest.importorskip("libpysal")


# ------------------------------------------------------------------ the p-value rule
def test_pseudo_p_counts_ties_as_extreme():
    # 999 draws, all equal to the observation: nothing is more typical
    assert pseudo_p(999, 999, 999) == 1.0
    # the observation at the bottom, 600 draws tie it, 399 above: 600 at most as large
    assert pseudo_p(999, 600, 999) == pytest.approx(601 / 1000)
    # no ties: the folded esda value (min(#≥, #<) + 1) / (P + 1)
    assert pseudo_p(3, 996, 999) == pytest.approx(4 / 1000)
    assert pseudo_p(996, 3, 999) == pytest.approx(4 / 1000)


def test_fdr_leaves_out_undefined_tests():
    # BH over the three defined p-values only: thresholds 0.0167, 0.0333, 0.05
    p = np.array([0.01, np.nan, 0.03, np.nan, 0.04])
    assert fdr(p).tolist() == [True, False, True, False, True]
    assert not fdr(np.array([np.nan, np.nan])).any()


# ------------------------------------------------------------------ null data
@pytest.fixture(scope="module")
def null_lattice():
    """10 % ones on a 30 × 30 queen lattice: random values with many ties (the issue's example)."""
    w = libpysal.weights.lat2W(30, 30, rook=False)
    rng = np.random.default_rng(2024)
    y = (rng.random((900, 12)) < 0.10).astype(float)
    return weights_from_libpysal(w), weights_from_libpysal(w, transform="b"), y


def test_null_local_statistics_find_almost_nothing(null_lattice):
    w, binary, y = null_lattice
    lisa = local_moran(y, w, permutations=999, seed=3)
    gstar = getis_ord_star(y, binary, permutations=999, seed=3)
    # the issue measured 44 regions (local Moran) and 390 (Gi*) per series before the fix
    assert lisa.significant.mean() <= 0.01
    assert gstar.significant.mean() <= 0.01
    # valid folded p-values (one side, the observation's; esda's): under the null P(p ≤ a) ≤ 2a,
    # and ties only make them more conservative, never liberal
    for p in (lisa.p_sim, gstar.p_sim):
        assert np.isfinite(p).all()
        for a in (0.01, 0.05, 0.2):
            assert (p <= a).mean() <= 2 * a
    # a region with no one among its neighbours and none itself is the typical region, not a cold spot
    empty = (y == 0) & ((binary @ y) == 0)
    assert empty.sum() > 1000 and (gstar.p_sim[empty] > 0.2).all()


def test_null_global_moran_finds_almost_nothing(null_lattice):
    w, _, _ = null_lattice
    y = (np.random.default_rng(7).random((900, 200)) < 0.10).astype(float)
    glob = moran(y, w, permutations=499, seed=5)
    assert fdr(glob.p_sim).mean() <= 0.01
    assert (glob.p_sim <= 0.05).mean() <= 0.15  # folded: about 2 × 5 % of 200 series under the null


# ------------------------------------------------------------------ degenerate input
def test_constant_and_zero_series_have_no_statistic():
    w = libpysal.weights.lat2W(5, 5, rook=True)
    rw, bw = weights_from_libpysal(w), weights_from_libpysal(w, transform="b")
    y = np.column_stack([np.full(25, 3.0), np.zeros(25), np.arange(25.0)])
    glob = moran(y, rw, permutations=99)
    assert np.isnan(glob.I[:2]).all() and np.isnan(glob.p_sim[:2]).all()
    assert glob.reason.tolist() == [NO_VARIATION, NO_VARIATION, ""]
    assert np.isfinite(glob.I[2]) and glob.p_sim[2] == pytest.approx(1 / 100)
    lisa = local_moran(y, rw, permutations=99)
    assert np.isnan(lisa.Is[:, :2]).all() and np.isnan(lisa.p_sim[:, :2]).all()
    assert (lisa.quadrant[:, :2] == 0).all() and not lisa.significant[:, :2].any()
    assert (lisa.reason[:, :2] == NO_VARIATION).all() and (lisa.reason[:, 2] == "").all()
    gstar = getis_ord_star(y, bw, permutations=99)
    assert np.isnan(gstar.Gs[:, 1]).all()  # all zero: 0 / 0
    assert gstar.Gs[0, 0] == pytest.approx(3 / 25)  # constant: Gi* is defined (the corner's share)...
    assert np.isnan(gstar.Zs[:, :2]).all() and np.isnan(gstar.p_sim[:, :2]).all()  # ...but not its test
    assert not gstar.significant[:, :2].any() and (gstar.reason[:, :2] == NO_VARIATION).all()


def test_regions_without_neighbours_have_no_statistic():
    w = sp.csr_matrix(np.array([[0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0]], dtype=float))
    y = np.array([[1.0], [2.0], [4.0], [8.0]])
    lisa = local_moran(y, w, permutations=9)
    assert np.isnan(lisa.Is[3, 0]) and np.isnan(lisa.p_sim[3, 0]) and lisa.quadrant[3, 0] == 0
    assert lisa.reason[:, 0].tolist() == ["", "", "", NO_NEIGHBOURS]
    assert np.isfinite(lisa.Is[:3, 0]).all() and np.isfinite(lisa.p_sim[:3, 0]).all()
    gstar = getis_ord_star(y, w, permutations=9)
    assert np.isnan([gstar.Gs[3, 0], gstar.Zs[3, 0], gstar.p_sim[3, 0]]).all()
    assert gstar.reason[3, 0] == NO_NEIGHBOURS and not gstar.significant[3, 0]
    alone = moran(y, sp.csr_matrix((4, 4)), permutations=9)
    assert np.isnan(alone.I).all() and alone.reason.tolist() == [NO_NEIGHBOURS]


# ------------------------------------------------------------------ real data
def _cbsa_clusters_and_neighbours():
    """CBSA × cluster employment (CBP 2019, NAICS-2017 six digits) and binary CBSA contiguity.

    Neighbours: shared outlines of the US Cluster Mapping Project's MSA layer
    (942 areas; the 2019 CBSAs it lacks have no neighbours here).
    """
    import duckdb

    from clusteratlas.reference.geometry import contiguity

    cbp = shared_file("us/cbp2019_cbsa_naics2017_emp_est.csv.gz")
    crosswalk = shared_file("clusters/naics_to_cluster_subcluster_noco_redi.csv")
    geometry = shared_file("geo/cmp_counties_eas_msas.topojson.json")
    con = duckdb.connect()
    rows = con.sql(f"""SELECT o.cbsa_code, coalesce(c.Cluster, '(none)'), sum(o.emp)
        FROM read_csv('{cbp}', types={{'cbsa_code': 'VARCHAR', 'naics_code': 'VARCHAR'}}) o
        LEFT JOIN read_csv('{crosswalk}', types={{'NAICS': 'VARCHAR'}}) c ON c.NAICS = o.naics_code
        WHERE o.naics_level = 6 GROUP BY ALL""").fetchall()
    regions = sorted({r[0] for r in rows})
    items = sorted({r[1] for r in rows})
    r_pos, i_pos = {r: k for k, r in enumerate(regions)}, {c: k for k, c in enumerate(items)}
    values = np.zeros((len(regions), len(items)))
    for region, item, emp in rows:
        values[r_pos[region], i_pos[item]] += emp
    links = [(r_pos[p["region"]], r_pos[p["neighbor"]]) for p in contiguity(geometry, layer="msas").to_pylist()
             if p["region"] in r_pos and p["neighbor"] in r_pos]
    a, b = np.array(links).T
    binary = sp.csr_matrix((np.ones(len(a)), (a, b)), shape=(len(regions), len(regions)))
    return values, items, binary


@pytest.mark.realdata
def test_cbp2019_metros_without_biopharma_are_not_cold_spots():
    from clusteratlas.relate import rca

    values, items, binary = _cbsa_clusters_and_neighbours()
    assert values.shape[0] == 933
    lq = rca(values)[:, [items.index("Biopharmaceuticals")]]
    gstar = getis_ord_star(lq, binary, permutations=999, seed=0)
    isolated = np.diff(binary.indptr) == 0
    empty = (lq[:, 0] == 0) & ((binary @ lq[:, 0]) == 0) & ~isolated
    assert empty.sum() > 400  # the 411 metros with no jobs and none next door
    assert not gstar.significant[empty, 0].any()  # before: every one of them a "cold spot" (p = 0.001)
    assert (gstar.p_sim[empty, 0] > 0.2).all()
    assert isolated.sum() > 50 and (gstar.reason[isolated, 0] == NO_NEIGHBOURS).all()
    assert np.isnan(gstar.p_sim[isolated, 0]).all() and np.isfinite(gstar.p_sim[~isolated, 0]).all()


def test_concentration_indices_are_undefined_on_empty_regions_and_industries():
    from clusteratlas.relate import (
        coagglomeration,
        ellison_glaeser,
        entropy,
        gini,
        herfindahl,
        hoover,
        krugman,
        locational_gini,
        lorenz,
    )

    # region 3 and industry 3 have no employment
    e = np.array([[30.0, 10.0, 0.0], [10.0, 50.0, 0.0], [0.0, 0.0, 0.0]])
    # before: Krugman 1.0 for the empty region; locational Gini 1.0, Hoover 0.5, a finite γ for the empty industry
    assert np.isnan(krugman(e)[2]) and np.isfinite(krugman(e)[:2]).all()
    assert np.isnan(herfindahl(e)[2]) and np.isnan(herfindahl(e, axis=0)[2])
    assert np.isnan(entropy(e, groups=np.array(["a", "a", "b"]))["related_variety"][2])
    assert np.isnan(entropy(e)["total_variety"][2])
    assert np.isnan(hoover(e)[2]) and np.isnan(locational_gini(e)[2]) and np.isnan(lorenz(e, 2)[1]).all()
    gamma = ellison_glaeser(e, np.array([0.1, 0.1, 0.1]))
    assert np.isnan(gamma[2]) and np.isfinite(gamma[:2]).all()
    co = coagglomeration(e)
    assert np.isnan(co[2]).all() and np.isnan(co[:, 2]).all() and np.isfinite(co[:2, :2]).all()
    assert np.isnan(gini(np.zeros(4)))
    # all employment in one region: the region shares x have no spread (1 − Σx² = 0)
    one = np.array([[5.0, 7.0], [0.0, 0.0]])
    assert np.isnan(ellison_glaeser(one, np.array([0.2, 0.2]))).all() and np.isnan(coagglomeration(one)).all()
