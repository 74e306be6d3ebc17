"""Download official files into a local cache: checksums, resume, progress, offline message.

Each file lands in the platform cache directory (``CLUSTERATLAS_CACHE`` to
change it) under a folder named after its URL, with a sidecar
``.meta.json`` recording the URL, size, SHA-256 and time. A cached file is
reused without touching the network while its checksum still matches
(checked on every use; a damaged copy is removed and downloaded again).
An interrupted download leaves a ``.part`` file; the next call asks the server for the rest (HTTP Range) and
starts over if the server does not support it. A file is only moved into
place once complete (and its checksum matches, when one is expected).

The official base URLs are configurable (``--base-url`` or the environment
variables below), which is also how the tests run this code against a
local server.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from clusteratlas.errors import InputError
from clusteratlas.i18n import _
from clusteratlas.sources.files import sha256_file

CHUNK = 1 << 16

#: Official sources: base URL (overridable by an environment variable) and the file path under it.
SOURCES = {
    "cbp": ("CLUSTERATLAS_CBP_BASE_URL", "https://www2.census.gov/programs-surveys/cbp/datasets"),
    "eurostat": ("CLUSTERATLAS_EUROSTAT_BASE_URL",
                 "https://ec.europa.eu/eurostat/api/dissemination/sdmx/2.1/data"),
    "estat": ("CLUSTERATLAS_ESTAT_BASE_URL", "https://api.e-stat.go.jp/rest/3.0/app/json"),
    "estat-csv": ("CLUSTERATLAS_ESTAT_CSV_BASE_URL", "https://api.e-stat.go.jp/rest/3.0/app"),
    "qcew": ("CLUSTERATLAS_QCEW_BASE_URL", "https://data.bls.gov/cew/data/files"),
    "cmp": ("CLUSTERATLAS_CMP_BASE_URL", "https://clustermapping.us/data"),
    "naics-concordance": ("CLUSTERATLAS_NAICS_BASE_URL", "https://www.census.gov/naics/concordances"),
    "census-geo": ("CLUSTERATLAS_CENSUS_GEO_BASE_URL", "https://www2.census.gov/geo/tiger"),
    "gisco": ("CLUSTERATLAS_GISCO_BASE_URL", "https://gisco-services.ec.europa.eu/distribution/v2/nuts/geojson"),
    # inputs of data-driven definitions (define --io / --occupations)
    "bea-io": ("CLUSTERATLAS_BEA_BASE_URL", "https://apps.bea.gov/industry/iTables%20Static%20Files"),
    "bls-matrix": ("CLUSTERATLAS_BLS_EP_BASE_URL", "https://www.bls.gov/emp/ind-occ-matrix"),
    "oews": ("CLUSTERATLAS_OEWS_BASE_URL", "https://www.bls.gov/oes/special-requests"),
}
CBP_LEVELS = {"state": "st", "county": "co", "metro": "msa", "national": "us"}


def cache_dir() -> Path:
    """Where downloads are kept: CLUSTERATLAS_CACHE, else the platform's user cache directory."""
    if os.environ.get("CLUSTERATLAS_CACHE"):
        return Path(os.environ["CLUSTERATLAS_CACHE"])
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("clusteratlas"))


def base_url(source: str, override: str | None = None) -> str:
    env, default = SOURCES[source]
    return (override or os.environ.get(env) or default).rstrip("/")


