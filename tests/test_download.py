"""The download code end to end against a local HTTP server on 127.0.0.1 (nothing from outside)."""

from __future__ import annotations

import hashlib
import zipfile

import pytest

from clusteratlas.errors import InputError
from clusteratlas.sources.download import _target, cache_dir, fetch, source_url, unpack
from tests.conftest import RangeHandler, invoke, query_atlas, shared_file


def test_fetch_caches_checksums_and_resumes(server):
    root, base = server
    payload = shared_file("eu/eurostat_lfst_r_lfe2en2_2008_2015.tsv").read_bytes()
    (root / "lfs.tsv").write_bytes(payload)
    first = fetch(f"{base}/lfs.tsv")
    assert first.downloaded and first.path.read_bytes() == payload
    assert first.sha256 == hashlib.sha256(payload).hexdigest()
    again = fetch(f"{base}/lfs.tsv")
    assert not again.downloaded and len(RangeHandler.requests) == 1  # served from the cache
    # an interrupted download: half a file is left as .part; the next call asks only for the rest
    url = f"{base}/lfs.tsv?copy=2"
    target = _target(url, None)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.with_name(target.name + ".part").write_bytes(payload[: len(payload) // 2])
    resumed = fetch(url)
    assert resumed.path.read_bytes() == payload
    assert RangeHandler.requests[-1] == f"bytes={len(payload) // 2}-"
    assert not target.with_name(target.name + ".part").exists()


def test_checksum_mismatch_and_offline(server):
    root, base = server
    (root / "f.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="does not match its checksum"):
        fetch(f"{base}/f.csv", expected_sha256="0" * 64)
    assert not list(cache_dir().glob("*/*.part"))  # nothing half-written kept
    with pytest.raises(InputError, match="are you offline"):
        fetch("http://127.0.0.1:9/nothing.csv", timeout=2)
    with pytest.raises(InputError, match="404"):
        fetch(f"{base}/missing.csv")


def test_cbp_fetch_and_import_end_to_end(server, runner, tmp_path):
    root, base = server
    cbp = shared_file("us/cbp2019_cbsa_naics2017_emp_est.csv.gz")
    import gzip

    (root / "2019").mkdir()
    with zipfile.ZipFile(root / "2019" / "cbp19msa.zip", "w") as archive:
        archive.writestr("cbp19msa.txt", gzip.decompress(cbp.read_bytes()))
    assert source_url("cbp", base=base, year=2019, level="metro") == f"{base}/2019/cbp19msa.zip"
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    res = invoke(runner, "fetch", "cbp", "--year", "2019", "--level", "metro", "--base-url", base,
                 "--import", atlas)
    assert res.exit_code == 0, res.output
    assert "NAICS 2017" in " ".join(res.output.split())
    n_regions, detroit = query_atlas(atlas, "SELECT count(DISTINCT region), sum(employment) FILTER "
                                            "(WHERE region = '19820') FROM observations")[0]
    assert n_regions == 933 and detroit > 1_000_000


def test_unpack_rejects_a_broken_zip(tmp_path):
    bad = tmp_path / "x.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a valid zip"):
        unpack(bad)


def test_gisco_geometry_fetch_then_neighbours(server, runner, tmp_path):
    root, base = server
    nuts = shared_file("geo/NUTS_RG_03M_2021_4326_LEVL_2.geojson.gz")
    (root / "NUTS_RG_03M_2021_4326_LEVL_2.geojson").write_bytes(nuts.read_bytes())  # served as stored
    res = invoke(runner, "fetch", "gisco", "--year", "2021", "--level", "2", "--base-url", base)
    assert res.exit_code == 0, res.output
    path = _target(source_url("gisco", base=base, year=2021, level="2"), None)  # where fetch keeps it
    assert path.exists()
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    for above in (0, 1):  # the NUTS 2 regions' parents must exist first
        assert invoke(runner, "import", "regions", shared_file(f"geo/NUTS_RG_03M_2021_4326_LEVL_{above}.geojson.gz"),
                      "--format", "nuts", "--atlas", atlas).exit_code == 0
    assert invoke(runner, "import", "regions", path, "--format", "nuts", "--atlas", atlas).exit_code == 0
    res = invoke(runner, "import", "weights", path, "--format", "geojson", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    (n,) = query_atlas(atlas, "SELECT count(*) FROM region_neighbors WHERE region = 'FR10'")[0]
    assert n == 5
    bad = invoke(runner, "fetch", "gisco", "--year", "2021", "--level", "4", "--base-url", base)
    assert bad.exit_code == 2 and "--level 0-3" in bad.output


# ------------------------------------------------ the cache is verified on every use (issue 9, item 11)
def _cbp_zip(root, payload: bytes):
    (root / "2019").mkdir(exist_ok=True)
    archive = root / "2019" / "cbp19msa.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("cbp19msa.txt", payload)
    return archive


def _damage(path, at: float = 0.5):
    """Flip bytes inside the compressed data (the zip's directory stays readable)."""
    data = bytearray(path.read_bytes())
    i = int(len(data) * at)
    data[i:i + 64] = bytes(b ^ 0xFF for b in data[i:i + 64])
    path.write_bytes(bytes(data))


def _leftovers(folder):
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith((".part", ".tmp", ".extracting")))


def test_a_damaged_cached_archive_is_downloaded_again(server, runner):
    root, base = server
    payload = shared_file("eu/eurostat_lfst_r_lfe2en2_2008_2015.tsv").read_bytes()
    served = _cbp_zip(root, payload)
    args = ("fetch", "cbp", "--year", "2019", "--level", "metro", "--base-url", base)
    assert invoke(runner, *args).exit_code == 0
    cached = _target(source_url("cbp", base=base, year=2019, level="metro"), None)
    extracted = cached.with_name("cbp19msa.txt")
    assert extracted.read_bytes() == payload
    # 1. damaged archive, extracted copy still there: not served as "from the cache"
    _damage(cached)
    res = invoke(runner, *args)
    assert res.exit_code == 0 and "downloaded again" in " ".join(res.output.split()), res.output
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == hashlib.sha256(served.read_bytes()).hexdigest()
    assert hashlib.sha256(served.read_bytes()).hexdigest() in res.output
    # 2. damaged archive and no extracted copy: downloaded again and extracted whole, no traceback
    _damage(cached)
    extracted.unlink()
    res = invoke(runner, *args)
    assert res.exit_code == 0, res.output  # no zlib.error traceback
    assert extracted.read_bytes() == payload
    # 3. a damaged extracted copy (archive fine) is extracted again
    extracted.write_bytes(payload[:1000])
    res = invoke(runner, *args)
    assert res.exit_code == 0 and "checksum verified" in " ".join(res.output.split())
    assert extracted.read_bytes() == payload
    assert _leftovers(cached.parent) == []


def test_a_damaged_archive_from_the_server_is_refused_and_leaves_nothing(server, runner):
    root, base = server
    payload = shared_file("eu/eurostat_lfst_r_lfe2en2_2008_2015.tsv").read_bytes()
    served = _cbp_zip(root, payload)
    good = served.read_bytes()
    _damage(served)
    args = ("fetch", "cbp", "--year", "2019", "--level", "metro", "--base-url", base)
    res = invoke(runner, *args)
    assert res.exit_code == 2 and "not a valid zip archive" in " ".join(res.stderr.split()), res.output
    cached = _target(source_url("cbp", base=base, year=2019, level="metro"), None)
    assert not cached.with_name("cbp19msa.txt").exists() and _leftovers(cached.parent) == []
    assert not cached.exists()  # removed from the cache, so the next run downloads it anew
    served.write_bytes(good)  # the server is fixed: no hand cleaning needed
    res = invoke(runner, *args)
    assert res.exit_code == 0, res.output
    assert cached.with_name("cbp19msa.txt").read_bytes() == payload


def test_checksum_checked_on_every_use_and_offline_with_a_damaged_cache(server, runner):
    root, base = server
    (root / "f.csv").write_text("a,b\n1,2\n")
    url = f"{base}/f.csv"
    first = fetch(url)
    assert first.downloaded
    # a different expected checksum: the cached copy is not taken for it; the server's copy is refused too
    with pytest.raises(InputError, match="does not match its checksum"):
        fetch(url, expected_sha256="0" * 64)
    assert not first.path.exists() and _leftovers(first.path.parent) == []
    again = fetch(url, expected_sha256=first.sha256)
    assert again.downloaded and again.sha256 == first.sha256
    assert not fetch(url, expected_sha256=first.sha256).downloaded  # verified, then reused
    # offline with a damaged cached copy: a clean refusal that says why, and nothing broken kept
    first.path.write_text("a,b\n9,9\n")
    offline = "http://127.0.0.1:9/f.csv"
    target = _target(offline, None)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(first.path.read_bytes())
    target.with_name(target.name + ".meta.json").write_text(
        first.path.with_name("f.csv.meta.json").read_text())
    with pytest.raises(InputError, match="are you offline") as info:
        fetch(offline, timeout=2)
    assert "no longer matches its checksum" in str(info.value) and not target.exists()
    res = invoke(runner, "fetch", "cmp", "--base-url", "http://127.0.0.1:9")
    assert res.exit_code == 2 and "offline" in res.stderr
