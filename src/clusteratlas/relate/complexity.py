"""Economic complexity: diversity, ubiquity, ECI/PCI, COI and COG.

Conventions (those of the Growth Lab's ecomplexity package and the Atlas of
Economic Complexity):

- ECI is the eigenvector of the second-largest eigenvalue of
  M̃ = D⁻¹MU⁻¹Mᵀ (regions), obtained through the *industry × industry* matrix
  U⁻¹MᵀD⁻¹M, which is far smaller than the region × region one; it is
  solved in its symmetric form U^-½ MᵀD⁻¹M U^-½ (same eigenvalues);
- the sign is fixed so that ECI correlates positively with diversity;
- ECI is standardised (population standard deviation); PCI is standardised
  with ECI's mean and standard deviation, which keeps ECI_r equal to the
  mean PCI of the region's specialisations;
- COI_r = Σ_i (1 − M_ri) ω_ri PCI_i and
  COG_ri = Σ_j (1 − M_rj) PCI_j φ_ij / Σ_k φ_kj − ω_ri PCI_i
  (Hausmann et al., the Atlas, whose "(1 − d_ri)" is the density ω since d
  is the distance), with the standardised PCI. The proximity is normalised
  by Σ_k φ_kj, the total of j, the industry summed over (the Atlas's
  Σ_p'' φ_p''p'). ecomplexity (Growth Lab) normalises the same way but
  multiplies by (1 − M_ri), rescales, and leaves out the last term;
  economic-complexity (Datawheel) normalises by Σ_k φ_ki, the total of the
  industry gained, which is not the Atlas's formula (docs/methods.md).

Regions with no specialisation and industries no region specialises in get
NaN ECI/PCI (the measures are undefined for them), never an arbitrary value.
So do all regions and industries when the region–industry network falls
apart into several components: the second eigenvector then only marks the
components (every region of a component gets the same value), so ECI and PCI
are undefined, with the reason "undefined: the network has N components"
(:data:`DISCONNECTED`); COI and COG, which rest on PCI, are undefined too.

Where the peer packages settle what the definitions leave open differently,
:data:`CONVENTIONS` names each choice, so results can be compared with them
(docs/methods.md, the peer table): ``atlas`` (the default, above),
``ecomplexity`` (the Growth Lab's Python package: COI z-scored) and
``stata`` (its Stata package: density and COG leave the industry's own
proximity out, COI z-scored, ECI/PCI divided by the sample standard deviation
over the region × industry rows, presence RCA > 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clusteratlas.errors import InputError
from clusteratlas.i18n import _
from clusteratlas.relate.relatedness import density as relatedness_density
from clusteratlas.relate.relatedness import proximity as relatedness_proximity

#: Why ECI and PCI are undefined for every region and industry of a network that falls apart.
DISCONNECTED = "undefined: the network has {n} components"


@dataclass(frozen=True)
class Convention:
    """How a peer package settles what the definitions of density, COI and ECI leave open.

    Attributes
    ----------
    name
        ``atlas``, ``ecomplexity`` or ``stata``.
    own_proximity
        Density ω and COG count the industry's proximity to itself (φ_ii = 1), as the Python ecomplexity
        does; the Stata package sets the diagonal to 0 (``proximity − I``).
    coi_zscore
        COI is z-scored over the regions (both ecomplexity packages) instead of the Atlas's raw sum; the sum
        is then taken with the raw eigenvector (PCI before standardising), as they do.
    sample_sd
        ECI and PCI (and a z-scored COI) are divided by the sample standard deviation (n − 1) over the
        region × industry rows, as Stata's ``sum`` on its long data does, instead of the population standard
        deviation over the regions (n).
    strict_presence
        M = RCA > 1 (Stata) instead of RCA ≥ 1.
    """

    name: str
    own_proximity: bool = True
    coi_zscore: bool = False
    sample_sd: bool = False
    strict_presence: bool = False


#: The conventions on offer (``relate --convention``); ``atlas`` is the default.
CONVENTIONS: dict[str, Convention] = {
    "atlas": Convention("atlas"),
    "ecomplexity": Convention("ecomplexity", coi_zscore=True),
    "stata": Convention("stata", own_proximity=False, coi_zscore=True, sample_sd=True, strict_presence=True),
}


def get_convention(name: str | Convention) -> Convention:
    """The :class:`Convention` called ``name`` (a Convention passes through)."""
    if isinstance(name, Convention):
        return name
    if name not in CONVENTIONS:
        raise InputError(_("unknown complexity convention"), value=name, expected=", ".join(CONVENTIONS))
    return CONVENTIONS[name]


@dataclass(frozen=True)
class Complexity:
    """Complexity measures of one region × industry presence matrix.

    ``reason`` says why ECI and PCI are undefined for every region and
    industry ('' when they are defined). ``offset`` is mean / standard
    deviation of the raw region eigenvector, so that the raw industry
    eigenvector is proportional to PCI + offset (what the peer packages sum
    into COI before z-scoring it); NaN when undefined. ``components``: of the
    region–industry network (ECI is defined for 1 only).
    """

    diversity: np.ndarray
    ubiquity: np.ndarray
    eci: np.ndarray
    pci: np.ndarray
    reason: str = ""
    offset: float = 0.0
    components: int = 1


def components(m: np.ndarray) -> int:
    """Connected components of the region–industry network of a presence matrix (regions and industries
    with at least one specialisation; a region is tied to the industries it is specialised in)."""
    m = np.asarray(m, dtype=np.float64)
    mv = m[np.ix_(m.sum(axis=1) > 0, m.sum(axis=0) > 0)]
    if mv.size == 0:
        return 0
    import scipy.sparse as sp  # here, not at import: every command would pay for SciPy (~0.2 s)
    from scipy.sparse.csgraph import connected_components

    graph = sp.bmat([[None, sp.csr_matrix(mv)], [sp.csr_matrix(mv.T), None]])
    return int(connected_components(graph, directed=False)[0])


def _valid(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The matrix, diversity, ubiquity, and the masks of regions and industries with specialisations."""
    m = np.asarray(m, dtype=np.float64)
    if m.ndim != 2 or m.size == 0:
        raise InputError(_("a non-empty region × industry presence matrix is needed"))
    div, ubq = m.sum(axis=1), m.sum(axis=0)
    rows, cols = div > 0, ubq > 0
    if rows.sum() < 2 or cols.sum() < 2:
        raise InputError(_("complexity needs at least two regions and two industries with specialisations"),
                         value=f"{int(rows.sum())} regions, {int(cols.sum())} industries")
    return m, div, ubq, rows, cols


