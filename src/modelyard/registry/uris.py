"""``models:/`` URIs: how users name a registered version."""

from __future__ import annotations

import re

from modelyard.core.errors import InvalidArgument

_REF = r"(?:@(?P<alias>[^/@]+)|/(?P<version>\d+|latest))?$"
# Tried in order: ``name/3`` is a version of ``name``, not a model called "3" in project ``name``.
_FORMS = (
    re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+|latest)$"),
    re.compile(r"^models:/(?P<name>[^/@]+)" + _REF),
    re.compile(r"^models:/(?P<project>[^/@]+)/(?P<name>[^/@]+)" + _REF),
)


def parse_model_uri(uri: str, default_project: str) -> tuple[str, str, str]:
    """Split ``models:/[project/]name@alias`` or ``models:/[project/]name/<version|latest>``.

    Returns (project, name, ref) where ref is a number, ``latest`` or ``@alias``.
    """
    m = next((m for form in _FORMS if isinstance(uri, str) and (m := form.match(uri))), None)
    if m is None:
        raise InvalidArgument(
            f"Model URI {uri!r} is not valid: use models:/<name>@<alias>, models:/<name>/<version> or "
            "models:/<project>/<name>@<alias>."
        )
    groups = m.groupdict()
    ref = f"@{groups['alias']}" if groups.get("alias") else (groups.get("version") or "latest")
    return groups.get("project") or default_project, groups["name"], ref
