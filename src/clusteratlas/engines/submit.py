"""The file ``spark-submit`` runs: the clusteratlas command line on a Spark driver.

``python -m clusteratlas.engines.submit`` prints this file's path, so a
cluster run reads::

    spark-submit --master yarn "$(python -m clusteratlas.engines.submit)" \\
        map --engine spark --data hdfs:///obs --clusters hdfs:///defs.csv --out hdfs:///results

Under ``spark-submit`` the arguments are those of ``clusteratlas``; the
session takes its master and resources from the submit command.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":
    if len(sys.argv) == 1:
        print(__file__)
    else:
        from clusteratlas.cli import run

        sys.argv[0] = "clusteratlas"
        run()
