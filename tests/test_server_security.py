"""Security of the REST API: tokens and roles, hostile parameters, body limits, the writer queue."""

from __future__ import annotations

import csv
import io
import re
import shutil
import threading

import pytest
from fastapi.testclient import TestClient

from clusteratlas import Atlas
from clusteratlas.reference.programmes import nistep_profiles_path
from clusteratlas.server import Settings, create_app
from clusteratlas.server.auth import create_token, revoke_token
from tests.conftest import atlas_fingerprint, query_atlas
from tests.test_server import build_full_atlas

API = "/api/v1"
HOSTILE = ["' OR 1=1 --", "'; DROP TABLE results_clusters; --", "../../etc/passwd", "..%2F..%2Fetc", "x" * 10_000,
           "99999999999999999999999999", "-1e308", "NaN", "\u202e\ufeff日本", '" OR ""="']


@pytest.fixture(scope="module")
def built(tmp_path_factory, sample_files):
    path = tmp_path_factory.mktemp("secure-base") / "atlas.duckdb"
    build_full_atlas(path, sample_files)
    return path


@pytest.fixture
def atlas(built, tmp_path):
    """A fresh copy of the full atlas with tokens: admin, editor, revoked editor, expired editor."""
    path = tmp_path / "atlas.duckdb"
    shutil.copyfile(built, path)
    tokens = {}
    with Atlas(path) as a:
        for key, role in (("admin", "admin"), ("editor", "editor"), ("revoked", "editor"), ("expired", "editor")):
            tokens[key] = create_token(a.con, role, name=key, expires_days=1 if key == "expired" else None)
        revoke_token(a.con, tokens["revoked"][0])
        a.con.execute("UPDATE api_tokens SET expires_at = now()::TIMESTAMP - INTERVAL 1 DAY WHERE name = 'expired'")
        a.con.execute("CHECKPOINT")
    return path, {k: v[1] for k, v in tokens.items()}


def _auth(token):
    return {"Authorization": f"Bearer {token}"}


def _assessment_file(suffix: str, *, bad: bool = False) -> bytes:
    """The NISTEP profiles with new assessment ids (a different assessment); ``bad`` puts in a wrong value."""
    rows = list(csv.DictReader(io.StringIO(nistep_profiles_path().read_text("utf-8"))))
    for r in rows:
        r["assessment"] = f"{r['assessment']}-{suffix}"
    if bad:
        rows[-1]["value"] = "not-a-mark"
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    return out.getvalue().encode("utf-8")


CUSTOM = b"region,member,name,name_ja\nNEWREG,S1C1,New region,\nNEWREG,S1C2,New region,\n"
WRITES = [
    ("post", "/assessments", "editor", {"files": {"file": ("a.csv", b"x", "text/csv")}}),
    ("post", "/custom-regions", "editor", {"files": {"file": ("c.csv", CUSTOM, "text/csv")}}),
    ("post", "/map", "admin", {"json": {}}),
    ("get", "/tokens", "admin", {}),
    ("post", "/tokens", "admin", {"json": {"role": "editor"}}),
    ("delete", "/tokens/abc", "admin", {}),
]


@pytest.mark.parametrize(("method", "url", "role", "kw"), WRITES)
def test_write_routes_need_the_right_token(atlas, method, url, role, kw):
    path, tokens = atlas
    with TestClient(create_app(Settings(atlas=str(path)))) as c:
        call = getattr(c, method)
        for headers, status in (({}, 401), (_auth(tokens["revoked"]), 401), (_auth(tokens["expired"]), 401),
                                (_auth("ca_nothere_secret"), 401), ({"Authorization": "Basic eDp5"}, 401),
                                (_auth(tokens["admin"][:-2] + "xx"), 401)):
            r = call(API + url, headers=headers, **kw)
            assert r.status_code == status, (url, headers, r.text)
            assert r.headers["content-type"] == "application/problem+json"
        if role == "admin":
            r = call(API + url, headers=_auth(tokens["editor"]), **kw)
            assert r.status_code == 403, r.text


def test_write_routes_in_the_schema_are_all_covered(atlas):
    path, _ = atlas
    with TestClient(create_app(Settings(atlas=str(path)))) as c:
        spec = c.get("/api/openapi.json").json()
    writes = {(m, p.replace("{token_id}", "abc")) for p, ops in spec["paths"].items() for m in ops
              if m in ("post", "delete") or p.endswith("/tokens")}
    assert writes == {(m, API + u) for m, u, _, _ in WRITES}


