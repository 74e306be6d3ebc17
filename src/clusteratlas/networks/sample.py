"""The demo's small co-participation network, shipped as a data file beside the package (not in the CLI).

Four projects in the sample economy's states S1–S3: a university and two
firms (S1), a technology licensing office that joins the university to an
eastern battery maker and a prefectural research institute (S2), and a
southern cell maker reached only through the battery maker (S3). The
licensing office and the battery maker are the brokers the demo shows.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DEMO_PARTICIPATIONS = "demo_participations.csv"


def demo_participations_path() -> Path:
    """The path of the demo network's participation file (project, actor, role, type, region, name)."""
    return Path(str(resources.files("clusteratlas.networks") / "data" / DEMO_PARTICIPATIONS))
