"""``save_file``: registering a single model file (the registry's path for .onnx, .skops, ...)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from modelkit import Doubler, table
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from modelyard import models
from modelyard.core.errors import InvalidArgument, PermissionDenied


def test_skops_file_with_safe_types_becomes_a_safe_model(tmp_path: Path) -> None:
    X, y = table()
    model = LogisticRegression().fit(X, y)
    sio.dump(model, tmp_path / "lr.skops")
    manifest = models.save_file(tmp_path / "lr.skops", tmp_path / "m")
    assert manifest.flavor == "sklearn" and not manifest.unsafe and manifest.signature.column_names
    np.testing.assert_allclose(models.load(tmp_path / "m").predict_proba(X), model.predict_proba(X))


def test_skops_file_with_foreign_types_is_copied_and_needs_trust(tmp_path: Path) -> None:
    X, y = table()
    model = make_pipeline(Doubler(), LogisticRegression()).fit(X, y)
    sio.dump(model, tmp_path / "p.skops")
    manifest = models.save_file(tmp_path / "p.skops", tmp_path / "m")
    assert manifest.unsafe and manifest.extra["untrusted_types"] == ["modelkit.Doubler"]
    assert (tmp_path / "m" / "model.skops").read_bytes() == (tmp_path / "p.skops").read_bytes()
    with pytest.raises(PermissionDenied):
        models.load(tmp_path / "m")
    np.testing.assert_array_equal(models.load(tmp_path / "m", trust=True).predict(X), model.predict(X))


def test_boosting_files(tmp_path: Path) -> None:
    xgb = pytest.importorskip("xgboost")
    lgb = pytest.importorskip("lightgbm")
    X, y = table()
    clf = xgb.XGBClassifier(n_estimators=5).fit(X, y)
    clf.save_model(tmp_path / "clf.ubj")
    manifest = models.save_file(tmp_path / "clf.ubj", tmp_path / "x")
    assert manifest.extra["wrapper"] == "XGBClassifier"  # found from the file's scikit-learn metadata
    np.testing.assert_allclose(models.load(tmp_path / "x").predict_proba(X), clf.predict_proba(X))
    booster = lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(X, y), 5)
    booster.save_model(tmp_path / "b.txt")
    models.save_file(tmp_path / "b.txt", tmp_path / "l")
    np.testing.assert_allclose(models.load(tmp_path / "l").predict(X), booster.predict(X))


@pytest.mark.filterwarnings("ignore:.*torch.jit.script. is deprecated:DeprecationWarning")
def test_torchscript_file_and_torch_pickles(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    net = torch.nn.Linear(3, 1)
    torch.jit.script(net).save(str(tmp_path / "net.pt"))
    models.save_file(tmp_path / "net.pt", tmp_path / "m")
    X = np.ones((2, 3), dtype=np.float32)
    with torch.no_grad():
        np.testing.assert_allclose(models.load(tmp_path / "m").predict(X), net(torch.from_numpy(X)).numpy())
    torch.save(net, tmp_path / "pickled.pt")
    with pytest.raises(InvalidArgument, match="not a TorchScript file"):
        models.save_file(tmp_path / "pickled.pt", tmp_path / "p")


def test_pickles_unknown_and_missing_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "model.pkl").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(InvalidArgument, match="is a pickle"):
        models.save_file(tmp_path / "model.pkl", tmp_path / "m")
    (tmp_path / "model.h5").write_bytes(b"\x89HDF")
    with pytest.raises(InvalidArgument, match="Cannot tell what kind of model"):
        models.save_file(tmp_path / "model.h5", tmp_path / "m")
    with pytest.raises(InvalidArgument, match="No model file"):
        models.save_file(tmp_path / "absent.onnx", tmp_path / "m")
    (tmp_path / "junk.ubj").write_bytes(b"not a model")
    pytest.importorskip("xgboost")
    with pytest.raises(InvalidArgument, match=r"not a valid \.ubj model file"):
        models.save_file(tmp_path / "junk.ubj", tmp_path / "m")
    assert not (tmp_path / "m").exists()
