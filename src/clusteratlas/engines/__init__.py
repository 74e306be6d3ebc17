"""Engines beyond the default in-process DuckDB: Spark, for data beyond one machine.

The metrics are Narwhals expressions (:mod:`clusteratlas.metrics`) and run
unchanged on every engine; this package holds only what differs by engine:
reading the inputs, starting a session and writing the results. Spark is an
optional extra (``pip install "clusteratlas[spark]"``); nothing here imports
it until a Spark run starts.
"""

from __future__ import annotations

ENGINES = ("duckdb", "spark")
