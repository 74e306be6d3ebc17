"""Relatedness, complexity, concentration and shift-share: hand-worked values and peer packages."""

from __future__ import annotations

import warnings

import numpy as np
import pyarrow as pa
import pytest

from clusteratlas.errors import InputError
from clusteratlas.relate import (
    coagglomeration,
    colocation_correlation,
    density,
    eci_pci,
    ellison_glaeser,
    entries_exits,
    entropy,
    gini,
    herfindahl,
    hoover,
    krugman,
    locational_gini,
    outlook,
    plant_herfindahl_from_counts,
    presence,
    proximity,
    rca,
    rca_population,
    related,
    shift_share,
    to_matrix,
)

E = np.array([[30.0, 10.0], [10.0, 50.0]])  # rows 40, 60; columns 40, 60; total 100


# ------------------------------------------------------------------ hand-worked
def test_rca_and_population_variant():
    assert rca(E) == pytest.approx(np.array([[0.75 / 0.4, 0.25 / 0.6], [(1 / 6) / 0.4, (5 / 6) / 0.6]]))
    # per head: region populations 100 and 300, total 400
    expected = np.array([[0.30 / 0.1, 0.10 / 0.15], [(10 / 300) / 0.1, (50 / 300) / 0.15]])
    assert rca_population(E, np.array([100.0, 300.0])) == pytest.approx(expected)


def test_specialisation_and_concentration_indices():
    assert herfindahl(E) == pytest.approx([0.75**2 + 0.25**2, (1 / 6) ** 2 + (5 / 6) ** 2])
    assert herfindahl(E, axis=0) == pytest.approx([0.75**2 + 0.25**2, (1 / 6) ** 2 + (5 / 6) ** 2])
    assert krugman(E) == pytest.approx([0.35 + 0.35, abs(1 / 6 - 0.4) + abs(5 / 6 - 0.6)])
    assert hoover(E) == pytest.approx([0.5 * (0.35 + 0.35), 0.5 * (abs(1 / 6 - 0.4) + abs(5 / 6 - 0.6))])
    assert hoover(E, reference=np.array([1.0, 1.0]))[0] == pytest.approx(0.5 * (0.25 + 0.25))


def test_gini_and_locational_gini():
    assert gini(np.array([1.0, 2.0, 3.0, 4.0])) == pytest.approx(0.25)  # Σ|xi-xj| = 20; 20 / (2·16·2.5)
    assert gini(np.array([5.0, 5.0, 5.0])) == 0.0
    even = np.array([[10.0, 20.0], [20.0, 40.0], [30.0, 60.0]])  # both industries spread like the economy
    assert locational_gini(even) == pytest.approx([0.0, 0.0])
    # industry 1 sits only in the region with a third of all employment: curve (0,0) (2/3,0) (1,1)
    lonely = np.array([[0.0, 20.0], [10.0, 0.0]])
    assert locational_gini(lonely)[0] == pytest.approx(1 - (1 / 3) * 1)


def test_entropy_decomposes():
    s = np.array([[0.75, 0.25]])
    assert entropy(s)["total_variety"] == pytest.approx([0.75 * np.log2(4 / 3) + 0.25 * 2])
    rng = np.random.default_rng(1)
    values = rng.integers(0, 50, size=(20, 12)).astype(float)
    parts = entropy(values, groups=np.repeat(["a", "b", "c"], 4))
    assert parts["total_variety"] == pytest.approx(parts["unrelated_variety"] + parts["related_variety"])
    one_group = entropy(values, groups=np.repeat("a", 12))
    assert one_group["unrelated_variety"] == pytest.approx(np.zeros(20))


def test_ellison_glaeser_and_coagglomeration():
    # x = (0.4, 0.6); industry 1 shares (0.75, 0.25): G = 2·0.35² = 0.245; 1 − Σx² = 0.48
    assert ellison_glaeser(E, np.array([0.0, 0.0]))[0] == pytest.approx(0.245 / 0.48)
    h = 0.1
    assert ellison_glaeser(E, np.array([h, h]))[0] == pytest.approx((0.245 - 0.48 * h) / (0.48 * (1 - h)))
    assert plant_herfindahl_from_counts(np.array([[4.0, 2.0], [6.0, 8.0]])) == pytest.approx([0.1, 0.1])
    co = coagglomeration(E)
    assert co[0, 0] == pytest.approx(0.245 / 0.48)  # an industry with itself: γ with H = 0
    assert co[0, 1] == pytest.approx((0.35 * (1 / 6 - 0.4) + (-0.35) * (5 / 6 - 0.6)) / 0.48)


