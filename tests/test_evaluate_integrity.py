"""The qualitative evaluation loses and corrupts nothing: one id per subject, dates as written, reports that
say what they leave out, output into new folders, and the README's evaluation tour as written (issue 9)."""

from __future__ import annotations

import csv
import datetime as dt
import re
import shlex
from pathlib import Path

import duckdb
import pytest

from clusteratlas import Atlas
from clusteratlas.errors import InputError
from clusteratlas.reference.programmes import nistep_profiles_path, nistep_published_averages
from tests.conftest import atlas_fingerprint, invoke, query_atlas
from tests.test_evaluate import marks, write_assessments

ROOT = Path(__file__).resolve().parents[1]
HEADER = ["assessment", "framework", "subject", "assessor", "assessed_on", "tag:formation_base", "factor", "column",
          "value", "evidence"]
SAPPORO = (["knowledge", "world_tech", "regional_linkage"], ["core_ventures", "large_firms", "other_clusters"])
KOBE = (["crisis", "local_government", "regional_linkage"], ["regional_linkage", "large_firms", "attention"])


@pytest.fixture
def atlas(tmp_path):
    path = tmp_path / "a.duckdb"
    Atlas(path, create=True).close()
    return path


def fill(path: Path) -> None:
    """Do what a person does with a template: mark ◎ ○ △ once each in every column (CSV or Excel)."""
    if path.suffix == ".xlsx":
        import openpyxl

        book = openpyxl.load_workbook(path)
        sheet = book.active
        header = [c.value for c in sheet[1]]
        rows = list(sheet.iter_rows(min_row=2))
        get = lambda row, name: row[header.index(name)].value  # noqa: E731
        put = lambda row, name, v: setattr(row[header.index(name)], "value", v)  # noqa: E731
    else:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            table = list(csv.reader(fh))
        header, rows = table[0], table[1:]
        get = lambda row, name: row[header.index(name)]  # noqa: E731
        put = lambda row, name, v: row.__setitem__(header.index(name), v)  # noqa: E731
    given: dict[str, int] = {}
    for row in rows:
        column = get(row, "column")
        n = given.get(column, 0)
        if n < 3:
            put(row, "value", "◎○△"[n])
            given[column] = n + 1
    if path.suffix == ".xlsx":
        book.save(path)
    else:
        with open(path, "w", encoding="utf-8", newline="") as fh:
            csv.writer(fh).writerows([header, *rows])


