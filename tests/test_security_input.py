"""Issue 20, items 3-4: what reading a file may cost, and regions an editor may not overwrite.

- the read limits (columns, cells, unpacked size) on the CLI: a clear error
  naming the file, the limit and how to raise it; blank rows skipped;
- a custom region may not take the code of a region of another level.
"""


from __future__ import annotations

import csv
import io
import shutil
import zipfile
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from clusteratlas import Atlas
from clusteratlas.server import Settings, create_app
from clusteratlas.server.auth import create_token
from tests.conftest import atlas_fingerprint, invoke, query_atlas
from tests.test_server import build_full_atlas

API = "/api/v1"
ASSESS_HEADER = ["assessment", "framework", "subject", "assessor", "assessed_on", "factor", "column", "value"]
CUSTOM_HEADER = ["region", "member", "name", "name_ja"]
HEADERS = {"assessments": ASSESS_HEADER, "custom-regions": CUSTOM_HEADER}


# ------------------------------------------------------------------------------------------ hostile files
def _xlsx(sheet: bytes) -> bytes:
    """A minimal .xlsx workbook whose one sheet is the worksheet XML ``sheet``."""
    ns = "http://schemas.openxmlformats.org"
    parts = {
        "[Content_Types].xml": f'<Types xmlns="{ns}/package/2006/content-types"><Default Extension="rels" '
        f'ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
        'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
        'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '</Types>',
        "_rels/.rels": f'<Relationships xmlns="{ns}/package/2006/relationships"><Relationship Id="rId1" '
        f'Type="{ns}/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{ns}/spreadsheetml/2006/main" xmlns:r="{ns}/officeDocument/2006/'
        'relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{ns}/package/2006/relationships"><Relationship '
        f'Id="rId1" Type="{ns}/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
        '</Relationships>',
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
        archive.writestr("xl/worksheets/sheet1.xml", sheet, compresslevel=9)
    return out.getvalue()


def _row(cells: list[str], number: int | None = None) -> bytes:
    at = f' r="{number}"' if number else ""
    return (f"<row{at}>" + "".join(f'<c t="inlineStr"><is><t>{v}</t></is></c>' for v in cells) + "</row>").encode()


def _sheet(rows: bytes, dimension: str | None = None) -> bytes:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">' + dim.encode()
            + b"<sheetData>" + rows + b"</sheetData></worksheet>")


def padded_xlsx(header: list[str]) -> bytes:
    """1.6 KB: a header and one cell in the sheet's last row, under a <dimension> of the whole sheet."""
    last = b'<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    return _xlsx(_sheet(_row(header, 1) + last, "A1:XFD1048576"))


def wide_csv(header: list[str]) -> bytes:
    """A header of 20,000 columns (Excel's limit is 16,384), then 4,000 blank lines (150 KB)."""
    return (",".join(header + [f"c{i}" for i in range(20_000)]) + "\n" + "\n" * 4_000).encode()


def blank_csv(header: list[str]) -> bytes:
    """A header, then three million blank lines (3 MB)."""
    return (",".join(header) + "\n").encode() + b"\n" * 3_000_000


