"""The ``clusteratlas`` command line: a thin layer over the Python API, one module per command group.

Errors in the user's input print one message and exit with code 2; no
traceback. Long steps show a spinner with the elapsed time.
"""

from importlib import import_module

from clusteratlas.cli._common import app, failing_cleanly, run

# Importing a group's module registers its commands; this order is the order of ``--help``.
COMMAND_GROUPS = ("data", "mapping", "relating", "references", "evaluate", "network", "serve", "publishing")
for _group in COMMAND_GROUPS:
    import_module(f"clusteratlas.cli.{_group}")

__all__ = ["COMMAND_GROUPS", "app", "failing_cleanly", "run"]
