"""Data-driven cluster definitions: planted groups recovered; validation scores hand-worked."""

from __future__ import annotations

import numpy as np
import pytest

from clusteratlas.errors import InputError
from clusteratlas.relate.definitions import derive_clusters, io_linkage, relatedness, validation_scores


def _economy(seed=0, regions=120, groups=6, per_group=8):
    """Industries of a group share a regional factor, so they co-locate."""
    rng = np.random.default_rng(seed)
    factor = rng.lognormal(0, 1.0, size=(regions, groups))
    truth = np.repeat(np.arange(groups), per_group)
    size = rng.lognormal(8, 0.5, size=(regions, 1))
    noise = rng.lognormal(0, 0.2, size=(regions, groups * per_group))
    return size * factor[:, truth] * noise, truth


def _same_partition(a, b):
    """True when two labelings group the items identically (names aside)."""
    pairs_a = np.equal.outer(a, a)
    pairs_b = np.equal.outer(b, b)
    return bool((pairs_a == pairs_b).all())


def test_planted_groups_are_recovered():
    values, truth = _economy()
    result = derive_clusters(values, k=6)
    assert _same_partition(result.labels, truth)
    assert result.scores["combined"]["vs_industry"] == 1.0
    assert result.scores["colocation"]["vs_cluster"] == 1.0


def test_k_search_finds_the_planted_number():
    values, truth = _economy(seed=1, groups=5)
    result = derive_clusters(values, k_range=(2, 12))
    assert result.k == 5 and _same_partition(result.labels, truth)


def test_k_search_never_mixes_unrelated_industries():
    """Over 24 planted economies: never a cluster mixing groups; most partitions exact (measured 18/24)."""
    exact = 0
    for seed in range(8):
        for groups in (4, 6, 9):
            values, truth = _economy(seed=seed, groups=groups)
            labels = derive_clusters(values, k_range=(2, 15)).labels
            assert all(len(set(truth[labels == c])) == 1 for c in set(labels)), (seed, groups)
            exact += _same_partition(labels, truth)
    assert exact >= 18


def test_validation_scores_hand_worked():
    # four industries, two obvious pairs: {0, 1} and {2, 3}
    link = np.array([[1, .9, .1, .2], [.9, 1, .2, .1], [.1, .2, 1, .8], [.2, .1, .8, 1]])
    good = validation_scores(np.array([1, 1, 2, 2]), link)
    assert good["vs_industry"] == 1.0 and good["vs_cluster"] == 1.0
    assert good["margin"] == pytest.approx(((.9 - .15) * 2 + (.8 - .15) * 2) / 4)
    # a bad split: industry 0 with 2 (link .1) while its link to {1, 3} averages .55
    bad = validation_scores(np.array([1, 2, 1, 2]), link)
    assert bad["vs_industry"] == 0.0 and bad["vs_cluster"] == 0.0
    # singletons fail: {0, 1} passes; 2 and 3 alone do not
    split = validation_scores(np.array([1, 1, 2, 3]), link)
    assert split["vs_industry"] == 0.5 and split["vs_cluster"] == pytest.approx(1 / 3)


def test_io_linkage_and_combination():
    flows = np.array([[0.0, 30, 10], [0, 0, 0], [5, 5, 0]])
    link = io_linkage(flows)
    assert link[0, 1] == pytest.approx(30 / 35)  # 30 of industry 1's 35 of purchases come from 0
    assert link[0, 2] == pytest.approx(max(10 / 40, 5 / 10, 10 / 10, 5 / 35))
    values, _ = _economy(groups=2, per_group=2)
    links = relatedness(values, io_flows=np.ones((4, 4)))
    assert {"colocation", "input_output"} <= set(links)
    with pytest.raises(InputError):
        derive_clusters(values, k=2, io_flows=np.ones((3, 3)))


def test_bad_requests():
    values, _ = _economy()
    with pytest.raises(InputError):
        derive_clusters(values)
    with pytest.raises(InputError):
        derive_clusters(values, k=1)
    with pytest.raises(InputError):
        derive_clusters(values[:2], k=3)


# --- relatedness measures, checked by hand on small inputs ---------------------------------------------------

