"""Refresh the vendored Apache ECharts from the npm registry (``npm pack``): the minified build and its licence.

    python scripts/refresh_echarts.py [VERSION]      # default: the latest 5.x

Writes src/clusteratlas/server/web/static/echarts/{echarts.min.js,LICENSE,NOTICE,VERSION}. The pages load
ECharts from the package only (no CDN), so they work offline and behind firewalls.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

TARGET = Path(__file__).resolve().parents[1] / "src" / "clusteratlas" / "server" / "web" / "static" / "echarts"


def main(version: str = "5") -> None:
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(["npm", "pack", f"echarts@{version}", "--json"], cwd=tmp, check=True,
                              capture_output=True, text=True)
        name = json.loads(done.stdout)[0]["filename"]
        with tarfile.open(Path(tmp) / name) as tar:
            tar.extractall(tmp, filter="data")
        package = Path(tmp) / "package"
        TARGET.mkdir(parents=True, exist_ok=True)
        for part in ("dist/echarts.min.js", "LICENSE", "NOTICE"):
            shutil.copy2(package / part, TARGET / Path(part).name)
        found = json.loads((package / "package.json").read_text())["version"]
        (TARGET / "VERSION").write_text(found + "\n")
    print(f"ECharts {found} -> {TARGET}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