M = np.array([[1.0, 1, 0], [1, 0, 1], [1, 1, 1], [0, 0, 1]])  # k = (3, 2, 3); C12 = 2, C13 = 2, C23 = 1


def test_proximity_normalisations():
    phi = proximity(M)
    assert phi[0, 1] == pytest.approx(2 / 3) and phi[1, 2] == pytest.approx(1 / 3) and phi[0, 0] == 1
    assert proximity(M, "cosine")[0, 1] == pytest.approx(2 / np.sqrt(6))
    assert proximity(M, "jaccard")[1, 2] == pytest.approx(1 / 4)
    assert proximity(M, "association")[0, 1] == pytest.approx(2 * 4 / (3 * 2))
    with pytest.raises(InputError):
        proximity(M, "nope")


def test_density_related_entries_exits():
    phi = proximity(M)
    # region 4 holds only industry 3: ω(4, 1) = φ31 / (φ11 + φ21 + φ31) = (2/3) / (1 + 2/3 + 2/3)
    assert density(M, phi)[3, 0] == pytest.approx((2 / 3) / (1 + 2 / 3 + 2 / 3))
    assert list(related(phi, 0, top=2)) == [1, 2]
    entry, exit_ = entries_exits(M, np.array([[1.0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]]))
    assert entry.sum() == 2 and exit_.sum() == 1 and exit_[0, 1] == 1


def test_colocation_correlation():
    values = np.array([[10.0, 20, 70], [20, 40, 40], [30, 60, 10]])
    corr = colocation_correlation(values)
    assert corr[0, 1] == pytest.approx(1.0)  # shares (0.1, 0.2, 0.3) and (0.2, 0.4, 0.6)
    assert corr[0, 2] == pytest.approx(-1.0)
    assert np.diag(corr) == pytest.approx(np.ones(3))


def test_shift_share_hand_worked():
    start, end = np.array([[10.0, 20], [30, 40]]), np.array([[12.0, 18], [36, 44]])
    ss = shift_share(start, end)  # g = 0.1; g_1 = 0.2, g_2 = 62/60 − 1
    assert ss["national_share"][0, 1] == pytest.approx(2.0)
    assert ss["industry_mix"][0, 1] == pytest.approx(20 * (62 / 60 - 1 - 0.1))
    assert ss["regional_share"][0, 1] == pytest.approx(20 * (-0.1 - (62 / 60 - 1)))
    assert ss["homothetic"][0, 1] == pytest.approx(30 * 60 / 100)
    assert ss["competitive"][0, 1] == pytest.approx(18 * (-0.1 - (62 / 60 - 1)))
    assert ss["allocation"][0, 1] == pytest.approx(2 * (-0.1 - (62 / 60 - 1)))
    total = ss["national_share"] + ss["industry_mix"] + ss["competitive"] + ss["allocation"]
    assert total == pytest.approx(end - start)


# ------------------------------------------------------------ degenerate inputs
def test_degenerate_inputs_are_defined_or_refused():
    with pytest.raises(InputError):
        rca(np.zeros((3, 3)))
    with pytest.raises(InputError):
        rca(np.array([[1.0, -1.0]]))
    single = np.array([[1.0, 0, 0], [1, 1, 0], [1, 1, 1], [0, 0, 0]])  # a region with nothing
    out = eci_pci(single)
    assert np.isnan(out.eci[3]) and np.isfinite(out.eci[:3]).all()
    with pytest.raises(InputError):
        eci_pci(np.ones((4, 4)))  # all-equal: every region equally complex
    with pytest.raises(InputError):
        eci_pci(np.array([[1.0, 0], [0, 0]]))


def test_to_matrix_from_long_data():
    table = pa.table({"region": ["b", "a", "a", "b"], "industry": ["x", "x", "y", "x"],
                      "employment": [1.0, 2.0, 3.0, 4.0]})
    mat = to_matrix(table)
    assert list(mat.regions) == ["a", "b"] and list(mat.industries) == ["x", "y"]
    assert mat.values.tolist() == [[2.0, 3.0], [5.0, 0.0]]
    with pytest.raises(InputError):
        to_matrix(pa.table({"region": ["a"], "industry": ["x"], "employment": [float("nan")]}))