def test_occupation_similarity_by_hand():
    from clusteratlas.relate.definitions import occupation_linkage

    # shares: [.5, .5, 0], [.5, .5, 0], [0, .5, .5]; the last two deviate by (1/6, 1/6, -1/3) and
    # (-1/3, 1/6, 1/6): covariance -1/12 (× 1/3), variances 1/6 (× 1/3) → correlation -0.5
    link = occupation_linkage(np.array([[2.0, 2, 0], [1, 1, 0], [0, 1, 1]]))
    assert link[0, 1] == pytest.approx(1.0)
    assert link[0, 2] == pytest.approx(-0.5)
    assert np.isnan(occupation_linkage(np.array([[1.0, 1], [0, 0], [1, 0]]))[0, 1])  # no occupation data


def test_coagglomeration_uses_all_employment_by_hand():
    from clusteratlas.relate.concentration import coagglomeration
    from clusteratlas.relate.definitions import coagglomeration_with_totals

    e = np.array([[6.0, 3], [2, 1], [2, 6]])
    # regions hold 40, 40, 20 of all employment: x = (.4, .4, .2), Σx² = .36
    # s_A = (.6, .2, .2), s_B = (.3, .1, .6): deviations (.2, -.2, 0), (-.1, -.3, .4)
    got = coagglomeration_with_totals(e, np.array([40.0, 40, 20]))
    assert got[0, 1] == pytest.approx((.2 * -.1 + -.2 * -.3 + 0) / (1 - .36))
    assert got[0, 0] == pytest.approx((.04 + .04) / .64)
    # without totals it is the library's coagglomeration of the matrix itself
    assert coagglomeration_with_totals(e) == pytest.approx(coagglomeration(e))


def test_log_lq_correlation_by_hand():
    from scipy.stats import pearsonr

    from clusteratlas.relate.definitions import colocation_measures, log_lq_correlation
    from clusteratlas.relate.relatedness import colocation_correlation

    e = np.array([[6.0, 3], [2, 1], [2, 6]])
    # regions hold 40, 40, 20 of all employment (T = 100); each industry 10 of it (national share .1):
    # LQ_A = (6/40, 2/40, 2/20) / .1 = (1.5, .5, 1); LQ_B = (3/40, 1/40, 6/20) / .1 = (.75, .25, 3)
    a, b = np.log1p([1.5, .5, 1.0]), np.log1p([.75, .25, 3.0])
    got = log_lq_correlation(e, np.array([40.0, 40, 20]))
    assert got[0, 1] == pytest.approx(pearsonr(a, b)[0]) and got[1, 0] == got[0, 1]
    assert got[0, 0] == pytest.approx(1.0)
    # degenerate: an industry constant in LQ is unrelated (0), a region with no total is left out
    flat = log_lq_correlation(np.array([[1.0, 5], [2, 1], [3, 2], [0, 0]]), np.array([10.0, 20, 30, 0]))
    assert flat[0, 1] == 0.0 and np.isfinite(flat).all()
    assert (log_lq_correlation(np.array([[1.0, 2]])) == 0).all()  # one region: nothing to correlate
    # the published transform is the share correlation; the default uses the LQs against all employment
    shares = colocation_measures(e, e, np.array([40.0, 40, 20]), transform="shares")
    assert shares["colocation_employment"] == pytest.approx(colocation_correlation(e))
    default = colocation_measures(e, e, np.array([40.0, 40, 20]), establishment_totals=np.array([40.0, 40, 20]))
    assert default["colocation_establishments"] == pytest.approx(got)
    with pytest.raises(InputError, match="co-location transform"):
        colocation_measures(e, transform="lq")


def test_rank_scaling_by_hand():
    from clusteratlas.relate.definitions import rank_scale

    m = np.array([[1, .9, .1, np.nan], [.9, 1, .5, .2], [.1, .5, 1, .3], [np.nan, .2, .3, 1]])
    pairs = rank_scale(m, per="pairs")  # five pairs ranked .1 < .2 < .3 < .5 < .9
    assert pairs[0, 2] == pytest.approx(1 / 5) and pairs[0, 1] == pytest.approx(1.0)
    assert np.isnan(pairs[0, 3])
    per = rank_scale(m)  # industry 0 ranks its partners (.1, .9) as 1/2, 2/2; industry 2 ranks .1 first of 3
    assert per[0, 2] == pytest.approx((1 / 2 + 1 / 3) / 2)
    assert per[1, 3] == pytest.approx((1 / 3 + 1 / 2) / 2)
    assert (per == per.T)[~np.isnan(per)].all()