def source_url(source: str, *, base: str | None = None, year: int | None = None, level: str = "metro",
               dataset: str | None = None, table: str | None = None, app_id: str | None = None) -> str:
    """The URL of one official file."""
    root = base_url(source, base)
    if source == "cbp":
        if year is None:
            raise InputError(_("CBP needs --year"))
        if level not in CBP_LEVELS:
            raise InputError(_("unknown CBP level"), value=level, expected=", ".join(CBP_LEVELS))
        return f"{root}/{year}/cbp{year % 100:02d}{CBP_LEVELS[level]}.zip"
    if source == "eurostat":
        if not dataset:
            raise InputError(_("Eurostat needs a dataset code, e.g. sbs_r_nuts06_r2"))
        return f"{root}/{dataset}?format=TSV&compressed=false"
    if source == "estat":
        if not table or not app_id:
            raise InputError(_("e-Stat needs --table (statsDataId) and --app-id (your application ID)"))
        return f"{root}/getStatsData?appId={app_id}&statsDataId={table}"
    if source == "estat-csv":
        if not table or not app_id:
            raise InputError(_("e-Stat needs --table (statsDataId) and --app-id (your application ID)"))
        return f"{root}/getSimpleStatsData?appId={app_id}&statsDataId={table}"
    if source == "qcew":
        if year is None:
            raise InputError(_("QCEW needs --year"))
        return f"{root}/{year}/csv/{year}_annual_singlefile.zip"
    if source == "cmp":
        return f"{root}/meta/clusters"
    if source == "naics-concordance":
        from clusteratlas.reference.benchmark import CENSUS_CONCORDANCES, NAICS_CONCORDANCES

        files = {f"{a}-{b}": name for (a, b), name in NAICS_CONCORDANCES.items()} | CENSUS_CONCORDANCES
        if dataset not in files:
            raise InputError(_("unknown NAICS concordance"), value=dataset, expected=", ".join(files))
        return f"{root}/{files[dataset]}"
    if source == "census-geo":
        if year is None or level not in ("state", "county", "cbsa"):
            raise InputError(_("Census cartographic boundaries need --year and --level state, county or cbsa"),
                             value=f"year={year}, level={level}")
        return f"{root}/GENZ{year}/shp/cb_{year}_us_{level}_500k.zip"
    if source == "gisco":
        if year is None or level not in ("0", "1", "2", "3"):
            raise InputError(_("GISCO NUTS geometry needs --year (2013, 2016, 2021, 2024) and --level 0-3"),
                             value=f"year={year}, level={level}")
        return f"{root}/NUTS_RG_03M_{year}_4326_LEVL_{level}.geojson"
    if source == "bea-io":  # every BEA input-output table (Use, Make, detail with its NAICS sheet) in one zip
        return f"{root}/AllTablesIO.zip"
    if source == "bls-matrix":  # one industry's National Employment Matrix workbook, by its NEM code
        if not dataset:
            raise InputError(_("the BLS matrix needs the industry's matrix code, e.g. 311100"))
        return f"{root}/ind_xlsx/ind_{dataset}.xlsx"
    if source == "oews":  # OEWS national industry-specific estimates (4-digit NAICS × occupation)
        if year is None:
            raise InputError(_("OEWS needs --year"))
        return f"{root}/oesm{year % 100:02d}in4.zip"
    raise InputError(_("unknown source"), value=source, expected=", ".join(SOURCES))


class OfflineError(InputError):
    """The server could not be reached (no network): callers may say how to work from local files instead."""


@dataclass
class Fetched:
    """A file in the cache, and whether it was downloaded now (``repaired``: again, the cached copy was bad)."""

    path: Path
    url: str
    sha256: str
    size: int
    downloaded: bool
    repaired: bool = False


def _target(url: str, name: str | None) -> Path:
    folder = cache_dir() / hashlib.sha256(url.encode()).hexdigest()[:16]
    filename = name or url.split("?")[0].rstrip("/").rsplit("/", 1)[-1] or "download"
    return folder / filename


