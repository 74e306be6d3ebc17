"""API tokens: created once, stored only as a hash, with roles, expiry and revocation.

A token reads ``ca_<id>_<secret>``: the id finds the stored row (and is what
``token list`` and the write log show), the token is checked against the
stored hash. Roles: ``editor`` (upload assessments, define custom regions)
and ``admin`` (everything, plus tokens and map runs). Anonymous callers may
only read. Every write is logged in ``api_writes``. The rows themselves are
stored and read by :mod:`clusteratlas.store.tokens`; this module is the policy.

**Hashing.** The secret is 256 random bits, so a fast hash protects it as
well as a slow one: nobody can search 2^256 secrets. Tokens are stored as
``sha256$<hex>`` and compared in constant time (microseconds). Argon2 is made
for low-entropy passwords; its cost (~0.15 s and 64 MiB per check) bought
nothing here but a way to load the server with wrong secrets. Tokens made
before (stored as ``$argon2id$…``) still work: the first successful check
rewrites their hash as SHA-256 (``upgrade``), and until then at most
:data:`ARGON2_AT_ONCE` Argon2 checks run at a time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from clusteratlas.errors import InputError
from clusteratlas.i18n import _
from clusteratlas.store import tokens as stored

ROLES = ("editor", "admin")
RANK = {"anonymous": 0, "editor": 1, "admin": 2}
_ARGON2 = PasswordHasher()
#: Argon2 checks (tokens stored before SHA-256) running at once: each takes about 64 MiB.
ARGON2_AT_ONCE = 2
_ARGON2_SLOTS = threading.BoundedSemaphore(ARGON2_AT_ONCE)
SHA256_PREFIX = "sha256$"
#: The one answer to every failed authentication (no token, a malformed, unknown, wrong, revoked or expired one):
#: different messages would tell a caller which token ids exist.
UNAUTHORIZED = ("a valid token is needed: send 'Authorization: Bearer ca_<id>_<secret>' with a token that exists, "
                "has not been revoked and has not expired")


@dataclass
class Caller:
    """Who is calling: a token's id, name and role, or anonymous."""

    role: str = "anonymous"
    token: str | None = None
    name: str | None = None


class AuthError(Exception):
    """A token is missing, wrong, revoked or expired (401), or its role is too low (403)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def hash_token(token: str) -> str:
    """The stored form of a token: ``sha256$`` and the hex SHA-256 of the whole token."""
    return SHA256_PREFIX + hashlib.sha256(token.encode("utf-8")).hexdigest()


def _matches(digest: str, token: str) -> bool:
    """True when ``token`` is the one ``digest`` was made from (SHA-256, or Argon2 for older tokens)."""
    if digest.startswith(SHA256_PREFIX):
        return hmac.compare_digest(digest, hash_token(token))
    with _ARGON2_SLOTS:
        try:
            return _ARGON2.verify(digest, token)
        except (VerificationError, InvalidHashError):
            return False


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def create_token(con: duckdb.DuckDBPyConnection, role: str, *, name: str | None = None,
                 expires_days: float | None = None) -> tuple[str, str]:
    """A new token: returns (id, token). Only the hash is stored; the token cannot be shown again."""
    if role not in ROLES:
        raise InputError(_("unknown role"), value=role, expected=", ".join(ROLES))
    if expires_days is not None and not 0 < expires_days <= 3650:
        raise InputError(_("bad expiry"), value=expires_days, expected=_("a number of days above 0, at most 3650"))
    if name is not None and len(name) > 200:
        raise InputError(_("token name too long"), value=len(name), expected=_("at most 200 characters"))
    token_id = secrets.token_hex(6)
    token = f"ca_{token_id}_{secrets.token_urlsafe(32)}"
    expires = _now() + timedelta(days=expires_days) if expires_days else None
    stored.insert_token(con, token_id, name, role, hash_token(token), _now(), expires)
    return token_id, token


def list_tokens(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Every token (never its secret or hash), newest first, with its state."""
    return stored.token_table(con, _now())


def revoke_token(con: duckdb.DuckDBPyConnection, token_id: str) -> None:
    """Revoke a token at once; an unknown id is a clear error."""
    stored.revoke(con, token_id, _now())


def authenticate(con: duckdb.DuckDBPyConnection, header: str | None, *,
                 upgrade: Callable[[str, str], None] | None = None) -> Caller:
    """The caller named by an ``Authorization: Bearer`` header (anonymous without one).

    ``upgrade(token_id, new_hash)`` is called after a token stored with an
    Argon2 hash passed its check, to store its SHA-256 hash instead (the
    server queues it on its writer; see :func:`store_upgraded_hash`).
    """
    if not header:
        return Caller()
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith("ca_") or token.count("_") < 2 or len(token) > 200:
        raise AuthError(401, UNAUTHORIZED)
    token_id = token.split("_")[1]
    row = stored.token_row(con, token_id)
    if row is None:
        raise AuthError(401, UNAUTHORIZED)
    name, role, digest, expires, revoked = row
    if not _matches(digest, token):
        raise AuthError(401, UNAUTHORIZED)
    if upgrade is not None and not digest.startswith(SHA256_PREFIX):
        upgrade(token_id, hash_token(token))
    if revoked is not None or (expires is not None and expires <= _now()):
        raise AuthError(401, UNAUTHORIZED)
    return Caller(role, token_id, name)


def store_upgraded_hash(con: duckdb.DuckDBPyConnection, token_id: str, new_hash: str) -> None:
    """Replace a token's Argon2 hash by its SHA-256 hash (only if still Argon2: a revoked row keeps its state)."""
    stored.replace_hash(con, token_id, new_hash, unless_prefix=SHA256_PREFIX)


def require_role(caller: Caller, role: str) -> None:
    """401 for an anonymous caller (the one message of every failed authentication), 403 for a token whose role
    is below ``role``."""
    if caller.role == "anonymous":
        raise AuthError(401, UNAUTHORIZED)
    if RANK[caller.role] < RANK[role]:
        raise AuthError(403, _("this route needs role {role}; the token has role {has}").format(role=role,
                                                                                                has=caller.role))


def record_write(con: duckdb.DuckDBPyConnection, caller: Caller, action: str, detail: str,
                 sha256: str | None) -> None:
    """Log one write: who, when, what, the checksum of what was sent."""
    stored.insert_write(con, _now(), caller.token, caller.name, caller.role, action, detail, sha256)