def eci_pci(m: np.ndarray, *, method: str = "eigen", iterations: int = 20,
            convention: str | Convention = "atlas") -> Complexity:
    """ECI and PCI of a presence matrix (``method`` 'eigen' or 'reflections').

    The method of reflections iterates k_r,n = Σ_i M_ri k_i,n−1 / k_r,0 and
    k_i,n = Σ_r M_ri k_r,n−1 / k_i,0, re-centred and rescaled at each step
    (otherwise the iterates collapse onto the trivial constant vector); it
    converges to the eigenvector solution. Both are standardised as above
    (``convention`` 'stata': by the sample standard deviation over the n
    region × industry rows, n = regions with an ECI × industries of ``m``).

    A network of several components has no ECI or PCI: every value is NaN
    and ``reason`` says "undefined: the network has N components".
    """
    conv = get_convention(convention)
    m, div, ubq, rows, cols = _valid(m)
    parts = components(m)
    if parts > 1:
        nan_r, nan_i = np.full(m.shape[0], np.nan), np.full(m.shape[1], np.nan)
        return Complexity(div, ubq, nan_r, nan_i, DISCONNECTED.format(n=parts), float("nan"), parts)
    mv = m if rows.all() and cols.all() else m[np.ix_(rows, cols)]
    dv, uv = div[rows], ubq[cols]
    if method == "eigen":
        a = mv / np.sqrt(dv)[:, None] / np.sqrt(uv)[None, :]  # D^-½ M U^-½
        sym = a.T @ a
        if len(uv) > 2:
            from scipy.sparse.linalg import eigsh

            start = np.random.default_rng(0).uniform(0.5, 1.5, size=len(uv))  # fixed: reproducible
            vals, vecs = eigsh(sym, k=2, which="LA", v0=start, tol=0)
        else:
            vals, vecs = np.linalg.eigh(sym)
        kp = vecs[:, np.argsort(vals)[-2]] / np.sqrt(uv)
        kc = (mv @ kp) / dv
    elif method == "reflections":
        kc, kp = dv.copy(), uv.copy()
        for _step in range(iterations):
            kc, kp = (mv @ kp) / dv, (mv.T @ kc) / uv
            kc, kp = (kc - kc.mean()) / (kc.std() or 1.0), (kp - kp.mean()) / (kp.std() or 1.0)
        kc = (mv @ kp) / dv  # link the scales as in the eigen solution: kc = D⁻¹M kp
    else:
        raise InputError(_("unknown complexity method"), value=method, expected=_("eigen or reflections"))
    mean, std = kc.mean(), kc.std()
    if not np.isfinite(std) or std <= 1e-12 * max(1.0, abs(mean)):
        raise InputError(_("every region has the same complexity; ECI is undefined (all-equal input)"))
    kc, kp = _fix_sign(kc, kp, mv, dv, uv)
    mean = kc.mean()
    if conv.sample_sd:  # Stata: `sum` over the long data, each region repeated once per industry
        n = kc.size * m.shape[1]
        std *= np.sqrt(n / (n - 1))
    eci, pci = np.full(m.shape[0], np.nan), np.full(m.shape[1], np.nan)
    eci[rows] = (kc - mean) / std
    pci[cols] = (kp - mean) / std
    return Complexity(div, ubq, eci, pci, "", float(mean / std))