# -------------------------------------------------------------- peer packages
def _random_economy(seed=3, regions=60, industries=40):
    """A nested economy (diverse regions make ubiquitous products), with noise."""
    rng = np.random.default_rng(seed)
    capability = rng.uniform(size=regions)[:, None]
    difficulty = rng.uniform(size=industries)[None, :]
    scale = np.exp(rng.normal(size=(regions, industries)) * 0.5)
    return 100.0 * scale * (1 + 4 * (capability > difficulty))


def _long(values):
    import pandas as pd

    r, i = np.meshgrid(np.arange(values.shape[0]), np.arange(values.shape[1]), indexing="ij")
    return pd.DataFrame({"year": 2020, "region": r.ravel(), "industry": i.ravel(), "emp": values.ravel()})


def test_matches_ecomplexity():
    ecomplexity = pytest.importorskip("ecomplexity").ecomplexity
    values = _random_economy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = ecomplexity(_long(values), {"time": "year", "loc": "region", "prod": "industry", "val": "emp"},
                             check_logsupermodularity=False, verbose=False)
    theirs = theirs.sort_values(["region", "industry"])
    shape = values.shape
    m = presence(rca(values))
    ours = eci_pci(m)
    omega, _, _ = outlook(m, ours.pci)
    assert rca(values).ravel() == pytest.approx(theirs["rca"].to_numpy(), rel=1e-9)
    assert ours.diversity == pytest.approx(theirs["diversity"].to_numpy().reshape(shape)[:, 0])
    assert ours.eci == pytest.approx(theirs["eci"].to_numpy().reshape(shape)[:, 0], abs=1e-9)
    assert ours.pci == pytest.approx(theirs["pci"].to_numpy().reshape(shape)[0], abs=1e-9)
    assert omega.ravel() == pytest.approx(theirs["density"].to_numpy(), abs=1e-9)
    from ecomplexity.calc_proximity import calc_discrete_proximity

    assert proximity(m) == pytest.approx(calc_discrete_proximity(m, m.sum(axis=0)), abs=1e-12)


def _atlas_cog(m, pci, phi):
    """COG written out loop by loop from the Atlas of Economic Complexity (Hausmann et al.):

    COG_cp = Σ_p' [φ_pp' / Σ_p'' φ_p''p'] (1 − M_cp') PCI_p' − (1 − d_cp) PCI_p,
    d_cp = Σ_p' (1 − M_cp') φ_pp' / Σ_p' φ_pp' (the distance; 1 − d is the density).
    """
    n_c, n_p = m.shape
    out = np.zeros((n_c, n_p))
    for c in range(n_c):
        for p in range(n_p):
            gain = sum(phi[p, q] / sum(phi[k, q] for k in range(n_p)) * (1 - m[c, q]) * pci[q] for q in range(n_p))
            distance = sum((1 - m[c, q]) * phi[p, q] for q in range(n_p)) / sum(phi[p, q] for q in range(n_p))
            out[c, p] = gain - (1 - distance) * pci[p]
    return out


def test_cog_hand_worked():
    # M as above; φ11 = φ22 = φ33 = 1, φ12 = φ13 = 2/3, φ23 = 1/3: totals Σ_k φ_kj = 7/3, 2, 2
    pci = np.array([1.0, -2.0, 3.0])
    omega, coi, cog = outlook(M, pci, proximity(M))
    # region 4 holds industry 3 only; ω(4, ·) = (2/7, 1/6, 1/2)
    assert omega[3] == pytest.approx([2 / 7, 1 / 6, 1 / 2])
    # COG(4, 1) = PCI1 φ11/(7/3) + PCI2 φ12/2 − ω41 PCI1 = 3/7 − 2/3 − 2/7 = −11/21
    # (normalising by industry 1's own total 7/3 instead, as Datawheel's package does, gives −9/21)
    assert cog[3, 0] == pytest.approx(-11 / 21)
    # COG(4, 2) = PCI1 φ21/(7/3) + PCI2 φ22/2 − ω42 PCI2 = 2/7 − 1 + 1/3 = −8/21
    assert cog[3, 1] == pytest.approx(-8 / 21)
    # region 1 lacks only industry 3: COG(1, 1) = PCI3 φ13/2 − ω11 PCI1 = 1 − 5/7
    assert cog[0, 0] == pytest.approx(2 / 7)
    assert coi[3] == pytest.approx(2 / 7 * 1 - 1 / 6 * 2)  # COI(4) = ω41 PCI1 + ω42 PCI2
    assert cog == pytest.approx(_atlas_cog(M, pci, proximity(M)), abs=1e-12)
    # an industry without PCI has no COG (and counts 0 in the others' sums)
    assert np.isnan(outlook(M, np.array([1.0, np.nan, 3.0]), proximity(M))[2][:, 1]).all()


