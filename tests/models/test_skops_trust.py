"""Which model files load without trust: skops type rules, and manifests that lie about safety."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from modelkit import ThresholdModel, table
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import FunctionTransformer

from modelyard import models
from modelyard.core.errors import PermissionDenied
from modelyard.models.folder import finish
from modelyard.models.manifest import MANIFEST_NAME
from modelyard.models.trust import is_trusted_type


@pytest.mark.parametrize(
    ("name", "trusted"),
    [
        ("sklearn.tree._tree.Tree", True),
        ("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor", True),
        ("sklearn.feature_selection._univariate_selection.f_classif", True),  # pure score function
        ("numpy.random._pcg64.PCG64", True),
        ("numpy.exp", True),  # a ufunc
        ("scipy.sparse._csr.csr_matrix", True),
        ("collections.OrderedDict", True),
        ("builtins.slice", True),
        ("builtins.eval", False),  # in "builtins", but skops may call it with the file's arguments
        ("builtins.getattr", False),
        ("numpy.load", False),  # reads (and can unpickle) a file
        ("numpy.memmap", False),  # creates or overwrites a file
        ("numpy.lib.npyio.NpzFile", False),
        ("scipy.io.netcdf_file", False),
        ("sklearn.datasets.fetch_openml", False),
        ("sklearn.utils._testing.TempMemmap", False),
        ("os.system", False),
        ("sklearnx.Thing", False),
        ("lightgbm.basic.Booster", False),  # only for a model whose own library is LightGBM
    ],
)
def test_trusted_type_rules(name: str, trusted: bool) -> None:
    assert is_trusted_type(name) is trusted


def test_own_library_types_are_trusted_for_that_library_only() -> None:
    pytest.importorskip("lightgbm")
    assert is_trusted_type("lightgbm.basic.Booster", "lightgbm")
    assert not is_trusted_type("lightgbm.basic.Booster", "xgboost")


def _evil_skops(path: Path) -> None:
    """A skops file whose transformer function is *built by calling* builtins.eval at load time."""
    sio.dump(FunctionTransformer(np.exp), path)
    schema = json.loads(zipfile.ZipFile(path).read("schema.json"))
    arg = {
        "__class__": "str",
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps("6*7"),
        "is_json": True,
    }
    schema["content"]["content"]["func"] = {
        "__class__": "eval",
        "__module__": "builtins",
        "__loader__": "ConstructorFromReduceNode",
        "content": {
            "__class__": "tuple",
            "__module__": "builtins",
            "__loader__": "TupleNode",
            "content": [arg],
        },
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("schema.json", json.dumps(schema))
    path.write_bytes(buf.getvalue())


def _forge(folder: Path, **changes: object) -> None:
    """Rewrite MODEL.json with fresh digests and the given fields, as an attacker could."""
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    (folder / MANIFEST_NAME).unlink()
    fields = {k: manifest[k] for k in ("flavor", "library", "library_version", "unsafe", "extra", "source")}
    fields.update(changes)
    tmp = folder.with_name(folder.name + "-forged")
    folder.rename(tmp)
    finish(tmp, **fields)
    tmp.rename(folder)


def test_hand_built_skops_calling_eval_needs_trust_even_with_a_clean_manifest(tmp_path: Path) -> None:
    X, y = table()
    folder = tmp_path / "m"
    models.save(LogisticRegression().fit(X, y), folder)
    _evil_skops(folder / "model.skops")
    assert sio.get_untrusted_types(file=folder / "model.skops") == ["builtins.eval"]
    _forge(folder, unsafe=False)  # digests match, manifest claims it is safe
    with pytest.raises(PermissionDenied, match=r"builtins\.eval.*trust=True"):
        models.load(folder)


def test_pickle_needs_trust_even_when_the_manifest_says_safe(tmp_path: Path) -> None:
    X, _ = table()
    folder = tmp_path / "m"
    models.save(ThresholdModel("income", 50.0), folder, input_example=X.head(2))
    _forge(folder, unsafe=False)
    assert models.read_manifest(folder).unsafe is False
    with pytest.raises(PermissionDenied, match="stored with pickle"):
        models.load(folder)
    np.testing.assert_array_equal(
        models.load(folder, trust=True).predict(X), ThresholdModel("income", 50.0).predict(X)
    )
