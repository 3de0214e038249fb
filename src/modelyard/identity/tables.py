"""Tables for users, their API tokens, and the one-time first-admin bootstrap token.

Two kinds of secret are stored here, hashed two different ways on purpose:

* **Passwords** are chosen by people, so they are guessable; they are stored as argon2id
  hashes, which are slow and memory-hard so that a stolen table cannot be brute-forced.
* **API token secrets** (and the bootstrap token) are 256 bits from ``secrets``; no one can
  guess them, so a slow hash would only add latency to every request. A plain SHA-256 of
  the secret is enough: the database never holds anything that works as a credential.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
)

from modelyard.core.metadata import metadata

users = Table(
    "users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False, default=""),
    Column("email", String(320), nullable=False, default=""),
    # argon2id PHC string; NULL for service accounts and token-only users (they cannot sign in).
    Column("password_hash", String(255), nullable=True),
    Column("kind", String(16), nullable=False, default="user"),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("is_auditor", Boolean, nullable=False, default=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(200), nullable=False, default=""),
    CheckConstraint("kind IN ('user', 'service')", name="kind"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    # The public part of the token (``myd_<id>_<secret>``): safe to show in listings and logs.
    Column("id", String(16), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    # SHA-256 hex of the secret part (see the module docstring for why not argon2).
    Column("secret_hash", String(64), nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
    Column("last_used_at", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
)

bootstrap = Table(
    "bootstrap",
    metadata,
    # A single row (id = 1): the one-time token that creates the first administrator.
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("token_hash", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("used_at", BigInteger, nullable=True),
    CheckConstraint("id = 1", name="single_row"),
)
