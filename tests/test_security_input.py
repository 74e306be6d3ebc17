"""Issue 20, item 4: a custom region may not take the code of a region of another level."""

from __future__ import annotations

import shutil
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
