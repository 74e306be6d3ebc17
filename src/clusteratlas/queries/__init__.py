"""The query layer: every question the CLI's ``show``, the REST API and the pages answer, in one place.

Each function takes a DuckDB connection to the atlas (read-only is enough)
and plain parameters, and returns a typed result: a :class:`TableResult`
(an Arrow table plus metadata) or a dataclass holding Arrow tables. No
function prints, formats or knows about HTTP, and every value reaches SQL
as a bound parameter (column names are checked against the table first).
"""

from clusteratlas.queries._core import MAX_PAGE, Missing, NotFound, TableResult
from clusteratlas.queries.analyses import (
    RelateRun,
    complexity,
    hotspot_summary,
    hotspots,
    indicator,
    indicator_names,
    region_indicators,
    relate_run,
    shift_share,
)
from clusteratlas.queries.classes import Classes, map_classes
from clusteratlas.queries.clusters import (
    ClusterProfile,
    cluster_levels,
    cluster_profile,
    cluster_profiles,
    cluster_ranking,
    cluster_rankings,
    list_clusters,
    map_layer,
    map_layers,
    metrics,
    names,
    related_clusters,
)
from clusteratlas.queries.evaluation import (
    AssessmentHistory,
    assessment,
    assessment_points,
    assessments,
    framework,
    frameworks,
    group_averages,
    programmes,
)
from clusteratlas.queries.geometry import geometry, geometry_levels
from clusteratlas.queries.lookup import Match, find_cluster, find_region, search, suggest
from clusteratlas.queries.overview import Overview, home_level, overview, region_index, strong_map
from clusteratlas.queries.provenance import Provenance, imports, map_runs, provenance, writes
from clusteratlas.queries.regions import (
    RegionProfile,
    compare_regions,
    known_regions,
    largest_differences,
    list_regions,
    peer_regions,
    region_clusters,
    region_levels,
    region_profile,
    region_profiles,
    region_top_series,
    small_n_notes,
    top_region,
)
from clusteratlas.queries.results import ResultFilters, results

__all__ = [
    "MAX_PAGE", "AssessmentHistory", "Classes", "ClusterProfile", "Match", "Missing", "NotFound", "Overview",
    "Provenance",
    "RegionProfile",
    "RelateRun", "ResultFilters", "TableResult", "assessment", "assessment_points", "assessments",
    "cluster_levels",
    "cluster_profile", "cluster_profiles",
    "cluster_ranking", "cluster_rankings",
    "compare_regions", "complexity", "find_cluster", "find_region", "framework", "frameworks", "geometry",
    "geometry_levels",
    "group_averages", "home_level", "hotspot_summary",
    "hotspots", "imports", "indicator", "indicator_names", "known_regions", "largest_differences",
    "list_clusters", "list_regions", "map_classes",
    "map_layer", "map_layers",
    "map_runs", "metrics", "names", "overview", "peer_regions", "programmes", "provenance", "region_clusters",
    "region_index",
    "region_indicators", "region_levels", "region_profile", "region_profiles", "region_top_series",
    "relate_run",
    "related_clusters", "results", "search", "shift_share", "small_n_notes", "strong_map", "suggest",
    "top_region", "writes",
]
