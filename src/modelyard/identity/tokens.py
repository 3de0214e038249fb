"""API token format, generation, parsing and hashing.

A token reads ``myd_<id>_<secret>``: ``id`` (12 URL-safe characters) is the public part,
stored in clear so the server can find the row; ``secret`` (43 characters, 256 random bits)
is stored only as its SHA-256. The ``myd_`` prefix lets secret scanners recognise leaked
tokens. Both parts may contain ``_``, so parsing goes by position, not by splitting.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from modelyard.core.errors import Unauthenticated

PREFIX = "myd_"
ID_CHARS = 12
SECRET_CHARS = 43
INVALID_TOKEN = "Invalid or expired token."

_TOKEN = re.compile(rf"^{PREFIX}([A-Za-z0-9_-]{{{ID_CHARS}}})_([A-Za-z0-9_-]{{{SECRET_CHARS}}})$")


def new_token() -> tuple[str, str, str]:
    """A fresh token as ``(id, secret, full)``; only ``full`` is ever shown to the user."""
    token_id = secrets.token_urlsafe(9)  # 9 bytes -> 12 characters
    secret = secrets.token_urlsafe(32)  # 32 bytes -> 43 characters
    return token_id, secret, f"{PREFIX}{token_id}_{secret}"


def parse_token(full: str) -> tuple[str, str]:
    """Split a token into ``(id, secret)``.

    Raises:
        Unauthenticated: ``full`` is not a well-formed token (same message as a wrong one).
    """
    match = _TOKEN.match(full) if isinstance(full, str) else None
    if match is None:
        raise Unauthenticated(INVALID_TOKEN)
    return match.group(1), match.group(2)


def hash_secret(secret: str) -> str:
    """SHA-256 hex of a high-entropy secret (API token or bootstrap token)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Whether ``secret`` hashes to ``stored_hash``, compared in constant time."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)