def _fix_sign(kc: np.ndarray, kp: np.ndarray, m: np.ndarray, div: np.ndarray, ubq: np.ndarray,
              ) -> tuple[np.ndarray, np.ndarray]:
    """Orient ECI to rise with diversity (or, when all diversities are equal,
    to fall with the average ubiquity of a region's specialisations)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(div, kc)[0, 1] if div.std() > 0 else -np.corrcoef((m @ ubq) / div, kc)[0, 1]
    sign = -1.0 if np.isfinite(corr) and corr < 0 else 1.0
    return sign * kc, sign * kp


def outlook(m: np.ndarray, pci: np.ndarray | Complexity, prox: np.ndarray | None = None, *,
            convention: str | Convention = "atlas") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Density ω, complexity outlook index (per region) and gain (per region × industry).

    The Atlas of Economic Complexity's definitions (Hausmann et al., technical box on
    opportunity gain):

    - COI_r = Σ_i (1 − M_ri) ω_ri PCI_i;
    - COG_ri = Σ_j (1 − M_rj) PCI_j φ_ij / Σ_k φ_kj − ω_ri PCI_i: each absent
      industry j brings PCI_j in proportion to i's share of *j's* proximity
      total (the normaliser belongs to j, the industry summed over, not to i).

    Industries with undefined PCI count as 0 in the sums; their own COG, and
    the COG of an industry whose density is undefined (no proximity to
    anything), is NaN. When no industry has a PCI (a disconnected network),
    COI is NaN too.

    ``pci`` is PCI, or the :class:`Complexity` it comes from (needed for a
    z-scored COI, which sums the raw eigenvector PCI + offset). ``convention``
    (see :data:`CONVENTIONS`): 'stata' leaves the industry's own proximity
    out of ω and COG; 'ecomplexity' and 'stata' z-score COI (population or
    sample standard deviation, as they standardise ECI).
    """
    conv = get_convention(convention)
    offset = pci.offset if isinstance(pci, Complexity) else 0.0
    pci = pci.pci if isinstance(pci, Complexity) else pci
    m = np.asarray(m, dtype=np.float64)
    prox = relatedness_proximity(m) if prox is None else np.asarray(prox, dtype=np.float64)
    if not conv.own_proximity:  # for COG too: Stata's proximity is φ − I throughout
        prox = prox.copy()
        np.fill_diagonal(prox, 0.0)
    omega = relatedness_density(m, prox)
    pci = np.asarray(pci, dtype=np.float64)
    known = np.isfinite(pci)
    p = np.where(known, pci, 0.0)
    absent = 1.0 - m
    omega0 = np.nan_to_num(omega, nan=0.0)
    coi = (absent * omega0) @ p
    if not known.any():
        coi = np.full(m.shape[0], np.nan)
    elif conv.coi_zscore:
        coi = _zscore((absent * omega0) @ np.where(known, pci + offset, 0.0), conv.sample_sd, m.shape[1])
    col = prox.sum(axis=0)  # Σ_k φ_kj for every j
    with np.errstate(divide="ignore", invalid="ignore"):
        per_j = np.where(col > 0, p / col, 0.0)  # PCI_j / Σ_k φ_kj
    cog = (absent * per_j[None, :]) @ prox.T - omega0 * p[None, :]  # Σ_j (1 − M_rj) PCI_j/Σφ_kj · φ_ij
    cog = np.where(known[None, :] & np.isfinite(omega), cog, np.nan)
    return omega, coi, cog


def _zscore(x: np.ndarray, sample: bool, per_row: int) -> np.ndarray:
    """(x − mean) / sd over the finite values; ``sample``: the sd of the n = len × ``per_row`` long rows, n − 1."""
    ok = np.isfinite(x)
    mean, std = x[ok].mean(), x[ok].std()
    if sample:
        n = ok.sum() * per_row
        std *= np.sqrt(n / (n - 1))
    return (x - mean) / std if std > 0 else np.full_like(x, np.nan)
