"""clusteratlas: an open cluster observatory.

Map regional industrial clusters from region × industry statistics
(location quotients, European Cluster Observatory stars, US Cluster
Mapping strong clusters, growth), store them in an embedded DuckDB atlas,
and show them in the terminal or export them.
"""

__version__ = "0.1.0"

from clusteratlas.api import Benchmark, FileMapReport, benchmark_definitions, map_files
from clusteratlas.errors import ClusterAtlasError, InputError
from clusteratlas.metrics import MapParams, MapResult, impute_suppressed, map_clusters
from clusteratlas.sample import generate_sample
from clusteratlas.sources.generic import read_table
from clusteratlas.store import Atlas

__all__ = [
    "Atlas", "Benchmark", "ClusterAtlasError", "FileMapReport", "InputError", "MapParams", "MapResult",
    "__version__", "benchmark_definitions", "generate_sample", "impute_suppressed", "map_clusters", "map_files",
    "read_table",
]
