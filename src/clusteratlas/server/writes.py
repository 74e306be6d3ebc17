"""Write routes: token-checked, queued on the one writer thread, logged.

The token is checked by the guard (:mod:`clusteratlas.server.guard`) before
any byte of a body is read. Uploads are streamed to a temporary file
(python-multipart), then kept beside the atlas (``<atlas>.uploads/``) so the
import log names a file that still exists; an upload that fails its checks
is deleted and leaves the atlas unchanged (the importers are all-or-nothing).
Reading and checking an upload has a time limit (``serve --upload-seconds``)
besides the read limits of :mod:`clusteratlas.sources.limits`: past it, the
import is interrupted and rolled back (413), so one upload cannot hold the
writer.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Request, UploadFile
from fastapi import Path as PathParam
from pydantic import BaseModel, Field
from starlette.responses import Response

from clusteratlas.errors import InputError
from clusteratlas.i18n import _
from clusteratlas.queries._core import to_rows
from clusteratlas.server.answering import service_of
from clusteratlas.server.auth import Caller, create_token, list_tokens, record_write, require_role, revoke_token
from clusteratlas.server.contract import WRITE_ERRORS
from clusteratlas.server.formats import json_response
from clusteratlas.server.guard import Who
from clusteratlas.server.service import AtlasService, ReadOnly

router = APIRouter(tags=["writes"])
UPLOAD_SUFFIXES = {".csv", ".xlsx", ".parquet", ".tsv", ".txt"}


class WriteAnswer(BaseModel):
    """What a write did."""

    action: str
    result: dict[str, Any]
    sha256: str | None = None


def _keep_upload(service: AtlasService, upload: UploadFile) -> tuple[Path, str]:
    """Copy an upload (already spooled to a temporary file) beside the atlas; return its path and SHA-256."""
    name = Path(upload.filename or "upload.csv").name
    suffix = Path(name).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise InputError(_("unsupported file type"), file=name[:100], value=suffix[:20],
                         expected=", ".join(sorted(UPLOAD_SUFFIXES)))
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name).stem)[:80] or "upload"
    folder = service.path.with_name(service.path.name + ".uploads")
    folder.mkdir(exist_ok=True)
    digest = hashlib.sha256()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    target = folder / f"{stamp}-{safe}{suffix}"
    upload.file.seek(0)
    with open(target, "wb") as out:
        while chunk := upload.file.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
    return target, digest.hexdigest()


def as_uploaded(exc: InputError, path: Path, name: str) -> InputError:
    """The error as the uploader sees it: the file named as it was sent, never the server's path of the kept copy."""
    def plain(value):
        if not isinstance(value, str):
            return value
        return value.replace(str(path), name).replace(str(path.parent), "uploads")

    return replace(exc, **{f.name: plain(getattr(exc, f.name)) for f in fields(exc) if f.init})


@contextlib.contextmanager
def _time_limited(con, seconds: float | None, label: str) -> Iterator[None]:
    """Give the code inside ``seconds``: the readers watch the clock, and DuckDB is interrupted at the end."""
    import duckdb

    from clusteratlas.sources import limits

    if not seconds:
        yield
        return
    lock = threading.Lock()
    done = False

    def interrupt() -> None:
        with lock:
            if not done:
                con.interrupt()

    timer = threading.Timer(seconds, interrupt)
    timer.daemon = True
    timer.start()
    try:
        with limits.applied(seconds=seconds):
            yield
    except duckdb.InterruptException:
        raise limits.time_error(label, None, seconds) from None
    finally:
        with lock:
            done = True
        timer.cancel()


def _write_upload(request: Request, who: Caller, role: str, upload: UploadFile, action: str,
                  job: Callable[[Any, Path], dict], then: Callable[[Any, dict], dict] | None = None) -> Response:
    """Keep the upload, run ``job(atlas, path)`` within the upload time limit, then ``then(atlas, result)``."""
    require_role(who, role)
    service = service_of(request)
    if service.read_only:
        raise ReadOnly()
    path, sha = _keep_upload(service, upload)
    sent = Path(upload.filename or path.name).name
    seconds = request.app.state.settings.upload_seconds

    def run(atlas):
        try:
            with _time_limited(atlas.con, seconds, sent):
                result = job(atlas, path)
            if then is not None:
                result = then(atlas, result)
        except InputError as exc:  # a limit error too: the file named as sent, never the kept copy's path
            path.unlink(missing_ok=True)
            raise as_uploaded(exc, path, sent) from None
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        record_write(atlas.con, who, action, json.dumps({"file": path.name, **result}, default=str), sha)
        return result

    result = service.write(run)
    return json_response({"action": action, "result": result, "sha256": sha}, status=201)


