"""When loading a model may run code, and which skops types load without asking.

Pickle (and cloudpickle) files run arbitrary code when read, so they load only with
``trust=True`` (the registry passes it for versions marked trusted). The check is made by
the loader for the format it reads, never taken from the manifest alone, so a hand-edited
``MODEL.json`` saying ``"unsafe": false`` cannot let a pickle through.

skops files name every type they rebuild; skops refuses the ones outside its allowlist
unless the caller trusts them. Modelyard trusts more of them automatically, by rule: the
file's bytes were checked against the manifest first, and the rule accepts only what comes
from the libraries skops itself reconstructs (scikit-learn, NumPy, SciPy, Python's
builtins and ``collections``, and the model's own library such as LightGBM for an
``LGBMClassifier``). A *name* from those families is not enough, because skops can call
what it names with arguments from the file (``builtins.eval``, ``numpy.load`` and
``numpy.memmap`` are all "in numpy/builtins"). So a name is trusted only when it resolves
to a class, a NumPy ufunc, or a function of scikit-learn's array-only modules
(preprocessing, metrics, feature selection), and not to anything in an I/O, testing or
dataset-download module. Everything else needs ``trust=True``.
"""

from __future__ import annotations

import importlib
import sys
import types
from functools import lru_cache

from modelyard.core.errors import PermissionDenied

PICKLE_MESSAGE = (
    "This model was stored with pickle, which can run arbitrary code when loaded. Load it only if you "
    "trust its author: mark the version trusted in the registry, or pass trust=True."
)

# The import name of a model library whose own types are trusted in its skops files.
OWN_LIBRARY_MODULES = {"scikit-learn": "sklearn", "lightgbm": "lightgbm", "xgboost": "xgboost"}

_FAMILIES = frozenset({"sklearn", "numpy", "scipy", "builtins", "collections"})
# Sub-modules that read or write files, download data or exist for tests.
_DENIED_SEGMENTS = frozenset(
    {
        "io",
        "_io",
        "datasets",
        "testing",
        "_testing",
        "tests",
        "conftest",
        "externals",
        "estimator_checks",
        "f2py",
        "distutils",
        "ctypeslib",
        "_datasource",
        "npyio",
        "_npyio_impl",
        "format",
        "_format_impl",
        "_lib",
        "_build_utils",
        "__check_build",
        "callback",
        "plotting",
        "dask",
    }
)
# Functions from these modules only compute on arrays (score functions, scalers, metrics).
_PURE_FUNCTION_MODULES = ("sklearn.preprocessing", "sklearn.metrics", "sklearn.feature_selection")


def skops_message(foreign: list[str]) -> str:
    """Why a skops file needs trust, naming the types it would rebuild."""
    shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
    return (
        f"This model's skops file rebuilds types outside Modelyard's safe list ({shown}), and loading it "
        "runs their code. Load it only if you trust its author: mark the version trusted in the registry, "
        "or pass trust=True."
    )


def require_trust(trust: bool, message: str = PICKLE_MESSAGE) -> None:
    """Refuse to go on unless the caller trusts the model.

    Raises:
        PermissionDenied: ``trust`` is false.
    """
    if not trust:
        raise PermissionDenied(message)


def foreign_types(type_names: list[str], library: str) -> list[str]:
    """The skops type names that are not trusted by rule (see the module docstring)."""
    own = OWN_LIBRARY_MODULES.get(library)
    return [t for t in type_names if not is_trusted_type(t, own)]


@lru_cache(maxsize=4096)
def is_trusted_type(name: str, own_module: str | None = None) -> bool:
    """Whether a skops type name is safe to rebuild without the caller's trust."""
    module, _, attr = name.rpartition(".")
    families = _FAMILIES | ({own_module} if own_module else set())
    if not module or not attr or not _allowed_module(module, families):
        return False
    try:
        obj = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError):
        return False
    return _safe_object(obj, families)


def _allowed_module(module: str, families: frozenset[str] | set[str]) -> bool:
    parts = module.split(".")
    return parts[0] in families and not any(p in _DENIED_SEGMENTS for p in parts[1:])


def _safe_object(obj: object, families: frozenset[str] | set[str]) -> bool:
    import numpy as np

    if isinstance(obj, np.ufunc):
        return True  # element-wise maths, whatever arguments it gets
    real_module = getattr(obj, "__module__", None) or ""
    if not _allowed_module(real_module, families):
        return False  # an alias to something from elsewhere
    if isinstance(obj, type):
        return not issubclass(obj, np.memmap | types.ModuleType)
    if isinstance(obj, types.FunctionType | types.BuiltinFunctionType):
        return real_module.startswith(_PURE_FUNCTION_MODULES)
    return False


def importable(name: str) -> bool:
    """Whether a type name can be found again in another process (not ``__main__``, not local)."""
    module, _, attr = name.rpartition(".")
    if not module or module == "__main__" or "<" in name:
        return False
    mod = sys.modules.get(module)
    return mod is not None and hasattr(mod, attr)
