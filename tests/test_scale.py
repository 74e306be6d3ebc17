"""Import at scale (issue 13): typed sources are checked on their own types, with the same results and errors.

A typed file (Parquet) must not be cast to text and back: its numeric columns
keep their types in the staged view, its plain codes are taken as they are,
and every check still finds what it found on text, on the same line.
"""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from clusteratlas import Atlas, model
from clusteratlas._sql import connect
from clusteratlas.errors import InputError
from clusteratlas.sources.files import open_relation
from clusteratlas.sources.generic import CODE_COLUMNS, _select_columns, stage
from tests.conftest import atlas_fingerprint, invoke, query_atlas


def _parquet(path: Path, **columns) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


def _typed(**overrides):
    base = {"region": ["R1", "R1", "R2"], "industry": ["a", "b", "a"], "year": pa.array([2020, 2020, 2020], pa.int32()),
            "employment": pa.array([5.0, 7.0, 9.0]), "establishments": pa.array([1, 2, 3], pa.int64())}
    base.update(overrides)
    return base


def test_typed_numeric_columns_are_not_cast_to_text(tmp_path):
    data = _parquet(tmp_path / "obs.parquet", **_typed())
    con = connect()
    raw = open_relation(con, data)
    items = _select_columns(con.table(raw), model.TABLES["observations"], {}, str(data),
                            CODE_COLUMNS["observations"])
    selected = " ".join(items)
    for name in ("year", "employment", "establishments", "region", "industry"):
        assert f'"{name}"::VARCHAR' not in selected, selected
    # a CSV's numbers still come as text (their values are checked as written); codes that are not
    # plain ASCII go through the normalisation, plain ones are taken as they are
    csv = tmp_path / "obs.csv"
    csv.write_text("region,industry,year,employment\nR1,\uff41,2020,5\n", encoding="utf-8")
    raw = open_relation(con, csv)
    items = dict(zip(("region", "industry", "year", "employment"), _select_columns(
        con.table(raw), model.TABLES["observations"], {}, str(csv), CODE_COLUMNS["observations"]), strict=False))
    assert "clusteratlas_code" not in items["region"]
    assert "clusteratlas_code" in items["industry"]
    assert "trim" in items["employment"]


def test_typed_and_text_files_store_the_same_rows(tmp_path):
    parquet = _parquet(tmp_path / "obs.parquet", **_typed())
    csv = tmp_path / "obs.csv"
    csv.write_text("region,industry,year,employment,establishments\nR1,a,2020,5,1\nR1,b,2020,7,2\n"
                   "R2,a,2020,9,3\n")
    stored = []
    for data in (parquet, csv):
        path = tmp_path / f"{data.suffix[1:]}.duckdb"
        with Atlas(path, create=True) as a:
            a.import_file("observations", data, name="obs")
        stored.append(query_atlas(path, "SELECT * FROM observations ORDER BY region, industry"))
    assert stored[0] == stored[1]
    assert len(stored[0]) == 3


@pytest.mark.parametrize(("column", "values", "line", "problem", "value"), [
    ("employment", pa.array([5.0, -1.0, 9.0]), 3, "negative value", "-1.0"),
    ("employment", pa.array([5.0, 7.0, float("nan")]), 4, "not a finite number", "nan"),
    ("payroll", pa.array([5.0, float("inf"), 9.0]), 3, "not a finite number", "inf"),
    ("employment", pa.array([5.0, None, 9.0]), 3, "value is empty", None),
    ("year", pa.array([2020.0, 2020.5, 2020.0]), 3, "not a whole year", "2020.5"),
    ("year", pa.array([2020, 1700, 2020], pa.int32()), 3, "year out of range", "1700"),
    ("establishments", pa.array([1, -2, 3], pa.int64()), 3, "negative value", "-2"),
    ("region", ["R1", "R\u200b1", "R2"], 3, "U+200B ZERO WIDTH SPACE", None),
    ("industry", ["a", "b", "x" * 65], 4, "the code is 65 characters long", None),
])
def test_typed_files_fail_on_the_same_line(tmp_path, column, values, line, problem, value):
    data = _parquet(tmp_path / "obs.parquet", **_typed(**{column: values}))
    with pytest.raises(InputError) as info:
        stage(connect(), data, "observations")
    err = info.value
    assert err.row == line
    assert err.column == column
    assert problem in str(err)
    if value is not None:
        assert err.value == value