@router.post("/assessments", status_code=201, responses={201: {"model": WriteAnswer}, **WRITE_ERRORS})
def upload_assessments(request: Request, who: Who, file: Annotated[UploadFile, File(
        description="An assessment form (.csv or .xlsx), as 'clusteratlas assess import' reads it")]) -> Response:
    """Import an assessment form (editor): the same checks as 'assess import'; all or nothing; new revisions."""
    return _write_upload(request, who, "editor", file, "assess-import",
                         lambda atlas, path: asdict(atlas.import_assessments(path)) | {"file": path.name})


def _remap(atlas, definition: str | None = None, add_levels: tuple[str, ...] = ()) -> dict[str, Any]:
    """Map again by replaying the latest run's stored spec (Atlas.remap): the same definition (unless another is
    named), levels (plus ``add_levels``), years, parameters and reference economy."""
    return atlas.remap(definition=definition, add_levels=add_levels).to_dict()


@router.post("/custom-regions", status_code=201, responses={201: {"model": WriteAnswer}, **WRITE_ERRORS})
def upload_custom_regions(request: Request, who: Who, file: Annotated[UploadFile, File(
        description="Custom regions (region, member, name, name_ja)")]) -> Response:
    """Define custom regions (editor), then map again so their results exist."""
    def job(atlas, path):
        atlas.replayable_spec()  # checked before the import: an upload that cannot be mapped changes nothing
        return {"rows": atlas.import_file("custom-regions", path).rows}

    # the re-map runs after the upload's time limit (it reads no upload: the limit is for reading the file)
    return _write_upload(request, who, "editor", file, "custom-regions", job,
                         then=lambda atlas, result: {**result, "map": _remap(atlas, add_levels=("custom",))})


class MapRequest(BaseModel):
    definition: str | None = Field(None, max_length=200)


@router.post("/map", status_code=201, responses={201: {"model": WriteAnswer}, **WRITE_ERRORS})
def run_map(request: Request, who: Who, body: MapRequest | None = None) -> Response:
    """Map again (admin), with the latest run's parameters and levels."""
    require_role(who, "admin")
    definition = body.definition if body else None

    def job(atlas):
        result = _remap(atlas, definition)
        record_write(atlas.con, who, "map", json.dumps(result, default=str), None)
        return result

    return json_response({"action": "map", "result": service_of(request).write(job)}, status=201)


class TokenRequest(BaseModel):
    role: Literal["editor", "admin"]
    name: str | None = Field(None, max_length=200)
    expires_days: float | None = Field(None, gt=0, le=3650)


@router.get("/tokens", responses={200: {"description": "The tokens (never their secrets)"}, **WRITE_ERRORS})
def tokens(request: Request, who: Who) -> Response:
    """List the tokens (admin)."""
    require_role(who, "admin")
    return json_response({"data": to_rows(list_tokens(service_of(request).reader()))})


@router.post("/tokens", status_code=201, responses={201: {"description": "The new token, shown once"},
                                                    **WRITE_ERRORS})
def new_token(request: Request, who: Who, body: TokenRequest) -> Response:
    """Create a token (admin); the answer holds it once, only its hash is stored."""
    require_role(who, "admin")

    def job(atlas):
        token_id, token = create_token(atlas.con, body.role, name=body.name, expires_days=body.expires_days)
        record_write(atlas.con, who, "token-create", json.dumps({"id": token_id, "role": body.role}), None)
        return token_id, token

    token_id, token = service_of(request).write(job)
    return json_response({"id": token_id, "token": token, "role": body.role, "name": body.name}, status=201)


@router.delete("/tokens/{token_id}", responses={200: {"description": "Revoked"}, **WRITE_ERRORS})
def delete_token(request: Request, who: Who,
                 token_id: Annotated[str, PathParam(min_length=1, max_length=100)]) -> Response:
    """Revoke a token (admin), at once."""
    require_role(who, "admin")

    def job(atlas):
        revoke_token(atlas.con, token_id)
        record_write(atlas.con, who, "token-revoke", json.dumps({"id": token_id}), None)

    service_of(request).write(job)
    return json_response({"id": token_id, "state": "revoked"})