def bomb_xlsx(header: list[str], mb: int = 30) -> bytes:
    """A sheet that unpacks to ``mb`` MB (three times the served limit of these tests) from a few hundred KB."""
    row = _row(["x"])
    return _xlsx(_sheet(_row(header) + row * (mb * 1_000_000 // len(row))))


HOSTILE = {"dimension-padded.xlsx": padded_xlsx, "wide-header.csv": wide_csv, "blank-lines.csv": blank_csv,
           "zip-bomb.xlsx": bomb_xlsx}
#: What each hostile upload must be refused with (status, words of the problem's detail); None: any 4xx.
REFUSED = {"dimension-padded.xlsx": None, "wide-header.csv": (413, "more columns than the limit"),
           "blank-lines.csv": None, "zip-bomb.xlsx": (413, "unpacks to more than the limit")}


# ----------------------------------------------------------------------------------------- served atlas
@pytest.fixture(scope="module")
def built(tmp_path_factory, sample_files):
    path = tmp_path_factory.mktemp("secure-input") / "atlas.duckdb"
    build_full_atlas(path, sample_files)
    with Atlas(path) as a:
        a.con.execute("CHECKPOINT")
    return path


def _with_tokens(built: Path, folder: Path) -> tuple[Path, dict[str, str]]:
    """A copy of the atlas with an editor, an admin and a 'legacy' editor token stored as Argon2 (older atlases)."""
    path = folder / "atlas.duckdb"
    shutil.copyfile(built, path)
    tokens = {}
    with Atlas(path) as a:
        for role in ("editor", "admin"):
            tokens[role] = create_token(a.con, role, name=role)[1]
        legacy_id, legacy = create_token(a.con, "editor", name="legacy")
        a.con.execute("UPDATE api_tokens SET hash = ? WHERE id = ?", [PasswordHasher().hash(legacy), legacy_id])
        tokens["legacy"] = legacy
        a.con.execute("CHECKPOINT")
    return path, tokens


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _kept_uploads(path: Path) -> list[Path]:
    return sorted(path.with_name(path.name + ".uploads").glob("*"))


# --------------------------------------------------------------------------- 3. uploads that exhaust memory
@pytest.mark.parametrize(("variable", "value", "file", "words"), [
    ("CLUSTERATLAS_MAX_COLUMNS", "3", "custom.csv", "more columns than the limit"),
    ("CLUSTERATLAS_MAX_CELLS", "6", "custom.xlsx", "more cells (rows × columns) than the limit"),
    ("CLUSTERATLAS_MAX_UNPACKED_MB", "0.001", "custom.xlsx", "unpacks to more than the limit"),
])
def test_the_cli_names_the_file_the_limit_and_how_to_raise_it(tmp_path, runner, sample_files, monkeypatch,
                                                                variable, value, file, words):
    path = tmp_path / "atlas.duckdb"
    with Atlas(path, create=True) as a:
        a.import_file("regions", sample_files["regions"])
    rows = [CUSTOM_HEADER, ["NEWREG", "S1C1", "New", ""], ["NEWREG", "S1C2", "New", ""], ["OTHER", "S2C1", "O", ""]]
    target = tmp_path / file
    if file.endswith(".csv"):
        with open(target, "w", newline="") as fh:
            csv.writer(fh).writerows(rows)
    else:
        target.write_bytes(_xlsx(_sheet(b"".join(_row(r) for r in rows))))
    before = atlas_fingerprint(path)
    monkeypatch.setenv(variable, value)
    result = invoke(runner, "import", "custom-regions", target, "--atlas", path)
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert str(target.name) in message and words in message and variable in message, message
    assert atlas_fingerprint(path) == before
    monkeypatch.delenv(variable)
    assert invoke(runner, "import", "custom-regions", target, "--atlas", path).exit_code == 0  # within the defaults


def test_blank_rows_of_a_workbook_are_skipped_and_lines_kept(tmp_path, sample_files):
    """Blank rows cost nothing and are no error; a problem after them names its line in the sheet."""
    import openpyxl

    path = tmp_path / "atlas.duckdb"
    with Atlas(path, create=True) as a:
        a.import_file("regions", sample_files["regions"])
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(CUSTOM_HEADER)
    sheet.append(["NEWREG", "S1C1", "New", None])
    for _ in range(3):
        sheet.append([None, None, None, None])
    sheet.append(["NEWREG", "S1C2", "New", None])
    good = tmp_path / "good.xlsx"
    book.save(good)
    sheet.append([None, None, None, None])
    sheet.append(["BAD", "NOT-A-REGION", "Bad", None])
    bad = tmp_path / "bad.xlsx"
    book.save(bad)
    with Atlas(path) as a:
        with pytest.raises(Exception, match="line 8") as caught:
            a.import_file("custom-regions", bad)
        assert "NOT-A-REGION" in str(caught.value)
        assert a.import_file("custom-regions", good).rows == 2


# ------------------------------------------------------------------------------ 4. overwriting a region
def test_a_custom_region_may_not_take_another_levels_code(built, tmp_path):
    """S3C3 is a county: an editor's custom region of that code used to replace it (and move every LQ)."""
    path, tokens = _with_tokens(built, tmp_path)
    with TestClient(create_app(Settings(atlas=str(path), warm=False))):
        pass  # the server adds its tables once
    before = atlas_fingerprint(path)
    level = query_atlas(path, "SELECT level FROM regions WHERE region = 'S3C3'")
    assert level == [("county",)]
    with TestClient(create_app(Settings(atlas=str(path), warm=False))) as c:
        for code, named in (("S3C3", "of level 'county'"), ("S1", "of level 'state'")):
            content = f"region,member,name,name_ja\n{code},S3C4,Taken,\n{code},S3C5,Taken,\n".encode()
            r = c.post(f"{API}/custom-regions", headers=_auth(tokens["editor"]),
                       files={"file": ("c.csv", content, "text/csv")})
            assert r.status_code == 422, r.text
            assert code in r.json()["detail"] and named in r.json()["detail"], r.text
    assert atlas_fingerprint(path) == before
    assert not _kept_uploads(path)


def test_a_custom_region_may_be_redefined_but_not_replace_a_region_in_the_cli(built, tmp_path, runner):
    path, _ = _with_tokens(built, tmp_path)
    before = atlas_fingerprint(path)
    taken = tmp_path / "taken.csv"
    taken.write_text("region,member,name,name_ja\nS3C3,S3C4,Taken,\nS3C3,S3C5,Taken,\n", encoding="utf-8")
    result = invoke(runner, "import", "custom-regions", taken, "--atlas", path)
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "S3C3" in message and "county" in message and "line 2" in message, message
    assert atlas_fingerprint(path) == before
    again = tmp_path / "corridor.csv"  # CORRIDOR is a custom region already: it may be redefined
    again.write_text("region,member,name,name_ja\nCORRIDOR,S1C1,Corridor,\nCORRIDOR,S2C2,Corridor,\n", "utf-8")
    assert invoke(runner, "import", "custom-regions", again, "--atlas", path).exit_code == 0
    assert sorted(query_atlas(path, "SELECT member FROM custom_members WHERE region = 'CORRIDOR'")) == \
        [("S1C1",), ("S2C2",)]