def test_typed_codes_are_normalised(tmp_path):
    # full-width codes with blanks in a Parquet file: normalised like a CSV's (NFKC, trimmed)
    data = _parquet(tmp_path / "obs.parquet", **_typed(region=["\uff32\uff11 ", "R1", "R2"]))
    con = connect()
    staged = stage(con, data, "observations")
    rows = con.execute(f"SELECT DISTINCT region FROM {staged.view} ORDER BY 1").fetchall()
    assert rows == [("R1",), ("R2",)]


def test_typed_duplicate_keys_name_both_lines(tmp_path):
    data = _parquet(tmp_path / "obs.parquet", **_typed(industry=["a", "b", "a"], region=["R1", "R2", "R1"]))
    with pytest.raises(InputError, match=r"duplicate rows for region=R1, industry=a, year=2020 \(lines 2 and 4"):
        stage(connect(), data, "observations")


def test_memory_is_bounded_by_default_and_spills_to_a_folder(monkeypatch, tmp_path):
    from clusteratlas import _sql

    monkeypatch.delenv(_sql.MEMORY_LIMIT_ENV, raising=False)
    monkeypatch.delenv(_sql.TEMP_DIR_ENV, raising=False)
    con = connect()
    limit, folder = con.execute("SELECT current_setting('memory_limit'), current_setting('temp_directory')"
                                ).fetchall()[0]
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    expected = min(max(ram // 32, 512 << 20), 4 << 30)
    value, unit = limit.split()
    assert unit == "MiB" and abs(float(value) * (1 << 20) - expected) < 0.1 * expected
    assert Path(folder).is_dir()
    monkeypatch.setenv(_sql.TEMP_DIR_ENV, str(tmp_path / "spill"))
    con = connect(memory_limit="100MB")
    assert con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0] == str(tmp_path / "spill")
    # a query larger than the limit completes by spilling
    assert con.execute("SELECT count(*) FROM (SELECT range % 5000000 AS k, count(*) FROM range(10000000) "
                       "GROUP BY k)").fetchall()[0][0] == 5_000_000


def test_progress_reports_the_running_query():
    from clusteratlas._sql import progress

    con = connect()
    seen: list[float] = []
    with progress(con, seen.append, every=0.05):
        con.execute("SELECT count(DISTINCT hash(range)) FROM range(30000000)").fetchall()
    assert seen and all(0 <= p <= 100 for p in seen)


def test_out_of_memory_is_a_clean_error_and_keeps_the_stored_results(runner, mapped_atlas):
    """DuckDB's out-of-memory error: one message naming the limit to raise, exit 2, stored results kept."""
    before = atlas_fingerprint(mapped_atlas)
    res = invoke(runner, "map", "--atlas", mapped_atlas, "--memory-limit", "2MB")
    assert res.exit_code == 2, res.output
    message = " ".join(res.stderr.split())
    assert "DuckDB ran out of memory" in message and "--memory-limit" in message and "Traceback" not in res.output
    assert atlas_fingerprint(mapped_atlas) == before


def _rows(path: Path, table: str) -> list[tuple]:
    return query_atlas(path, f"SELECT * FROM {table} ORDER BY ALL")


def _same_rows(left: list[tuple], right: list[tuple]) -> None:
    assert len(left) == len(right)
    for a, b in zip(left, right, strict=True):
        for x, y in zip(a, b, strict=True):
            assert x == (pytest.approx(y, rel=1e-9, nan_ok=True) if isinstance(y, float) else y), (a, b)


def test_map_in_region_parts_gives_the_same_results(monkeypatch, tmp_path, sample_files):
    """600 M rows need the big groupings cut into ranges of regions (issue 13): the results must not change.

    With a tiny memory budget per group every map is cut into many parts,
    including the rolled-up state and custom regions (codes outside the
    observed regions' ranges) and the peer quantiles per year.
    """
    from clusteratlas.metrics import _engine

    atlases = {}
    # "parts": many parts, each sorted as it is written; "unsorted": many parts left in their order (600 M rows)
    for name, per_group, sorted_parts in (("whole", None, None), ("parts", 10**9, 10**6), ("unsorted", 10**9, 0)):
        if per_group:
            monkeypatch.setattr(_engine, "BYTES_PER_GROUP", per_group)
            monkeypatch.setattr(_engine, "MAX_SORTED_PARTS", sorted_parts)
            monkeypatch.setattr(_engine, "QUANTILE_BYTES_PER_ROW", 10**9)  # each year's quantiles alone
        path = atlases[name] = tmp_path / f"{name}.duckdb"
        with Atlas(path, create=True) as atlas:
            for kind in ("regions", "custom-regions", "definitions", "observations"):
                atlas.import_file(kind, sample_files[kind], name="sample")
            if per_group:
                obs = _engine.nw.from_native(atlas.con.sql("SELECT * FROM observations"))
                parts = _engine.Engine(atlas.con).region_parts(obs, groups_per_region=1)
                assert len(parts) > 3
            atlas.map(levels=["state", "custom"])
    assert _rows(atlases["parts"], "results_clusters")
    for table in ("results_clusters", "results_regions", "results_unmapped"):
        _same_rows(_rows(atlases["whole"], table), _rows(atlases["parts"], table))
        _same_rows(_rows(atlases["whole"], table), _rows(atlases["unsorted"], table))
    levels = {r[0] for r in query_atlas(atlases["parts"], "SELECT DISTINCT level FROM results_clusters")}
    assert {"state", "custom"} <= levels
    # each part stored sorted by level, year, region, cluster (the API's lookups skip row groups): the table
    # is a run of sorted parts, one for each range of regions, each holding its rows of every level and year
    def runs(name: str) -> list[list[tuple]]:
        """The stored rows in their order, cut where the order descends: the table's sorted runs."""
        con = duckdb.connect(str(atlases[name]), read_only=True, config={"preserve_insertion_order": True})
        stored = con.execute("SELECT level, year, region, cluster FROM results_clusters").fetchall()
        con.close()
        breaks = [i + 1 for i, (a, b) in enumerate(itertools.pairwise(stored)) if a > b]
        return [stored[lo:hi] for lo, hi in itertools.pairwise([0, *breaks, len(stored)])]

    # the parts written sorted: at most one run a part (many more if a part were stored in no order), each run
    # holding several levels and years, so each run is a whole part sorted, not a slice of one
    assert 1 < len(runs("parts")) <= len(parts)
    assert all(len({(level, year) for level, year, *_ in run}) > 1 for run in runs("parts"))
    assert len(runs("unsorted")) > 10 * len(parts)  # the check tells sorted parts from unsorted ones


def test_region_parts_cover_every_code_once():
    """The ranges are open at both ends: a code below the first or above the last observed region is in one part."""
    import narwhals as nw

    from clusteratlas.metrics import _engine

    con = connect(memory_limit="64MB")
    obs = nw.from_native(con.sql("SELECT 'R' || lpad(i::VARCHAR, 3, '0') AS region FROM range(200) t(i)"))
    parts = _engine.Engine(con).region_parts(obs, groups_per_region=10**6)
    assert len(parts) > 1
    codes = nw.from_native(con.sql("SELECT * FROM (VALUES ('0'), ('R000'), ('R100'), ('R199'), ('ZZZ')) t(region)"))
    hits = [codes.filter(part).collect()["region"].to_list() for part in parts]
    assert sorted(c for hit in hits for c in hit) == ["0", "R000", "R100", "R199", "ZZZ"]
    assert len(_engine.Engine(con).region_parts(obs, groups_per_region=1)) == 1  # 200 groups fit: no cut
    assert _engine.Engine().region_parts(obs, groups_per_region=10**6) == [None]  # not cut without a connection


def test_quantile_batches_hold_as_many_years_as_fit():
    """Consecutive years while their rows fit the memory limit together; a year too big alone still gets a batch."""
    from clusteratlas.metrics import _engine

    con = connect(memory_limit="100KB")
    fit = _engine.memory_limit_bytes(con) // _engine.QUANTILE_BYTES_PER_ROW
    rows = {2002: fit // 2, 2000: fit // 4, 2001: fit // 4, 2003: fit * 3, 2004: 1}
    assert _engine.Engine(con).quantile_batches(rows) == [[2000, 2001, 2002], [2003], [2004]]
    assert _engine.Engine().quantile_batches(rows) == [[2000], [2001], [2002], [2003], [2004]]


@pytest.mark.parametrize("limit, expected", [("3GB", 3e9), ("100KB", 1e5), ("750MB", 7.5e8)])
def test_memory_limit_is_read_back_in_bytes(limit, expected):
    """The parts are sized from DuckDB's limit, which it reports as text rounded to 0.1 of a unit ("2.7 GiB")."""
    from clusteratlas.metrics._engine import memory_limit_bytes

    assert memory_limit_bytes(connect(memory_limit=limit)) == pytest.approx(expected, rel=0.05)


def test_parts_written_in_order_let_a_filter_on_that_order_skip_row_groups(monkeypatch):
    """``checkpoint_parts(part_order=("year",))`` writes each part's rows by year, in its parts' order: a filter
    on one year then reads a row group or two of each part, not the whole table (the per-year peer
    quantiles at 600 M rows read 2.4 GB a year before), and a filter on a part's regions still skips the
    other parts."""
    import narwhals as nw

    from clusteratlas.metrics import _engine

    monkeypatch.setattr(_engine, "MAX_SORTED_PARTS", 2)  # 3 parts count as many
    con = connect(memory_limit="512MB")
    # 3 parts of 20 years × 15,000 regions' rows (300,000 rows, several row groups each), years shuffled
    source = ("SELECT 'R' || lpad((p * 15000 + i % 15000)::VARCHAR, 6, '0') AS region, 2000 + (i * 7919) % 20 "
              "AS year, i::DOUBLE AS employment FROM range(3) t(p), range(300000) s(i) WHERE p = {}")
    engine = _engine.Engine(con)
    stored = engine.checkpoint_parts((nw.from_native(con.sql(source.format(p))) for p in range(3)),
                                     part_order=("year",))
    name = engine._tables[id(stored)]
    stats = con.execute("SELECT row_group_id, column_name, stats FROM pragma_storage_info(?) "
                        "WHERE segment_type <> 'VALIDITY' AND column_name IN ('year', 'region')", [name]).fetchall()
    groups = {}
    for row_group, column, text in stats:
        low, high = (re.search(rf"'{b}': '?([^,'}}]+)", str(text)).group(1) for b in ("min", "max"))
        groups.setdefault(row_group, {})[column] = (low, high)
    assert len(groups) >= 6
    one_year = [g for g in groups.values() if g["year"][0] <= "2010" <= g["year"][1]]
    assert len(one_year) <= 2 * 3  # at most two row groups a part hold 2010
    one_part = [g for g in groups.values() if g["region"][0] <= "R015000" <= g["region"][1]]
    assert len(one_part) <= len(groups) // 2  # the parts' regions do not mix
    rows = con.execute(f"SELECT count(*), sum(employment) FROM {name}").fetchall()[0]
    assert rows == (900000, 3 * sum(range(300000)))
