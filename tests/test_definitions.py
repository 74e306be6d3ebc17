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
