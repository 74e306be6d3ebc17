"""Issue 19 item 10: Horizon 2020 (CORDIS) roles as published and the EU contribution, kept and shown."""

from __future__ import annotations

import duckdb
import pytest

from clusteratlas.networks import importers
from clusteratlas.networks.queries import contributions
from clusteratlas.store import Atlas
from tests.conftest import invoke, query_atlas, shared_file

HEADER = "rcn,role,pic,type,contribution,country,start_year\n"


def _participations(tmp_path, rows: str):
    path = tmp_path / "h2020.csv"
    path.write_text(HEADER + rows, encoding="utf-8")
    return path


def test_roles_as_published_and_the_contribution_are_kept(tmp_path, runner):
    path = _participations(tmp_path, "1,coordinator,A,PRC,1000.5,DE,2015\n1,participant,B,HES,2000,FR,2015\n"
                                     "1,partner,C,PRC,NA,DE,2015\n2,coordinator,B,HES,300,FR,2016\n"
                                     "2,participant,A,PRC,700,DE,2016\n")
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    res = invoke(runner, "network", "import", "participations", path, "--format", "h2020", "-n", "h", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "roles as published: coordinator 2, participant 2, partner 1" in text
    assert "EU contribution: 4,000.50 over 4 participations; no contribution given for partner 1 (stored empty" in text
    assert query_atlas(atlas, "SELECT actor, project, role, role_published, contribution FROM actor_memberships "
                              "ORDER BY project, actor") == [
        ("A", "1", "coordinator", "coordinator", 1000.5), ("B", "1", "member", "participant", 2000.0),
        ("C", "1", "member", "partner", None), ("A", "2", "member", "participant", 700.0),
        ("B", "2", "coordinator", "coordinator", 300.0)]
    with Atlas(atlas) as a:
        rows = contributions(a.con, "h")
    by = {(r["country"], r["role"]): (r["participations"], r["contribution"]) for r in rows}
    assert by == {("DE", "coordinator"): (1, 1000.5), ("DE", "participant"): (1, 700.0), ("DE", "partner"): (1, None),
                  ("FR", "participant"): (1, 2000.0), ("FR", "coordinator"): (1, 300.0)}
    assert [r["country"] for r in rows][:3] == ["FR", "FR", "DE"]  # largest total first: FR 2,300 > DE 1,700.5
    # show network works before 'network compute' (the money needs no network figures) and tells the roles apart
    res = invoke(runner, "show", "network", "DE", "-n", "h", "--atlas", atlas, "--wide")
    assert res.exit_code == 0, res.output
    lines = [" ".join(x.split()) for x in res.output.splitlines()]
    assert any("DE │ partner │ 1 │ 1 │ —" in x for x in lines), res.output
    assert any("DE │ coordinator │ 1 │ 1 │ 1,000" in x for x in lines), res.output
    assert "network compute" in res.output


def test_a_contribution_that_is_no_number_is_refused_with_its_line(tmp_path):
    path = _participations(tmp_path, "1,coordinator,A,PRC,1000,DE,2015\n1,participant,B,HES,lots,FR,2015\n")
    with Atlas(tmp_path / "a.duckdb", create=True) as a, pytest.raises(Exception) as err:
        importers.import_participations(a.con, path, "h", preset="h2020")
    message = str(err.value)
    assert "line 3" in message and "contribution" in message and "'lots'" in message
    with Atlas(tmp_path / "a.duckdb") as a:
        assert a.con.execute("SELECT count(*) FROM actor_memberships").fetchall() == [(0,)]


@pytest.mark.realdata
def test_eu_contribution_by_country_and_role_equals_the_cordis_file(tmp_path, runner):
    """The figure users cite (EU contribution by country) from the real CORDIS extract, against plain SQL on the
    file as published: every country and role; partners (7,142 rows) stay partners with no contribution."""
    h2020 = shared_file("actors/eu_h2020_participations/h2020.csv.gz")
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    res = invoke(runner, "network", "import", "participations", h2020, "--format", "h2020", "-n", "h2020",
                 "--atlas", atlas)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "roles as published: coordinator 31,476, participant 106,108, partner 7,142" in text
    raw = duckdb.sql(f"""SELECT country, role, count(*) AS n, sum(TRY_CAST(contribution AS DOUBLE)) AS eur
                         FROM read_csv('{h2020}', all_varchar = true) GROUP BY ALL""").fetchall()
    expected = {(c, r): (n, eur) for c, r, n, eur in raw}
    with Atlas(atlas) as a:
        rows = contributions(a.con, "h2020")
    got = {(r["country"], r["role"]): (r["participations"], r["contribution"]) for r in rows}
    assert got.keys() == expected.keys()
    assert got[("NA", "participant")][0] > 0  # Namibia (ISO NA) keeps its country; it read as "not given" before
    for key, (n, eur) in expected.items():
        assert got[key][0] == n
        assert got[key][1] == (None if eur is None else pytest.approx(eur, rel=1e-12)), key
    total = {c: sum(e or 0 for (cc, _), (_, e) in expected.items() if cc == c) for c, _ in expected}
    assert total["DE"] == pytest.approx(8_759_676_719.13, abs=0.01)  # the file's German total, in euros
    assert sum(total.values()) == pytest.approx(59_062_053_006.72, abs=0.01)
    assert got[("DE", "partner")][1] is None and got[("DE", "partner")][0] > 0
    res = invoke(runner, "show", "network", "DE", "-n", "h2020", "--atlas", atlas, "--wide")
    assert res.exit_code == 0, res.output
    lines = [" ".join(x.split()) for x in res.output.splitlines()]
    de = f"{expected[('DE', 'participant')][1]:,.0f}"
    assert any(f"DE │ participant │ {expected[('DE', 'participant')][0]:,} │" in x and de in x for x in lines)
