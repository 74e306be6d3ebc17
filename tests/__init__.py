"""The test suite. Runs before any test module imports clusteratlas."""

import os

# pytest-xdist's workers inherit COLUMNS=80 from their start-up; the CLI's rich consoles, made when
# clusteratlas.cli is imported, would keep that width for good, and the tests' CliRunner(env={"COLUMNS": ...})
# would not widen them as it does in one process.
os.environ.pop("COLUMNS", None)
