"""The online serving process: hosts deployments over HTTP with capture, challengers and canaries.

Pieces: ``sources`` (where deployments and models come from), ``hosting`` (loading and atomic
swaps), ``inputs`` (bodies checked against signatures), ``scoring`` and ``compiled`` (fast
paths, micro-batches), ``traffic`` (A/B, sticky keys, canary controller), ``humility``,
``predict`` (one request end to end), ``capture`` and ``capture_process`` (handing rows to the
prediction log), ``metrics``, ``auth``, ``app`` (the ASGI app) and ``server`` (config, uvicorn).

Names are imported on first use, so the capture child process (which imports this package to
find its entry point) does not load models, pandas or HTTP machinery it never uses.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "RuntimeApp": "modelyard.serving.runtime.app",
    "RuntimeConfig": "modelyard.serving.runtime.server",
    "build_app": "modelyard.serving.runtime.server",
    "run": "modelyard.serving.runtime.server",
    "LocalSource": "modelyard.serving.runtime.sources",
    "RegistrySource": "modelyard.serving.runtime.sources",
    "pinned_deployment": "modelyard.serving.runtime.sources",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
