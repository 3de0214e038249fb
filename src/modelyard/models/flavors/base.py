"""What every flavor provides: detect an object, save it into a folder, load it back."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from modelyard.core.errors import InvalidArgument
from modelyard.models.manifest import ColumnSpec, ModelManifest
from modelyard.models.signature import Example


@dataclass
class Predictor:
    """A loaded (or in-memory) model behind one calling convention."""

    raw: Any
    predict: Callable[[Any], Any]
    predict_proba: Callable[[Any], Any] | None = None


@dataclass
class SaveOptions:
    """What ``save`` passes to a flavor."""

    example: Example | None
    allow_pickle: bool


@dataclass
class Saved:
    """What a flavor wrote and what the manifest should say about it."""

    library: str
    library_version: str
    predictor: Predictor
    requirements: list[str]
    unsafe: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    inputs: list[ColumnSpec] | None = None  # from the model itself, used when there is no example
    input_kind: Literal["dataframe", "array"] = "dataframe"


@dataclass(frozen=True)
class Flavor:
    """One model family: how to recognise, save and load it."""

    name: str
    detect: Callable[[Any], bool]
    save: Callable[[Any, Path, SaveOptions], Saved]
    load: Callable[[Path, ModelManifest, bool], Predictor]


def version_of(dist: str) -> str:
    """The installed version of a distribution, or ``"unknown"``."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def pin(*dists: str) -> list[str]:
    """``name==version`` for each installed distribution (others are left out)."""
    return [f"{d}=={v}" for d in dists if (v := version_of(d)) != "unknown"]


def defined_in(obj: Any, package: str) -> bool:
    """Whether the object's class (or a base class) comes from ``package``, without importing it."""
    return any((getattr(c, "__module__", "") or "").split(".")[0] == package for c in type(obj).__mro__)


def model_file(folder: Path, manifest: ModelManifest, default: str) -> Path:
    """The verified model file a flavor reads: named in ``extra`` and listed in ``files``."""
    name = manifest.extra.get("model_file", default)
    if not isinstance(name, str) or name not in manifest.files:
        raise InvalidArgument(
            f"The model in {str(folder)!r} is broken: its model file {name!r} is not listed."
        )
    return folder / name


def feature_columns(names: Any) -> list[ColumnSpec] | None:
    """Input columns from a model's own feature names (types unknown)."""
    if names is None:
        return None
    names = [str(n) for n in names]
    return [ColumnSpec(name=n, type="any") for n in names] if names else None