def test_combination_ignores_pairs_a_measure_does_not_cover():
    from clusteratlas.relate.definitions import combine

    a = np.array([[1, .9, .1], [.9, 1, .5], [.1, .5, 1]])
    b = np.array([[1, np.nan, .2], [np.nan, 1, .8], [.2, .8, 1]])
    both = combine({"a": a, "b": b}, per="pairs")
    assert both[0, 1] == pytest.approx(1.0)  # only a covers (0, 1): its rank, 3/3
    assert both[0, 2] == pytest.approx((1 / 3 + 1 / 2) / 2)
    weighted = combine({"a": a, "b": b}, {"a": 3, "b": 1}, per="pairs")
    assert weighted[0, 2] == pytest.approx((3 / 3 + 1 / 2) / 4)
    with pytest.raises(InputError):
        combine({"a": a}, {"a": -1})


def test_local_industries_follow_employment_by_hand():
    from clusteratlas.relate.definitions import local_industries

    e = np.array([[5.0, 10, 0], [5, 0, 0]])
    local, index = local_industries(e, np.array([50.0, 50]))
    assert index[0] == pytest.approx(0.0) and index[1] == pytest.approx(0.5) and np.isnan(index[2])
    assert local.tolist() == [True, False, False]


def test_comparison_with_a_reference_by_hand():
    from clusteratlas.relate.definitions import baseline_partitions, compare_partitions

    ref = np.array(["x", "x", "y", "y", "z", "z"])
    same = compare_partitions(np.array([3, 3, 1, 1, 2, 2]), ref)
    assert same["ari"] == pytest.approx(1.0) and same["ami"] == pytest.approx(1.0) and same["share_matched"] == 1
    # {0, 1, 2} and {3, 4, 5}: x's best match {0,1,2} (J = 2/3), y's either (1/4), z's {3,4,5} (2/3)
    c = compare_partitions(np.array([1, 1, 1, 2, 2, 2]), ref, np.array([1.0, 1, 1, 1, 1, 5]))
    assert c["best_jaccard"] == pytest.approx({"x": 2 / 3, "y": 1 / 4, "z": 2 / 3})
    assert c["median_jaccard"] == pytest.approx(2 / 3) and c["share_matched"] == pytest.approx(2 / 3)
    assert c["employment_matched"] == pytest.approx(8 / 10)
    base = baseline_partitions(np.array([1, 1, 1, 2, 2, 2]), np.array(["311", "3112", "312", "3", "31x", "999"]),
                               prefix=2)
    assert sorted(np.bincount(base["random (same sizes)"])[1:]) == [3, 3]
    assert base["2-digit classification"].tolist() == ["31", "31", "31", "3", "31", "99"]


def test_validation_beats_random_on_planted_groups_and_kmeans_is_reproducible():
    values, truth = _economy(seed=3)
    from clusteratlas.relate.definitions import chance_adjusted_scores, relatedness

    link = relatedness(values)["colocation"]
    s = chance_adjusted_scores(truth, link)
    assert s["vs_industry"] == 1.0 and s["vs_industry_random"] < 0.3 and s["vs_cluster_random"] < 0.5
    a = derive_clusters(values, k=6, method="kmeans", seed=5)
    b = derive_clusters(values, k=6, method="kmeans", seed=5)
    assert (a.labels == b.labels).all() and a.parameters["seed"] == 5 and a.parameters["starts"] == 20
    assert _same_partition(a.labels, truth)
    for method in ("average", "complete", "single", "ward"):
        assert _same_partition(derive_clusters(values, k=6, method=method).labels, truth), method
    with pytest.raises(InputError, match="unknown clustering method"):
        derive_clusters(values, k=6, method="dbscan")
