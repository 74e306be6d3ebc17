"""Relatedness and concentration on real official tables (issue 9, items 2 and 3)."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from clusteratlas.relate import (
    eci_pci,
    ellison_glaeser,
    herfindahl,
    hoover,
    locational_gini,
    outlook,
    plant_herfindahl_from_counts,
    presence,
    proximity,
    rca,
)
from tests.conftest import shared_file

pytestmark = pytest.mark.realdata


def _matrix(sql: str, *columns: str) -> tuple[np.ndarray, ...]:
    """Region × industry matrices (one per value column) from rows (region, industry, values...)."""
    rows = duckdb.connect().sql(sql).fetchnumpy()
    _, r_idx = np.unique(rows["region"], return_inverse=True)
    _, i_idx = np.unique(rows["industry"], return_inverse=True)
    out = []
    for column in columns:
        values = np.zeros((r_idx.max() + 1, i_idx.max() + 1))
        np.add.at(values, (r_idx, i_idx), rows[column].astype(np.float64))
        out.append(values)
    return tuple(out)


def test_cog_on_cbp2019_metros_follows_the_atlas():
    """CBP 2019, 933 CBSAs × six-digit NAICS 2017: COG = the Atlas formula, written as one einsum."""
    cbp = shared_file("us/cbp2019_cbsa_naics2017_emp_est.csv.gz")
    (values,) = _matrix(f"""SELECT cbsa_code AS region, naics_code AS industry, emp FROM read_csv('{cbp}',
        types={{'cbsa_code': 'VARCHAR', 'naics_code': 'VARCHAR'}}) WHERE naics_level = 6""", "emp")
    assert values.shape == (933, 961)
    m = presence(rca(values))
    phi = proximity(m)
    pci = eci_pci(m).pci
    omega, _, cog = outlook(m, pci, phi)
    # Atlas: COG_cp = Σ_p' φ_pp' / (Σ_p'' φ_p''p') (1 − M_cp') PCI_p' − ω_cp PCI_p
    share = phi / phi.sum(axis=0)[None, :]  # share[p, p'] = φ_pp' / Σ_p'' φ_p''p'
    atlas = np.einsum("pq,cq,q->cp", share, 1 - m, pci) - omega * pci[None, :]
    # (before the fix the largest difference was 4.4: proximity normalised by the gained industry's total)
    assert np.abs(cog - atlas).max() < 1e-9


def test_all_zero_industries_of_the_cbp_state_file_are_undefined():
    """CBP states 2011, reported employment only: 15 six-digit industries are withheld in every state."""
    cbp = shared_file("us/cbp_state_naics_2000_2011.csv.gz")
    values, est = _matrix(f"""SELECT fipstate AS region, naics AS industry,
        CASE WHEN empflag IS NULL THEN emp ELSE 0 END AS emp, est FROM read_csv('{cbp}',
        types={{'fipstate': 'VARCHAR', 'naics': 'VARCHAR'}}) WHERE year = 2011 AND naics_level = 6""", "emp", "est")
    empty = values.sum(axis=0) == 0
    assert empty.sum() == 15 and values.shape == (51, 635)
    # before: locational Gini 1.0, Hoover 0.5, a finite γ and HHI 0 for every one of them
    gamma = ellison_glaeser(values, plant_herfindahl_from_counts(np.maximum(est.sum(axis=0), 2)))
    for index in (locational_gini(values), hoover(values), gamma, herfindahl(values, axis=0)):
        assert np.isnan(index[empty]).all() and np.isfinite(index[~empty]).all()
