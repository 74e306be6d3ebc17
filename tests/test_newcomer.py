"""Issue 22, the newcomer's list (items 3 to 6): the demo shows every part of the observatory and leaves nothing
behind, the CLI finds regions and clusters by name, what is shown is explained, and the smaller fixes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from clusteratlas.api import build_demo_atlas
from clusteratlas.server import Settings, create_app
from tests.conftest import invoke, query_atlas

API = "/api/v1"


@pytest.fixture(autouse=True)
def english_again():
    """A command run with --lang ja sets the process's language: back to English after each test."""
    yield
    from clusteratlas import i18n

    i18n.set_language("en")


@pytest.fixture(scope="module")
def demo_atlas(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    steps: dict[str, int] = {}
    build_demo_atlas(path, on_step=steps.__setitem__)
    assert all(n > 0 for n in steps.values()), steps
    return path


@pytest.fixture(scope="module")
def cli_atlas(demo_atlas, tmp_path_factory) -> Path:
    """A copy of the demo atlas for the command line (the pages' server holds the first one open)."""
    import shutil

    return Path(shutil.copyfile(demo_atlas, tmp_path_factory.mktemp("cli") / "demo.duckdb"))


@pytest.fixture(scope="module")
def demo_client(demo_atlas):
    with TestClient(create_app(Settings(atlas=str(demo_atlas), read_only=True, warm=False))) as c:
        yield c


# ------------------------------------------------------------------ item 4: the demo
def test_demo_leaves_nothing_in_the_temporary_folder(tmp_path):
    """The demo, run as a user runs it, in a process of its own whose temporary folder is watched (it left a
    9.3 MB folder there per run)."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "COLUMNS": "100"}
    env.pop("CLUSTERATLAS_TEMP_DIR", None)
    done = subprocess.run([sys.executable, "-c", "from clusteratlas.cli import run; run()", "demo"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "Automotive" in done.stdout and "Spin-off tree" in done.stdout
    assert list(tmp.iterdir()) == []


def test_demo_atlas_has_every_part_of_the_observatory(demo_atlas):
    counts = {table: query_atlas(demo_atlas, f"SELECT count(*) FROM {table}")[0][0] for table in (
        "results_clusters", "relate_cells", "relate_pairs", "shift_share", "hotspots", "indicators",
        "assessments", "geometries", "actors", "actor_ties", "network_metrics")}
    assert all(counts.values()), counts
    assert query_atlas(demo_atlas, "SELECT count(*) FROM hotspots WHERE significant AND quadrant = 1")[0][0] > 0
    assert query_atlas(demo_atlas, "SELECT level, count(eci) FROM relate_regions GROUP BY ALL ORDER BY 1") == [
        ("county", 36), ("state", 6)]
    # industries are real NAICS codes of the clusters that hold them, named in both languages
    named = dict(query_atlas(demo_atlas, "SELECT i.industry, i.name_ja FROM industries i JOIN definitions d "
                                         "USING (industry) WHERE d.cluster = 'C01'"))
    assert named["336111"] == "自動車製造業" and all(code.startswith(("3361", "3362", "3363", "3315"))
                                                 for code in named)


def _routes(client) -> list[str]:
    """Every GET route of the API (from its OpenAPI document), its path parameters filled with demo values."""
    values = {"{region}": "S2C3", "{cluster}": "C09", "{of}": "regions", "{indicator}": "patents",
              "{framework}": "nistep-jp-15", "{assessment}": "demo-east-bio", "{level}": "county"}
    spec = client.get("/api/openapi.json").json()
    urls = []
    for path, ops in spec["paths"].items():
        if "get" not in ops or path in (f"{API}/tokens", f"{API}/writes"):  # admin only; writes made over HTTP
            continue
        for key, value in values.items():
            path = path.replace(key, value)
        urls.append(path + ("?regions=S1C1,S2C3" if path.endswith("/compare") else ""))
    return urls


def test_every_api_route_shows_something_on_the_demo(demo_client):
    urls = _routes(demo_client)
    assert len(urls) > 25
    empty = []
    for url in urls:
        r = demo_client.get(url)
        assert r.status_code == 200, (url, r.text[:300])
        body = r.json()
        data = body.get("data", body) if isinstance(body, dict) else body
        if not data:
            empty.append(url)
    assert not empty, empty


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_every_page_shows_something_on_the_demo(demo_client, lang):
    from clusteratlas.server.web import translate

    missing = [translate(lang, m) for m in (
        "No assessments yet.", "No relatedness results yet (run 'clusteratlas relate').",
        "No relatedness results for this level yet (run 'clusteratlas relate').",
        "No hot-spot results yet (run 'clusteratlas hotspots').", "No indicators for this region.",
        "No map for this level (import one with 'clusteratlas import geometry').")]
    pages = ["/", "/search?q=county", "/regions/S2C3", "/regions/S1",
             "/clusters/C09?classes=hotspots&level=county", "/clusters/C02", "/compare?regions=S1C1,S2C3,S3C2",
             "/evaluations"]
    for page in pages:
        r = demo_client.get(page + ("&" if "?" in page else "?") + f"lang={lang}")
        assert r.status_code == 200, (page, r.text[:300])
        said = [m for m in missing if m in r.text]
        assert not said, (page, said)
    # assessed regions show their assessments; the custom region (alone at its level: no relatedness, no shape)
    # is the demo's cluster programme
    for region, assessment in (("S2C3", "demo-east-bio"), ("CORRIDOR", "demo-corridor-programme")):
        page = demo_client.get(f"/regions/{region}?lang={lang}").text
        assert assessment in page and translate(lang, "No assessment of this region's clusters.") not in page


# ------------------------------------------------------------------ item 3: names on the command line
@pytest.mark.parametrize(("kind", "typed", "code", "how"), [
    ("region", "東第3郡", "S2C3", "its name"), ("region", "ＥＡＳＴ county 3", "S2C3", "its name"),
    ("region", "corridor", "CORRIDOR", "its name"), ("region", "S2C3", "S2C3", None),
    ("cluster", "Automotive", "C01", "its name"), ("cluster", "あぱれる", "C05", "its name"),
    ("cluster", "ｱﾊﾟﾚﾙ", "C05", "its name"), ("cluster", "biopharm", "C02", "the only name that contains it")])
def test_show_finds_regions_and_clusters_by_name_in_either_language(runner, cli_atlas, kind, typed, code, how):
    res = invoke(runner, "show", kind, typed, "--atlas", cli_atlas)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    if how is None:
        assert "found by" not in text
    else:
        assert f"'{typed}' is" in text and f"({code}), found by {how}" in text, text
    assert f"({code})" in text.split("found by")[-1]  # and the table is that one's


def test_several_matches_are_listed_and_none_is_a_clear_error(runner, cli_atlas):
    res = invoke(runner, "show", "region", "county 3", "--atlas", cli_atlas)
    message = " ".join(res.stderr.split())
    assert res.exit_code == 2 and "several regions match" in message
    assert all(f"S{s}C3" in message for s in range(1, 7)) and "Give the code, or more of the name" in message
    res = invoke(runner, "--lang", "ja", "show", "cluster", "造船", "--atlas", cli_atlas)
    message = " ".join(res.stderr.split())
    assert res.exit_code == 2 and "C01" in message and "unknown cluster" not in message, message


def test_the_command_line_and_the_search_box_share_one_forgiving_match():
    from clusteratlas.queries import lookup
    from clusteratlas.server import web

    assert web.search is lookup.search and web.search_variants is lookup.search_variants
    assert lookup.fold("ｱﾊﾟﾚﾙ") == lookup.fold("あぱれる") == lookup.fold("アパレル")
    assert lookup.fold("ＡＰＰＡＲＥＬ") == lookup.fold("apparel")
