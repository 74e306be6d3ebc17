"""The offline route: the benchmark from local files, and an offline error that says how (issue 9, item 15)."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

from tests.conftest import invoke, query_atlas, shared_file
from tests.test_benchmark import concordance_2012_2017  # noqa: F401  (a fixture)

ROOT = Path(__file__).resolve().parents[1]
NOWHERE = "http://127.0.0.1:9"  # nothing listens there: every download fails as when offline


def test_offline_error_names_the_options_that_take_files(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("CLUSTERATLAS_CACHE", str(tmp_path / "cache"))
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    res = invoke(runner, "reference", "us-benchmark", "--naics", "2017", "--atlas", atlas, "--base-url", NOWHERE,
                 "--concordance-url", NOWHERE)
    text = " ".join(res.stderr.split())
    assert res.exit_code == 2 and "are you offline" in text, res.output
    for option in ("--definitions", "--subclusters", "--concordance 2012_to_2017_NAICS.xlsx"):
        assert option in text
    # the definition given as a file, the concordance still missing: the same advice
    res = invoke(runner, "reference", "us-benchmark", "--naics", "2017", "--atlas", atlas, "--definitions",
                 shared_file("clusters/cmp_naics_to_cluster.csv"), "--concordance-url", NOWHERE)
    text = " ".join(res.stderr.split())
    assert res.exit_code == 2 and "NAICS 2012→2017 concordance" in text and "--concordance" in text
    assert "Traceback" not in res.output


def test_readme_offline_route_runs_without_network(runner, tmp_path, monkeypatch, concordance_2012_2017):  # noqa: F811
    """The README's offline commands, with the shared data files standing in for the user's files."""
    for env in ("CMP", "NAICS", "CBP"):
        monkeypatch.setenv(f"CLUSTERATLAS_{env}_BASE_URL", NOWHERE)
    monkeypatch.setenv("CLUSTERATLAS_CACHE", str(tmp_path / "cache"))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"\*\*Offline\*\*.*?```bash\n(.*?)```", readme, flags=re.S).group(1)
    commands = [line.split() for line in block.replace("\\\n", " ").splitlines() if line.strip()]
    cbp = tmp_path / "cbp19msa.txt"
    cbp.write_bytes(gzip.decompress(shared_file("us/cbp2019_cbsa_naics2017_emp_est.csv.gz").read_bytes()))
    files = {"cbp19msa.txt": cbp, "cmp_clusters.json": shared_file("clusters/cmp_naics_to_cluster.csv"),
             "subclusters.csv": shared_file("clusters/naics_to_cluster_subcluster_noco_redi.csv"),
             "2012_to_2017_NAICS.xlsx": concordance_2012_2017, "us.duckdb": tmp_path / "us.duckdb"}
    assert [c[:2] for c in commands] == [["clusteratlas", "init"], ["clusteratlas", "import"],
                                         ["clusteratlas", "reference"], ["clusteratlas", "map"]]
    for command in commands:
        res = invoke(runner, *[str(files.get(arg, arg)) for arg in command[1:]])
        assert res.exit_code == 0, res.output
    share = query_atlas(tmp_path / "us.duckdb", "SELECT count(*) FROM definitions WHERE definition = "
                                                "'us-benchmark' AND subcluster IS NOT NULL")[0][0]
    assert share > 500  # subclusters came from the local file
    assert not list((tmp_path / "cache").glob("*/*"))  # nothing was downloaded or cached
