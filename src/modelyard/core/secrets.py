"""The one rule for which keys name a secret, shared by the event log and the audit trail."""

from __future__ import annotations

import re

# Matched against the key lower-cased with everything but letters and digits removed, so
# ``API-Key``, ``clientSecret`` and ``access_token`` all count; ``tokenizer``/``tokenise``
# are the one exception, so model settings keep their tokenizer name.
_SENSITIVE = re.compile(
    r"secret|token(?!i[sz])|passw(?:or)?d|pwd|authorization|apikey|privatekey|accesskey|credential"
)
_NOT_ALNUM = re.compile(r"[^0-9a-z]")


def is_sensitive_key(key: object) -> bool:
    """True when a key names a secret (secret, token, password, authorization, API or private key, ...)."""
    return bool(_SENSITIVE.search(_NOT_ALNUM.sub("", str(key).lower())))
