"""The vocabulary of actor networks: kinds of actors and ties, roles, sectors (産学官).

Kinds are closed lists so that a typo in a file is an error, not a new kind.
Aliases map the codes that public tables use (CORDIS activity types, the
French research agency's organisation categories) to these kinds.
"""

from __future__ import annotations

#: Kinds of actor, and what each is.
ACTOR_KINDS: dict[str, str] = {
    "firm": "company (CORDIS PRC)",
    "university": "university or higher-education body (CORDIS HES)",
    "public_research": "public research institute (CORDIS REC; 公設試, EPST/EPIC)",
    "support": "support or coordination body: TLO, cluster organisation (e.g. the TAMA association), chamber",
    "investor": "venture capital or other investor",
    "government": "government or public body (CORDIS PUB)",
    "other": "anything else (CORDIS OTH)",
}

#: Kinds of tie. Ties are undirected in the analysis except those of :data:`DIRECTED_TIES`.
TIE_KINDS: dict[str, str] = {
    "joint_project": "co-participation in a project (weight: number of shared projects)",
    "co_patent": "co-applicants or co-inventors of a patent",
    "supply": "supplier–customer link",
    "spin_off": "the target was founded from the source (parent → child)",
    "investment": "the source invested in the target",
    "membership": "the source is a member of the target (e.g. a cluster organisation)",
    "coordination": "the source coordinates the target's activity",
}

#: Tie kinds that keep their direction in the analysis (source → target): in-/out-degree, directed paths
#: (betweenness, brokerage), the spin-off tree.
DIRECTED_TIES = ("spin_off", "investment")

ROLES = ("coordinator", "member")

#: 産学官: industry (産), academia (学), government (官). Public research institutes count as 官,
#: as in the Japanese usage (公設試験研究機関 are prefectural bodies).
SECTOR = {"firm": "industry", "investor": "industry", "university": "academia",
          "public_research": "government", "government": "government"}

#: CORDIS activity types (Horizon 2020) → actor kind.
CORDIS_TYPES = {"PRC": "firm", "HES": "university", "REC": "public_research", "PUB": "government",
                "OTH": "other"}

#: The French research agency's organisation categories (ANR/DGPIE partner tables) → actor kind.
ANR_CATEGORIES = {
    "Universités, INSA et INP": "university",
    "Grandes écoles publiques": "university",
    "ENS et grands établissements": "university",
    "COMUE Pôle de recherche et d'Enseignement supérieur": "university",
    "Autres écoles (privées)": "university",
    "IEP": "university",
    "INHA": "public_research",
    "Organismes de type EPST": "public_research",
    "Organismes de Type EPIC": "public_research",
    "Observatoires": "public_research",
    "Organismes Médicaux (Hôpitaux)": "public_research",
    "Etablissements de santé": "public_research",
    "Entreprises Privées": "firm",
    "Fondations": "other",
    "Associations": "support",
    "GIE ou Non-Affecté": "support",
    "EPA, GIP, organismes avec autre statut": "government",
    "Autres établissements (publics)": "government",
    "Ministères": "government",
    "Collectivités": "government",
    "Etranger": "other",
}

#: French regions (2016 boundaries) → NUTS 2021 level-1 codes, so French actors join the NUTS region system.
FR_REGIONS_NUTS = {
    "Île-de-France": "FR1", "Centre-Val de Loire": "FRB", "Bourgogne-Franche-Comté": "FRC", "Normandie": "FRD",
    "Hauts de France": "FRE", "Hauts-de-France": "FRE", "Grand Est": "FRF", "Pays de la Loire": "FRG",
    "Bretagne": "FRH", "Nouvelle Aquitaine": "FRI", "Nouvelle-Aquitaine": "FRI", "Occitanie": "FRJ",
    "Auvergne-Rhône-Alpes": "FRK", "Provence-Alpes-Côte d'Azur": "FRL", "Corse": "FRM", "DOM/TOM": "FRY",
}

#: Words that public tables write for "not given".
MISSING = {"", "Non renseigné", "NA", "N/A", "n/a", "null", "NULL", "None", "-"}


def sector(kind: str | None) -> str:
    """The 産学官 sector of an actor kind: industry, academia, government, or other."""
    return SECTOR.get(kind or "", "other")
