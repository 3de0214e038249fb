"""Imports every domain's tables so ``metadata`` is complete (for Alembic and tests)."""

from modelyard.access import tables as _access  # noqa: F401
from modelyard.audit import tables as _audit  # noqa: F401
from modelyard.core.metadata import metadata
from modelyard.events import tables as _events  # noqa: F401
from modelyard.governance import tables as _governance  # noqa: F401
from modelyard.identity import tables as _identity  # noqa: F401
from modelyard.monitoring import tables as _monitoring  # noqa: F401
from modelyard.projects import tables as _projects  # noqa: F401
from modelyard.registry import tables as _registry  # noqa: F401
from modelyard.serving import tables as _serving  # noqa: F401
from modelyard.tracking import tables as _tracking  # noqa: F401

__all__ = ["metadata"]
