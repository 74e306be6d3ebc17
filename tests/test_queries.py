"""The query layer (clusteratlas.queries) on the sample atlas, checked against plain Python over the stored rows."""

from __future__ import annotations

import math

import duckdb
import pytest

from clusteratlas import queries as Q
from clusteratlas.errors import InputError
from clusteratlas.queries._core import decode_cursor, encode_cursor, finite, sort_clause


@pytest.fixture(scope="module")
def con(tmp_path_factory, sample_files):
    from clusteratlas import Atlas

    path = tmp_path_factory.mktemp("queries") / "atlas.duckdb"
    with Atlas(path, create=True) as atlas:
        for kind in ("regions", "custom-regions", "definitions", "observations"):
            atlas.import_file(kind, sample_files[kind], name="sample")
        atlas.map(levels=["state", "custom"])
    c = duckdb.connect(str(path), read_only=True)
    yield c
    c.close()


def _all(con, table):
    return con.sql(f"SELECT * FROM {table}").to_arrow_table().to_pylist()


def test_region_search_by_english_and_japanese_names_level_and_parent(con):
    regions = _all(con, "regions")
    east = Q.list_regions(con, q="east", limit=1000).rows()
    assert {r["region"] for r in east} == {r["region"] for r in regions if "east" in (r["name"] or "").lower()}
    ja = Q.list_regions(con, q="東", limit=1000).rows()
    assert {r["region"] for r in ja} == {r["region"] for r in regions if "東" in (r["name_ja"] or "")}
    states = Q.list_regions(con, level="state", limit=1000).rows()
    assert {r["region"] for r in states} == {r["region"] for r in regions if r["level"] == "state"}
    children = {r["region"] for r in Q.list_regions(con, parent="S2", limit=1000).rows()}
    links = con.execute("SELECT region FROM region_links WHERE parent = 'S2'").fetchall()
    assert children == {r[0] for r in links} and children


def test_levels_of_each_mapped_region_and_cluster(con):
    """What the static edition publishes (a page per item and level; one page for an item of one level)."""
    for kind, table in (("region", "results_regions"), ("cluster", "results_clusters")):
        expected: dict[str, set[str]] = {}
        for row in _all(con, table):
            expected.setdefault(row[kind], set()).add(row["level"])
        got = Q.region_levels(con) if kind == "region" else Q.cluster_levels(con)
        assert list(got) == sorted(expected) and {k: set(v) for k, v in got.items()} == expected
        assert all(v == sorted(v) for v in got.values())
    levels = Q.region_levels(con)
    assert levels["S1C1"] == ["county"] and levels["S1"] == ["state"]  # counties observed, states added by map
    assert set(Q.cluster_levels(con)["C01"]) == {"county", "state", "custom"}


def test_known_regions_are_the_region_list_and_mapped_regions_not_in_it(con):
    listed = {r["region"]: (r["name"], r["name_ja"], r["level"]) for r in _all(con, "regions")}
    unlisted = {(r["region"], r["level"]) for r in _all(con, "results_regions") if r["region"] not in listed}
    known = Q.known_regions(con)
    assert [(r["level"], r["region"]) for r in known] == sorted((r["level"], r["region"]) for r in known)
    assert {r["region"]: (r["name"], r["name_ja"], r["level"]) for r in known if r["region"] in listed} == listed
    assert {(r["region"], r["level"]) for r in known if r["region"] not in listed} == unlisted
    assert len(known) == len(listed) + len(unlisted)
    # the rows the search looks through: list_regions pages them
    assert len(known) == Q.list_regions(con, limit=1).meta["total"]


