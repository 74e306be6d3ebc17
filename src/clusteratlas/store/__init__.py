"""The atlas: an embedded DuckDB file with inputs, reference data and results."""

from clusteratlas.store.atlas import DEFAULT_PATH, Atlas, ImportReport, MapSummary
from clusteratlas.store.export import write_table

__all__ = ["DEFAULT_PATH", "Atlas", "ImportReport", "MapSummary", "write_table"]
