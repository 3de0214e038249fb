"""Safe model packaging: save a model to a self-describing folder, verify it, load it back.

File-level only (no database, no HTTP); the registry builds on it. See ``api`` for the
folder layout and ``trust`` for when a model needs ``trust=True``.
"""

from modelyard.models.api import load, save
from modelyard.models.files import save_file
from modelyard.models.flavors import FLAVORS
from modelyard.models.loaded import LoadedModel
from modelyard.models.manifest import MANIFEST_NAME, ColumnSpec, ModelManifest, Signature, read_manifest
from modelyard.models.mlflow_import import import_mlflow
from modelyard.models.trust import PICKLE_MESSAGE

__all__ = [
    "FLAVORS",
    "MANIFEST_NAME",
    "PICKLE_MESSAGE",
    "ColumnSpec",
    "LoadedModel",
    "ModelManifest",
    "Signature",
    "import_mlflow",
    "load",
    "read_manifest",
    "save",
    "save_file",
]
