"""Cluster-mapping metrics as engine-neutral (Narwhals) lazy expressions.

Pure functions: they take lazy frames and return lazy frames, read no
files and write nothing.
"""

from clusteratlas.metrics._engine import Engine
from clusteratlas.metrics.aggregate import roll_up, to_clusters, unmapped_industries
from clusteratlas.metrics.growth import add_growth, cagr, growth_between
from clusteratlas.metrics.imputation import impute_suppressed
from clusteratlas.metrics.params import MapParams
from clusteratlas.metrics.pipeline import CLUSTER_COLUMNS, REGION_COLUMNS, MapResult, map_clusters
from clusteratlas.metrics.ratings import peer_thresholds, rate
from clusteratlas.metrics.run import INPUT_RULES, MapFiles, MapInputs, MapRun, MapSpec, run_map
from clusteratlas.metrics.specialisation import location_quotients, region_totals

__all__ = [
    "CLUSTER_COLUMNS", "INPUT_RULES", "REGION_COLUMNS", "Engine", "MapFiles", "MapInputs", "MapParams", "MapResult",
    "MapRun", "MapSpec", "add_growth", "cagr", "growth_between", "impute_suppressed", "location_quotients",
    "map_clusters", "peer_thresholds", "rate", "region_totals", "roll_up", "run_map", "to_clusters",
    "unmapped_industries",
]