def one_line(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------- item 5: identity


def test_templates_of_different_subjects_do_not_overwrite_each_other(tmp_path, atlas, runner):
    """Issue 9.5: two templates made without --assessment were both 'A1': Kobe's import revised Sapporo's away."""
    for subject in ("sapporo-it", "kobe-bio"):
        form = tmp_path / f"{subject}.csv"
        res = invoke(runner, "assess", "template", "nistep-jp-15", form, "--subject", subject, "--assessor", "me",
                     "--date", "2024-04-01")
        assert res.exit_code == 0, res.output
        fill(form)
        res = invoke(runner, "assess", "import", form, "--atlas", atlas)
        assert res.exit_code == 0 and "1 new, 0 revised" in one_line(res.output), res.output
    with Atlas(atlas) as a:
        current = a.assessments()
    assert sorted((i.subject, i.assessment, i.revision) for i in current) == [
        ("kobe-bio", "kobe-bio-nistep-jp-15-2024-04-01", 1), ("sapporo-it", "sapporo-it-nistep-jp-15-2024-04-01", 1)]


@pytest.mark.parametrize(("field", "index", "other"), [("subject", 2, "kobe-bio"), ("assessor", 3, "someone else")])
def test_an_id_reused_for_another_subject_or_assessor_is_refused(tmp_path, atlas, runner, field, index, other):
    first = write_assessments(tmp_path / "first.csv", marks("A1", "sapporo-it", "knowledge", *SAPPORO), HEADER)
    assert invoke(runner, "assess", "import", first, "--atlas", atlas).exit_code == 0
    rows = marks("A1", "sapporo-it", "knowledge", *KOBE)
    for r in rows:
        r[index] = other
    second = write_assessments(tmp_path / "second.csv", rows, HEADER)
    before = atlas_fingerprint(atlas)
    res = invoke(runner, "assess", "import", second, "--atlas", atlas)
    text = one_line(res.output)
    assert res.exit_code == 2, res.output
    assert "second.csv, line 2, column 'assessment'" in text and "assessment id A1 is already in the atlas" in text
    assert f"this one has {field} '{other}'" in text and "revised" not in text
    assert atlas_fingerprint(atlas) == before
    with Atlas(atlas) as a, pytest.raises(InputError, match="already in the atlas"):  # the API refuses it too
        a.import_assessments(second)
    assert atlas_fingerprint(atlas) == before


def test_an_id_reused_under_another_framework_is_refused(tmp_path, atlas, runner):
    first = write_assessments(tmp_path / "first.csv", marks("A1", "sapporo-it", "knowledge", *SAPPORO), HEADER)
    assert invoke(runner, "assess", "import", first, "--atlas", atlas).exit_code == 0
    phase = write_assessments(tmp_path / "phase.csv",
                              [["A1", "cluster-phases", "sapporo-it", "analyst", "2024", "", "nistep_phase", "",
                                "startup", ""]], HEADER)
    res = invoke(runner, "assess", "import", phase, "--atlas", atlas)
    assert res.exit_code == 2 and "this one has framework 'cluster-phases'" in one_line(res.output), res.output


def test_a_revision_keeps_its_identity_and_export_round_trips(tmp_path, atlas, runner):
    rows = marks("A1", "sapporo-it", "knowledge", *SAPPORO) + marks("B1", "kobe-bio", "enterprise", *KOBE)
    write_assessments(tmp_path / "a.csv", rows, HEADER)
    assert "2 new" in invoke(runner, "assess", "import", tmp_path / "a.csv", "--atlas", atlas).output
    edited = [[*r[:9], "changed"] if r[0] == "A1" else r for r in rows]
    write_assessments(tmp_path / "b.csv", edited, HEADER)
    assert "0 new, 1 revised" in one_line(invoke(runner, "assess", "import", tmp_path / "b.csv", "--atlas",
                                                 atlas).output)
    out = tmp_path / "current.csv"
    assert invoke(runner, "assess", "export", out, "--atlas", atlas).exit_code == 0
    # the export is the import format: into the same atlas it changes nothing, into a new one it makes the same
    res = invoke(runner, "assess", "import", out, "--atlas", atlas)
    assert "0 new, 0 revised (earlier revisions kept), 2 unchanged" in one_line(res.output), res.output
    other = tmp_path / "other.duckdb"
    Atlas(other, create=True).close()
    assert "2 new" in invoke(runner, "assess", "import", out, "--atlas", other).output
    with Atlas(atlas) as a, Atlas(other) as b:
        assert ({(i.assessment, i.subject, i.content_hash()) for i in a.assessments()}
                == {(i.assessment, i.subject, i.content_hash()) for i in b.assessments()})


def _legacy_atlas(tmp_path: Path) -> Path:
    """An atlas as the old import left it: 'A1' revision 1 = Sapporo, revision 2 = Kobe, no assessed_on_text."""
    path = tmp_path / "old.duckdb"
    with Atlas(path, create=True) as a:
        write_assessments(tmp_path / "s.csv", marks("A1", "sapporo-it", "knowledge", *SAPPORO), HEADER)
        write_assessments(tmp_path / "k.csv", marks("K", "kobe-bio", "enterprise", *KOBE), HEADER)
        a.import_assessments(tmp_path / "s.csv")
        a.import_assessments(tmp_path / "k.csv")
    con = duckdb.connect(str(path))
    for table in ("assessments", "assessment_scores"):
        con.execute(f"UPDATE {table} SET assessment = 'A1', revision = 2 WHERE assessment = 'K'")
    con.execute("ALTER TABLE assessments DROP COLUMN assessed_on_text")
    con.execute("CREATE OR REPLACE VIEW assessments_current AS SELECT * FROM assessments "
                "QUALIFY revision = max(revision) OVER (PARTITION BY assessment)")
    con.close()
    return path


def test_an_old_atlas_with_colliding_ids_opens_and_shows_both_subjects(tmp_path, runner):
    path = _legacy_atlas(tmp_path)
    with Atlas(path) as a:
        current = a.assessments()
    assert sorted((i.subject, i.revision) for i in current) == [("kobe-bio", 2), ("sapporo-it", 1)]
    assert ("assessed_on_text",) in query_atlas(path, "SELECT column_name FROM duckdb_columns() "
                                                      "WHERE table_name = 'assessments'")
    assert query_atlas(path, "SELECT count(*) FROM assessments_current") == [(2,)]
    # a revision of Sapporo's A1 is still a revision of it (the next number for the id); a third subject is refused
    rows = [[*r[:9], "later"] for r in marks("A1", "sapporo-it", "knowledge", *SAPPORO)]
    write_assessments(tmp_path / "again.csv", rows, HEADER)
    res = invoke(runner, "assess", "import", tmp_path / "again.csv", "--atlas", path)
    assert "0 new, 1 revised" in one_line(res.output), res.output
    assert query_atlas(path, "SELECT subject FROM assessments WHERE revision = 3") == [("sapporo-it",)]
    write_assessments(tmp_path / "third.csv", marks("A1", "fukui-nano", "enterprise", *KOBE), HEADER)
    assert invoke(runner, "assess", "import", tmp_path / "third.csv", "--atlas", path).exit_code == 2


# ---------------------------------------------------------------- item 6: dates


@pytest.mark.parametrize(("written", "iso"), [("令和6年4月1日", "2024-04-01"), ("R6.4.1", "2024-04-01"),
                                               ("2024年度", "2024-04-01"), ("令和元年度", "2019-04-01"),
                                               ("2024-04-01", "2024-04-01")])
def test_japanese_dates_import_as_iso_with_the_text_kept(tmp_path, atlas, runner, written, iso):
    rows = [[*r[:4], written, *r[5:]] for r in marks("x", "alpha", "knowledge", *SAPPORO)]
    write_assessments(tmp_path / "a.csv", rows, HEADER)
    res = invoke(runner, "assess", "import", tmp_path / "a.csv", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    kept = None if written == iso else written
    assert query_atlas(atlas, "SELECT assessed_on, assessed_on_text FROM assessments") == [(iso, kept)]
    out = tmp_path / "out.csv"
    invoke(runner, "assess", "export", out, "--atlas", atlas)
    with open(out, encoding="utf-8") as fh:
        exported = next(csv.DictReader(fh))
    assert (exported["assessed_on"], exported["assessed_on_text"] or None) == (iso, kept)


@pytest.mark.parametrize("written", ["令和6年4月1日", "R6.4.1", "2024年度", "ｒ６．４．１"])
def test_template_and_import_read_a_date_the_same_way(tmp_path, atlas, runner, written):
    form = tmp_path / "form.xlsx"
    res = invoke(runner, "assess", "template", "nistep-jp-15", form, "--subject", "alpha", "--assessor", "me",
                 "--date", written)
    assert res.exit_code == 0, res.output
    fill(form)
    res = invoke(runner, "assess", "import", form, "--atlas", atlas)
    assert res.exit_code == 0, res.output
    assert query_atlas(atlas, "SELECT assessment, assessed_on, assessed_on_text FROM assessments") == [
        ("alpha-nistep-jp-15-2024-04-01", "2024-04-01", written)]


def test_an_excel_date_cell_imports(tmp_path, atlas, runner):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for r in marks("x", "alpha", "knowledge", *SAPPORO):
        sheet.append([*r[:4], dt.datetime(2024, 4, 1), *r[5:]])  # a real date cell, as Excel stores one
    book.save(tmp_path / "dates.xlsx")
    res = invoke(runner, "assess", "import", tmp_path / "dates.xlsx", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    assert query_atlas(atlas, "SELECT assessed_on FROM assessments") == [("2024-04-01",)]


@pytest.mark.parametrize(("written", "why"), [("2024-13-45", "month 13 does not exist"),
                                              ("平成31年5月1日", "令和 began 2019-05-01"),
                                              ("2024-04-01 09:30:00", "no time of day")])
def test_malformed_dates_are_refused_with_where_and_nothing_stored(tmp_path, atlas, runner, written, why):
    rows = marks("x", "alpha", "knowledge", *SAPPORO)
    rows[3][4] = written  # a later row of the same assessment: every row is checked, not only the first
    write_assessments(tmp_path / "bad.csv", rows, HEADER)
    before = atlas_fingerprint(atlas)
    res = invoke(runner, "assess", "import", tmp_path / "bad.csv", "--atlas", atlas)
    text = one_line(res.output)
    assert res.exit_code == 2 and "bad.csv, line 5, column 'assessed_on'" in text, res.output
    assert why in text and written in text and atlas_fingerprint(atlas) == before
    res = invoke(runner, "assess", "template", "nistep-jp-15", tmp_path / "t.csv", "--date", written)
    assert res.exit_code == 2 and why in one_line(res.output) and not (tmp_path / "t.csv").exists()


def test_future_dates_are_stored_with_a_warning(tmp_path, atlas, runner):
    future = (dt.date.today() + dt.timedelta(days=400)).isoformat()
    rows = [[*r[:4], future, *r[5:]] for r in marks("x", "alpha", "knowledge", *SAPPORO)]
    write_assessments(tmp_path / "a.csv", rows, HEADER)
    res = invoke(runner, "assess", "import", tmp_path / "a.csv", "--atlas", atlas)
    assert res.exit_code == 0 and "1 new" in res.output
    assert f"a.csv, line 2: assessment x is dated in the future ({future})" in one_line(res.stderr)
    res = invoke(runner, "assess", "template", "nistep-jp-15", tmp_path / "t.csv", "--date", future)
    assert res.exit_code == 0 and "in the future" in res.stderr


# ---------------------------------------------------------------- item 13: output folders


def test_reports_go_into_new_folders_and_bad_paths_fail_cleanly(tmp_path, atlas, runner, monkeypatch):
    with Atlas(atlas) as a:
        a.import_assessments(nistep_profiles_path())
    monkeypatch.chdir(tmp_path)
    res = invoke(runner, "assess", "html", "nodir/r.html", "--atlas", atlas)
    assert res.exit_code == 0 and "<svg" in (tmp_path / "nodir" / "r.html").read_text(encoding="utf-8")
    (tmp_path / "afile").write_text("x")
    for args in (("assess", "html", "afile/r.html"), ("assess", "export", "afile/x.csv"),
                 ("assess", "report", "--out", "afile/x.csv"), ("assess", "html", "nodir")):
        res = invoke(runner, *args, "--atlas", atlas)
        assert res.exit_code == 2 and "error:" in res.output, (args, res.output)
    res = invoke(runner, "assess", "template", "nistep-jp-15", "afile/t.csv")
    assert res.exit_code == 2 and "a file stands where a folder should be" in one_line(res.output)


# ---------------------------------------------------------------- item 14: grouping and the published table


def test_untagged_profiles_are_left_out_and_counted(atlas, runner):
    with Atlas(atlas) as a:
        a.import_assessments(nistep_profiles_path())
    res = invoke(runner, "assess", "report", "--atlas", atlas, "--by", "formation_base", "--reference")
    text = one_line(res.output)
    assert res.exit_code == 0, res.output
    assert "3 of 3 assessment(s) have no 'formation_base' and are left out" in text
    assert "1.7" in text and "2.5" in text  # the published knowledge / enterprise columns are there
    res = invoke(runner, "assess", "report", "--atlas", atlas, "--by", "formation_base")
    assert res.exit_code == 2 and "none of the 3 assessment(s) has a tag or field 'formation_base'" in \
        one_line(res.output)
    res = invoke(runner, "assess", "report", "--atlas", atlas, "--reference")
    assert res.exit_code == 0 and "group with --by formation_base to see them beside" in one_line(res.output)


@pytest.mark.parametrize(("labels", "published"), [
    (["知的集積", "企業集積"], ["knowledge", "enterprise"]),
    (["Knowledge agglomeration", "enterprise"], ["knowledge", "enterprise"]),
    (["知的集積型", "ENTERPRISE-based"], ["knowledge", "enterprise"]),
])
def test_the_published_table_matches_labels_in_either_language(labels, published):
    from clusteratlas.reference.programmes import published_beside

    ref = nistep_published_averages().to_pylist()
    beside = published_beside("nistep-jp-15", "formation_base", labels)
    assert beside.note is None and beside.unmatched is None
    got = {(r["group"], r["column"], r["factor"]): r["mean"] for r in beside.table.to_pylist()}
    for label, group in zip(labels, published, strict=True):
        want = {(label, r["column"], r["factor"]): r["mean"] for r in ref if r["group"] == group}
        assert want and all(got[k] == v for k, v in want.items())


def test_an_empty_reference_says_why():
    from clusteratlas.reference.programmes import published_beside

    assert "nistep-jp-15 only" in published_beside("imd-wcy-2004", "formation_base", ["x"]).note
    assert "--by formation_base" in published_beside("nistep-jp-15", None, ["all"]).note
    partial = published_beside("nistep-jp-15", "formation_base", ["知的集積", "other"])
    assert "other" in partial.note and "知的集積" in partial.note
    assert {r["group"] for r in partial.unmatched.to_pylist()} == {"enterprise"}


def test_report_with_japanese_labels_fills_the_published_columns(tmp_path, atlas, runner):
    rows = marks("a", "alpha", "知的集積", *SAPPORO) + marks("b", "beta", "企業集積", *KOBE)
    write_assessments(tmp_path / "a.csv", rows, HEADER)
    invoke(runner, "assess", "import", tmp_path / "a.csv", "--atlas", atlas)
    res = invoke(runner, "assess", "report", "--atlas", atlas, "--by", "formation_base", "--reference")
    text = one_line(res.output)
    assert res.exit_code == 0 and "note:" not in text, res.output
    # n=1 per group gives whole points only: 1.7 (knowledge) and 2.5 (enterprise) are the published figures
    assert "published" in text and "1.7" in text and "2.5" in text


# ---------------------------------------------------------------- the README's tour, as written


def readme_tour() -> list[str]:
    """The commands of the README's 'Qualitative evaluation' block (comments and blank lines dropped)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Qualitative evaluation", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [raw for raw in block.splitlines() if shlex.split(raw, comments=True)]


def test_the_readme_evaluation_tour_runs_as_written(tmp_path, runner, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert invoke(runner, "init").exit_code == 0  # "in the atlas of the tour above (or after clusteratlas init)"
    commands = readme_tour()
    assert commands[0].startswith("clusteratlas reference jp-programmes ") and len(commands) == 8
    # the user's own indicator table for the last line
    with open("indicators.csv", "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([["region", "patents", "startups", "graduates"], ["01000", 12, 3, 400],
                                  ["13000", 90, 40, 2100], ["27000", 35, 9, 900], ["28000", 20, 6, 650]])
    for command in commands:
        args = shlex.split(command, comments=True)
        assert args[0] == "clusteratlas"
        if args[1:3] == ["assess", "import"]:
            fill(Path(args[3]))  # the step the README asks the reader to do by hand
        res = invoke(runner, *args[1:])
        assert res.exit_code == 0, (command, res.output)
        if args[1:3] == ["assess", "report"] and "--reference" in args:
            text = one_line(res.output)
            assert "left out of this grouping: nistep2004-" in text and "published" in text
            assert "(n=1)" in text and "1.7" in text
    assert Path("report.html").exists()


def test_two_assessors_of_one_subject_on_one_day_get_told_an_id_to_use(tmp_path, atlas, runner):
    """Rows without an id get SUBJECT-FRAMEWORK-DATE; a second assessor's form then collides and is refused."""
    for who, scores in (("me", SAPPORO), ("you", KOBE)):
        rows = [["", *r[1:3], who, *r[4:]] for r in marks("", "alpha", "knowledge", *scores)]
        write_assessments(tmp_path / f"{who}.csv", rows, HEADER)
    assert "1 new" in invoke(runner, "assess", "import", tmp_path / "me.csv", "--atlas", atlas).output
    res = invoke(runner, "assess", "import", tmp_path / "you.csv", "--atlas", atlas)
    text = one_line(res.output)
    assert res.exit_code == 2 and "assessment id alpha-nistep-jp-15-2024-04-01 is already in the atlas" in text
    assert "'alpha-nistep-jp-15-2024-04-01-you'" in text, text
