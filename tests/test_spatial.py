"""Spatial hot spots against esda on the same inputs, and hand-worked pieces."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from clusteratlas.errors import InputError
from clusteratlas.relate.spatial import fdr, getis_ord_star, local_moran, moran, weights_from_libpysal

libpysal = pytest.importorskip("libpysal")
esda = pytest.importorskip("esda")


@pytest.fixture(scope="module")
def lattice():
    """A 12 × 12 rook lattice and three series: a hot corner, a gradient, and noise."""
    w = libpysal.weights.lat2W(12, 12, rook=True)
    rng = np.random.default_rng(4)
    rows, cols = np.divmod(np.arange(144), 12)
    hot = 1.0 + 10.0 * ((rows < 4) & (cols < 4)) + rng.uniform(size=144)
    gradient = rows + cols + rng.normal(size=144)
    noise = rng.uniform(1, 2, size=144)
    return w, np.column_stack([hot, gradient, noise])


def test_global_moran_matches_esda(lattice):
    w, y = lattice
    ours = moran(y, weights_from_libpysal(w), permutations=199)
    for j in range(y.shape[1]):
        theirs = esda.Moran(y[:, j], w, permutations=199)
        assert ours.I[j] == pytest.approx(theirs.I, abs=1e-12)
        assert abs(ours.EI - theirs.EI) < 1e-12
    assert ours.p_sim[0] == pytest.approx(1 / 200) and ours.p_sim[1] == pytest.approx(1 / 200)
    assert ours.p_sim[2] > 0.01  # noise has no pattern


def test_local_moran_matches_esda(lattice):
    w, y = lattice
    ours = local_moran(y, weights_from_libpysal(w), permutations=499, seed=1)
    for j in range(y.shape[1]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = esda.Moran_Local(y[:, j], w, permutations=499, seed=1)
        assert ours.Is[:, j] == pytest.approx(theirs.Is, abs=1e-9)
        assert (ours.quadrant[:, j] == theirs.q).all()
        # different random draws: the pseudo p-values agree in distribution, not digit for digit
        assert np.corrcoef(ours.p_sim[:, j], theirs.p_sim)[0, 1] > 0.9
        assert np.mean((ours.p_sim[:, j] < 0.05) == (theirs.p_sim < 0.05)) > 0.9
    hot = np.zeros(144, bool)
    # the hot block's cells with three or four neighbours (the corner cell has two: with 499
    # draws its p-value, about 0.01, cannot pass the FDR threshold over 144 regions)
    hot[[r * 12 + c for r in range(3) for c in range(3) if (r, c) != (0, 0)]] = True
    assert ours.significant[hot, 0].all() and (ours.quadrant[hot, 0] == 1).all()
    assert ours.significant[:, 2].sum() <= 3  # noise: almost nothing survives FDR


def test_getis_ord_star_matches_esda(lattice):
    w, y = lattice
    y = y[:, [0, 2]]  # Gi* needs values >= 0: the hot corner and the noise
    ours = getis_ord_star(y, weights_from_libpysal(w, transform="b"), permutations=499, seed=2)
    for j in (0, 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = esda.G_Local(y[:, j], w, transform="B", star=True, permutations=499, seed=2)
        assert ours.Gs[:, j] == pytest.approx(theirs.Gs, abs=1e-12)
        assert ours.Zs[:, j] == pytest.approx(theirs.Zs, abs=1e-9)
        assert np.corrcoef(ours.p_sim[:, j], theirs.p_sim)[0, 1] > 0.9
    assert ours.significant[13, 0] and ours.Zs[13, 0] > 3  # inside the hot corner
    assert ours.significant[:, 1].sum() <= 3


def test_fdr_hand_worked():
    # BH at 0.05 with n = 5: thresholds 0.01, 0.02, 0.03, 0.04, 0.05
    p = np.array([0.009, 0.03, 0.025, 0.2, 0.6])
    assert fdr(p).tolist() == [True, True, True, False, False]  # largest k with p_(k) <= k·α/n is k = 3
    assert fdr(np.array([0.02, 0.03])).tolist() == [True, True]
    assert fdr(np.array([[0.5, 0.001], [0.6, 0.9]])).tolist() == [[False, True], [False, False]]


def test_degenerate_inputs():
    w = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]], dtype=float))  # region 3 has no neighbour
    out = local_moran(np.array([[1.0], [2.0], [3.0]]), w, permutations=9)
    assert np.isnan(out.Is[2, 0]) and np.isnan(out.p_sim[2, 0]) and not out.significant[2, 0]
    assert out.reason[2, 0] == "no neighbours"
    flat = local_moran(np.ones((3, 1)), w, permutations=9)  # all-equal: undefined, nothing significant
    assert np.isnan(flat.Is).all() and not flat.significant.any() and (flat.reason == "no variation").all()
    with pytest.raises(InputError):
        local_moran(np.ones((4, 1)), w)  # weights for 3 regions
    with pytest.raises(InputError):
        local_moran(np.ones((3, 1)), sp.identity(3))
    with pytest.raises(InputError):
        getis_ord_star(-np.ones((3, 1)), w)
