"""The atlas: an embedded DuckDB file with inputs, reference data and results."""

from clusteratlas.metrics.run import MapRun, MapSpec
from clusteratlas.store.atlas import DEFAULT_PATH, Atlas, ImportReport
from clusteratlas.store.export import write_table

__all__ = ["DEFAULT_PATH", "Atlas", "ImportReport", "MapRun", "MapSpec", "write_table"]