def _write_atomically(path: Path, text: str) -> None:
    """Write a small file under a temporary name, then rename it (never half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _discard(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _cached(target: Path, meta: Path, expected_sha256: str | None) -> tuple[Fetched | None, str | None]:
    """The cached file if its checksum still matches (checked on every use), else why it was discarded."""
    if not target.exists():
        return None, None
    try:
        recorded = json.loads(meta.read_text())
        want = recorded["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        _discard(target, meta)
        return None, "its checksum record is missing or unreadable"
    digest = sha256_file(target)
    if digest != want:
        _discard(target, meta)
        return None, f"it no longer matches its checksum (sha256 {digest}, recorded {want})"
    if expected_sha256 and digest != expected_sha256.lower():
        _discard(target, meta)
        return None, f"its checksum {digest} is not the one asked for ({expected_sha256})"
    return Fetched(target, recorded.get("url", ""), digest, target.stat().st_size, downloaded=False), None


def fetch(url: str, *, name: str | None = None, expected_sha256: str | None = None,
          progress: Callable[[int, int | None], None] | None = None, timeout: float = 60.0) -> Fetched:
    """Download ``url`` into the cache (or reuse it); ``progress(done, total)`` is called as bytes arrive.

    A cached file is reused only while its SHA-256 matches the one recorded
    when it was downloaded (and ``expected_sha256``, when given); otherwise it
    is removed and downloaded again, or, when that fails, the error says so
    and the cache holds nothing broken for the next run.
    """
    target = _target(url, name)
    meta = target.with_name(target.name + ".meta.json")
    got, problem = _cached(target, meta, expected_sha256)
    if got is not None:
        got.url = url
        return got
    broken = _("The cached copy {target} was removed: {problem}. ").format(target=target, problem=_(problem)) \
        if problem else ""
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    start = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "clusteratlas"})
    if start:
        request.add_header("Range", f"bytes={start}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and start:  # the part is already complete
            response = None
        else:
            raise InputError(_("the server answered {code} {reason}").format(code=exc.code, reason=exc.reason),
                             value=url,
                             hint=broken.strip() or None) from None
    except (urllib.error.URLError, OSError) as exc:
        cached = sorted(p.name for p in cache_dir().glob("*/*")
                        if not p.name.endswith((".part", ".json", ".tmp")))
        listed = (_("Files already in the cache: {files}").format(files=", ".join(cached[:10])) if cached
                  else _("Nothing is cached yet; connect and try again"))
        raise OfflineError(_("cannot reach the server ({exc}); are you offline?").format(exc=getattr(exc, 'reason',
                                                                                                     exc)),
                           value=url, hint=broken + listed) from None
    if response is not None:
        with response:
            resumed = start and response.status == 206
            mode = "ab" if resumed else "wb"
            done = start if resumed else 0
            length = response.headers.get("Content-Length")
            total = done + int(length) if length else None
            with open(part, mode) as fh:
                while chunk := response.read(CHUNK):
                    fh.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
    digest = sha256_file(part)
    if expected_sha256 and digest != expected_sha256.lower():
        part.unlink()
        raise InputError(_("the downloaded file does not match its checksum"), value=digest,
                         expected=expected_sha256, hint=broken + _("The partial file was removed; try again"))
    size = part.stat().st_size
    _discard(meta)  # no record ever vouches for a file it was not written for
    os.replace(part, target)
    _write_atomically(meta, json.dumps({"url": url, "sha256": digest, "size": size, "fetched_at": time.time()},
                                       indent=1))
    return Fetched(target, url, digest, size, downloaded=True, repaired=bool(problem))


def _crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK * 16):
            crc = zlib.crc32(chunk, crc)
    return crc


def unpack(path: Path, *, discard_bad: bool = False) -> Path:
    """The data file inside a downloaded zip (the largest member), extracted beside it.

    An extracted copy is reused only while its size and CRC-32 match the
    archive's record of the member (checked on every use); otherwise it is
    extracted again, to a temporary name renamed into place once complete,
    so a damaged archive never leaves half a file behind. ``discard_bad``
    removes a damaged archive (and its checksum record) from the cache, so
    the next fetch downloads it anew instead of failing again.
    """
    if path.suffix.lower() != ".zip":
        return path
    tmp: Path | None = None
    try:
        with zipfile.ZipFile(path) as archive:
            member = max(archive.infolist(), key=lambda m: m.file_size)
            out = path.with_name(Path(member.filename).name)
            if out.exists() and out.stat().st_size == member.file_size and _crc32(out) == member.CRC:
                return out
            tmp = out.with_name(out.name + ".extracting")
            with archive.open(member) as src, open(tmp, "wb") as dst:  # zipfile checks the CRC at the end
                shutil.copyfileobj(src, dst, CHUNK * 16)
            os.replace(tmp, out)
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as exc:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        if discard_bad:
            _discard(path, path.with_name(path.name + ".meta.json"))
        raise InputError(_("the download is not a valid zip archive: {exc}").format(exc=exc), file=str(path),
                         hint="It was removed from the cache; fetch again to download it anew" if discard_bad
                         else "Delete it and fetch again") from None
    return out