def test_region_pages_cover_every_region_once(con):
    seen, cursor = [], None
    while True:
        page = Q.list_regions(con, limit=4, cursor=cursor)
        seen += [r["region"] for r in page.rows()]
        cursor = page.meta["next"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == page.meta["total"]


def test_region_profile_lists_every_cluster_with_jobs(con):
    profile = Q.region_profile(con, "S2C3")
    stored = [r for r in _all(con, "results_clusters")
              if r["region"] == "S2C3" and r["year"] == profile.year and r["employment"] > 0]
    assert sorted(profile.clusters["cluster"].to_pylist()) == sorted(r["cluster"] for r in stored)
    assert set(profile.clusters.column_names) >= set(stored[0])  # every metric
    assert profile.series["year"].to_pylist() == sorted({r["year"] for r in _all(con, "results_regions")})
    assert profile.notes  # no relate run: says how to get opportunities


def test_cluster_ranking_by_any_metric_matches_a_plain_sort(con):
    level, year = "county", Q.list_clusters(con).meta["year"]
    rows = [r for r in _all(con, "results_clusters")
            if r["cluster"] == "C03" and r["level"] == level and r["year"] == year]
    for metric in ("lq", "employment", "employment_cagr", "stars"):
        got = Q.cluster_ranking(con, "C03", metric=metric, level=level, top=5).rows()
        want = sorted(rows, key=lambda r: (-(r[metric] if r[metric] is not None and not math.isnan(r[metric])
                                              else -math.inf), r["region"]))[:5]
        assert [r["region"] for r in got] == [r["region"] for r in want], metric
        assert [r["rank"] for r in got] == [1, 2, 3, 4, 5]


def test_map_layer_has_every_region_of_the_level(con):
    layer = Q.map_layer(con, "C01", level="state")
    states = {r["region"] for r in _all(con, "results_clusters") if r["level"] == "state" and r["cluster"] == "C01"}
    assert set(layer.table["region"].to_pylist()) == states


def test_results_filters_sort_and_pages(con):
    f = Q.ResultFilters(level="county", stars_min=1, strong=True)
    full = Q.results(con, f, sort="-lq", limit=10_000).rows()
    want = [r for r in _all(con, "results_clusters")
            if r["level"] == "county" and r["stars"] >= 1 and r["strong"]]
    assert len(full) == len(want)
    lqs = [r["lq"] for r in full]
    assert lqs == sorted(lqs, reverse=True)
    pages, cursor = [], None
    while True:
        page = Q.results(con, f, sort="-lq", limit=3, cursor=cursor)
        pages += page.rows()
        cursor = page.meta["next"]
        if not cursor:
            break
    assert pages == full


def test_compare_takes_two_to_twenty_five_regions(con):
    table = Q.compare_regions(con, ["S1", "S2", "S3"]).table
    assert set(table["region"].to_pylist()) == {"S1", "S2", "S3"}
    with pytest.raises(InputError, match="2 to 25"):
        Q.compare_regions(con, ["S1"])
    with pytest.raises(InputError, match="2 to 25"):
        Q.compare_regions(con, [f"R{i}" for i in range(26)])


def test_unknown_ids_name_close_matches(con):
    with pytest.raises(Q.NotFound) as err:
        Q.region_profile(con, "S2C33")
    assert "S2C3" in err.value.close_matches
    with pytest.raises(Q.NotFound):
        Q.cluster_profile(con, "C999")
    with pytest.raises(Q.Missing):
        Q.related_clusters(con, "C01")  # no relate run yet


@pytest.mark.parametrize("bad", ['lq"; DROP TABLE regions; --', "lq DESC, (SELECT 1)", "../x"])
def test_sort_and_metric_names_are_checked_not_pasted(con, bad):
    with pytest.raises(InputError):
        sort_clause(bad, ["lq", "region"], "region")
    with pytest.raises(InputError):
        Q.cluster_ranking(con, "C01", metric=bad)


def test_cursors_are_tied_to_their_query():
    cursor = encode_cursor(20, "abc")
    assert decode_cursor(cursor, "abc") == 20
    for other in ("def",):
        with pytest.raises(InputError, match="another query"):
            decode_cursor(cursor, other)
    with pytest.raises(InputError, match="bad cursor"):
        decode_cursor("%%%", "abc")


def test_non_finite_numbers_become_null():
    import pyarrow as pa

    t = finite(pa.table({"x": [1.0, float("nan"), float("inf"), None]}))
    assert t["x"].to_pylist() == [1.0, None, None, None]


def test_provenance_names_the_map_run_and_sources(con, tmp_path):
    prov = Q.provenance(con, "atlas.duckdb")
    assert prov.map_run.definition == "sample"
    assert prov.map_run.spec.params.specialisation_lq == 2.0
    assert {s.kind for s in prov.sources} == {"regions", "custom-regions", "definitions", "observations"}
    assert all(len(s.sha256) == 64 and "/" not in s.file for s in prov.sources)


def test_region_profile_ranks_by_stars_then_jobs_filters_small_cells_and_notes_few_peers(con):
    cells = [r for r in _all(con, "results_clusters") if r["region"] == "S2C3" and r["employment"]]
    year = max(r["year"] for r in cells)
    cells = [r for r in cells if r["year"] == year]
    got = Q.region_profile(con, "S2C3", opportunities=0)
    keys = [(r["stars"], r["employment"]) for r in got.clusters.to_pylist()]
    assert keys == sorted(((r["stars"], r["employment"]) for r in cells), reverse=True)
    floor = sorted(r["employment"] for r in cells)[len(cells) // 2]
    big = Q.region_profile(con, "S2C3", opportunities=0, min_employment=floor).clusters
    assert sorted(big["cluster"].to_pylist()) == sorted(r["cluster"] for r in cells if r["employment"] >= floor)
    n = len({r["region"] for r in _all(con, "results_clusters") if r["level"] == got.level and r["year"] == year})
    small = [x for x in got.notes if x.startswith("note: only")]
    assert (small == [] if n >= 100 else f"only {n} {got.level} regions" in small[0])
    assert not any("relate" in x for x in got.notes)  # opportunities not asked for: no note about them


def test_cluster_ranking_by_stars_keeps_the_top_by_the_metric_and_names_codes(con):
    by_jobs = Q.cluster_ranking(con, "C01", top=8)
    by_stars = Q.cluster_ranking(con, "C01", top=8, order="stars")
    assert set(by_jobs.table["region"].to_pylist()) == set(by_stars.table["region"].to_pylist())
    keys = [(r["stars"] or 0, r["employment"]) for r in by_stars.rows()]
    assert keys == sorted(keys, reverse=True)
    assert by_stars.meta["notes"] == Q.small_n_notes(con, by_stars.meta["level"], by_stars.meta["year"])
    floor = by_jobs.rows()[3]["employment"]
    assert all(r["employment"] >= floor for r in Q.cluster_ranking(con, "C01", min_employment=floor).rows())
    regions = Q.names(con, "region")
    assert {k: v for k, v in regions.items()} == {r["region"]: (r["name"], r["name_ja"]) for r in _all(con, "regions")
                                                   if r["name"] or r["name_ja"]}
    assert Q.names(con, "cluster")["C01"][0] == by_jobs.rows()[0]["cluster_name"]