def test_cog_follows_the_atlas_and_where_peers_differ():
    values = _random_economy(seed=5)
    m = presence(rca(values))
    ours = eci_pci(m)
    phi = proximity(m)
    omega, coi, cog = outlook(m, ours.pci, phi)
    assert cog == pytest.approx(_atlas_cog(m, ours.pci, phi), abs=1e-9)
    # COI from its definition, written out independently
    assert coi == pytest.approx(((1 - m) * density(m, phi) * ours.pci).sum(axis=1))
    # ecomplexity (Growth Lab) normalises like the Atlas; it multiplies by (1 − M_cp) and leaves out −ω·PCI
    from types import SimpleNamespace

    from ecomplexity.coicog import calc_coi_cog

    _, theirs = calc_coi_cog(SimpleNamespace(density_t=omega, mcp_t=m, pci_t=ours.pci), phi)
    assert (1 - m) * (cog + omega * ours.pci) == pytest.approx(theirs, abs=1e-9)
    # economic-complexity (Datawheel) divides by the gained industry's own total Σ_k φ_ki instead
    ec = pytest.importorskip("economic_complexity")
    import pandas as pd

    rcas = pd.DataFrame(rca(values))
    datawheel = ec.opportunity_gain(rcas, pci=pd.Series(ours.pci), proximities=pd.DataFrame(phi)).to_numpy()
    by_gained = ((1 - m) * ours.pci) @ (phi / phi.sum(axis=0)) - omega * ours.pci
    assert datawheel == pytest.approx(by_gained, abs=1e-9)
    assert np.abs(datawheel - cog).max() > 0.01  # the two definitions differ


def test_matches_economic_complexity_reflections():
    ec = pytest.importorskip("economic_complexity")
    import pandas as pd

    values = _random_economy(seed=5)
    rcas = pd.DataFrame(rca(values))
    m = presence(rca(values))
    ours = eci_pci(m)
    # Datawheel runs 20 reflections without re-centring and does not orient signs: near the
    # eigenvector then (|r| 0.96-0.9997 on these economies), noise after ~100 iterations.
    eci_r, pci_r = ec.complexity(rcas)
    assert abs(np.corrcoef(ours.eci, eci_r.to_numpy())[0, 1]) > 0.95
    assert abs(np.corrcoef(ours.pci, pci_r.to_numpy())[0, 1]) > 0.95
    converged = eci_pci(m, method="reflections", iterations=300)
    assert converged.eci == pytest.approx(ours.eci, abs=1e-6)  # reflections converge to the eigenvector
    assert converged.pci == pytest.approx(ours.pci, abs=1e-6)


def test_locational_gini_of_all_industries_equals_one_curve_at_a_time():
    """The vectorised Lorenz curves equal a plain per-industry computation (sort by LQ, trapezoids)."""
    rng = np.random.default_rng(3)
    values = rng.poisson(4, (60, 25)).astype(float)
    values[:, 4] = 0  # an industry with no employment: undefined
    expected = []
    for j in range(values.shape[1]):
        col, total = values[:, j], values.sum(axis=1)
        if col.sum() == 0:
            expected.append(np.nan)
            continue
        lq = (col / total) / (col.sum() / total.sum())
        order = sorted(range(len(lq)), key=lambda r: lq[r])
        x = np.concatenate([[0], np.cumsum(total[order]) / total.sum()])
        y = np.concatenate([[0], np.cumsum(col[order]) / col.sum()])
        expected.append(1 - sum((x[k] - x[k - 1]) * (y[k] + y[k - 1]) for k in range(1, len(x))))
    np.testing.assert_allclose(locational_gini(values), expected, rtol=1e-12)