def test_roles_allow_their_writes_and_every_write_is_logged(atlas):
    path, tokens = atlas
    with TestClient(create_app(Settings(atlas=str(path)))) as c:
        r = c.post(f"{API}/assessments", headers=_auth(tokens["editor"]),
                   files={"file": ("new.csv", _assessment_file("x"), "text/csv")})
        assert r.status_code == 201, r.text
        assert r.json()["result"]["new"] == 3
        r = c.post(f"{API}/custom-regions", headers=_auth(tokens["editor"]),
                   files={"file": ("custom.csv", CUSTOM, "text/csv")})
        assert r.status_code == 201, r.text
        assert c.get(f"{API}/regions/NEWREG").status_code == 200  # re-mapped: the new region has results
        made = c.post(f"{API}/tokens", headers=_auth(tokens["admin"]), json={"role": "editor", "name": "n"}).json()
        assert made["token"].startswith("ca_")
        assert c.delete(f"{API}/tokens/{made['id']}", headers=_auth(tokens["admin"])).status_code == 200
        assert c.post(f"{API}/assessments", headers=_auth(made["token"]),
                      files={"file": ("a.csv", b"x", "text/csv")}).status_code == 401  # revoked at once
        assert c.post(f"{API}/map", headers=_auth(tokens["admin"]), json={}).status_code == 201
        log = c.get(f"{API}/writes", headers=_auth(tokens["editor"])).json()["data"]
    assert [w["action"] for w in log][::-1] == ["assess-import", "custom-regions", "token-create", "token-revoke",
                                                "map"]
    assert log[-1]["name"] == "editor" and len(log[-1]["sha256"]) == 64
    stored = query_atlas(path, "SELECT hash FROM api_tokens")
    assert stored and all(h.startswith("sha256$") and len(h) == 7 + 64 for (h,) in stored)  # only hashes


def test_concurrent_uploads_are_both_stored(atlas):
    path, tokens = atlas
    answers = []
    with TestClient(create_app(Settings(atlas=str(path)))) as c:
        def upload(suffix):
            answers.append(c.post(f"{API}/assessments", headers=_auth(tokens["editor"]),
                                  files={"file": (f"{suffix}.csv", _assessment_file(suffix), "text/csv")}))

        threads = [threading.Thread(target=upload, args=(s,)) for s in ("one", "two")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(r.status_code for r in answers) == [201, 201]
    ids = {r[0] for r in query_atlas(path, "SELECT assessment FROM assessments")}
    assert {f"nistep2004-sapporo-it-{s}" for s in ("one", "two")} <= ids
    counts = query_atlas(path, "SELECT count(*) FROM assessment_scores WHERE assessment LIKE '%-one' "
                               "UNION ALL SELECT count(*) FROM assessment_scores WHERE assessment LIKE '%-two'")
    assert counts[0] == counts[1] == (18,)


def test_a_failing_upload_leaves_the_atlas_unchanged(atlas):
    path, tokens = atlas
    with TestClient(create_app(Settings(atlas=str(path)))):
        pass  # the server adds its token and write-log tables once
    before = atlas_fingerprint(path)
    with TestClient(create_app(Settings(atlas=str(path)))) as c:
        r = c.post(f"{API}/assessments", headers=_auth(tokens["editor"]),
                   files={"file": ("bad.csv", _assessment_file("bad", bad=True), "text/csv")})
        assert r.status_code == 422
        assert "not-a-mark" in r.json()["detail"]
        bad_custom = b"region,member\nZZ,NOT-A-REGION\n"
        r = c.post(f"{API}/custom-regions", headers=_auth(tokens["editor"]),
                   files={"file": ("c.csv", bad_custom, "text/csv")})
        assert r.status_code == 422
    assert atlas_fingerprint(path) == before
    assert not list(path.with_name(path.name + ".uploads").glob("*"))  # the rejected files are not kept


def test_upload_over_the_limit_is_413(atlas):
    path, tokens = atlas
    with TestClient(create_app(Settings(atlas=str(path), max_body=2000))) as c:
        r = c.post(f"{API}/assessments", headers=_auth(tokens["editor"]),
                   files={"file": ("big.csv", b"x" * 5000, "text/csv")})
    assert r.status_code == 413
    assert r.json()["status"] == 413


def test_read_only_server_refuses_writes_with_503(atlas):
    path, tokens = atlas
    with TestClient(create_app(Settings(atlas=str(path), read_only=True))) as c:
        r = c.post(f"{API}/assessments", headers=_auth(tokens["editor"]),
                   files={"file": ("a.csv", _assessment_file("ro"), "text/csv")})
    assert r.status_code == 503


def test_rate_limit_per_client(atlas):
    path, _ = atlas
    with TestClient(create_app(Settings(atlas=str(path), rate_limit="5/minute"))) as c:
        codes = [c.get(f"{API}/health").status_code for _ in range(7)]
        last = c.get(f"{API}/health")
        last_ja = c.get(f"{API}/health", params={"lang": "ja"})
    assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]
    assert int(last.headers["retry-after"]) >= 1
    # the allowance in the request's language (the limits library's own text is English: "5 per 1 minute")
    assert "(5 per minute)" in last.json()["detail"]
    assert "1 分あたり 5 回" in last_ja.json()["detail"] and not re.search("[A-Za-z]", last_ja.json()["detail"])


def test_hostile_values_in_every_parameter_never_break_the_server(atlas):
    """SQL injection, traversal, huge numbers: a 4xx problem or an answer (names like "Coeur d'Alene" exist, so
    quotes are valid text, bound as parameters); a NUL byte or 10,000 characters: always a 4xx problem."""
    path, _ = atlas
    before = atlas_fingerprint(path)
    with TestClient(create_app(Settings(atlas=str(path)))) as c:
        spec = c.get("/api/openapi.json").json()
        for route, ops in spec["paths"].items():
            if "get" not in ops:
                continue
            params = ops["get"].get("parameters", [])
            for p in params:
                for value in [*HOSTILE, "a\x00b"]:
                    url, query = route, {}
                    for other in params:
                        if other["in"] == "path":
                            url = url.replace("{" + other["name"] + "}", "S1" if other is not p else "PLACEHOLDER")
                    if p["in"] == "path":
                        url = url.replace("PLACEHOLDER", value.replace("/", "%2F").replace("\x00", "%00"))
                    else:
                        query[p["name"]] = value
                    r = c.get(url, params=query)
                    assert r.status_code < 500, (url, p["name"], value[:40], r.text[:300])
                    if "\x00" in value or len(value) >= 10_000:  # never a valid value of any parameter
                        assert 400 <= r.status_code < 500, (url, p["name"], value[:40], r.status_code)
                    if r.status_code >= 400:
                        assert r.headers["content-type"] == "application/problem+json", (url, p["name"])
                        assert r.json()["status"] == r.status_code
    assert atlas_fingerprint(path) == before


def test_free_text_search_binds_quotes_as_text(atlas):
    """Names with apostrophes exist (Coeur d'Alene, O'Brien County): quotes are searched as text (the query is
    parameterised), and an injection string finds nothing instead of everything."""
    path, _ = atlas
    with Atlas(path) as a:
        a.con.execute("INSERT INTO regions (region, name, level) VALUES ('16055', 'Coeur d''Alene, ID', 'county'), "
                      "('19141', 'O''Brien County, IA', 'county')")
        a.con.execute("CHECKPOINT")
    with TestClient(create_app(Settings(atlas=str(path)))) as c:
        total = c.get(f"{API}/regions", params={"limit": 1}).json()["meta"]["total"]
        for text, found in (("Coeur d'Alene", ["16055"]), ("O'Brien", ["19141"]), ("' OR 1=1 --", []),
                            ("' OR ''='", []), ("%", [])):
            r = c.get(f"{API}/regions", params={"q": text})
            assert r.status_code == 200, r.text
            assert [row["region"] for row in r.json()["data"]] == found, text
        # "_" is a character, not LIKE's wildcard: only ids or names that contain it
        rows = c.get(f"{API}/regions", params={"q": "_", "limit": 10_000}).json()["data"]
        assert 0 < len(rows) < total
        assert all("_" in (row["region"] + (row["name"] or "")) for row in rows)
