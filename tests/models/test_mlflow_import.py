"""Importing MLflow model folders: each supported kind, and folders that are broken or hostile."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow_layout as layout
import numpy as np
import pandas as pd
import pytest
import yaml
from modelkit import Doubler, MlflowStylePythonModel, table
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from modelyard import models
from modelyard.core.errors import InvalidArgument, ModelyardError, PermissionDenied


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    return table()


def test_sklearn_skops_imports_as_a_safe_model(tmp_path: Path, data) -> None:
    X, y = data
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)
    src = layout.sklearn_model(tmp_path / "mlflow", model, "skops", example=X.head(3))
    manifest = models.import_mlflow(src, tmp_path / "my")
    assert manifest.source == "mlflow-import" and manifest.flavor == "sklearn" and not manifest.unsafe
    assert manifest.has_predict_proba
    assert manifest.library_version == layout._version("scikit-learn")
    assert (tmp_path / "my" / "model.skops").read_bytes() == (src / "model.skops").read_bytes()
    assert manifest.signature.column_names == ["income", "debt", "age"]
    assert [c.type for c in manifest.signature.inputs] == ["float64"] * 3
    assert manifest.signature.outputs[0].type == "int64"
    assert not any(r.startswith("mlflow") for r in manifest.requirements)
    assert any(r.startswith("skops==") for r in manifest.requirements)
    assert manifest.extra["mlflow"]["model_uuid"] == "18e5b8ce64a64005a5895ba208ba0353"
    loaded = models.load(tmp_path / "my")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))
    pd.testing.assert_frame_equal(loaded.input_example(), X.head(3).reset_index(drop=True))


@pytest.mark.parametrize("fmt", ["pickle", "cloudpickle"])
def test_sklearn_pickle_imports_as_unsafe_without_unpickling(tmp_path: Path, data, fmt: str) -> None:
    X, y = data
    model = LogisticRegression().fit(X, y)
    src = layout.sklearn_model(tmp_path / "mlflow", model, fmt, example=X.head(3))
    manifest = models.import_mlflow(src, tmp_path / "my")
    assert manifest.unsafe and manifest.extra["format"] == fmt
    assert (tmp_path / "my" / "model.pkl").read_bytes() == (src / "model.pkl").read_bytes()
    with pytest.raises(PermissionDenied, match="stored with pickle"):
        models.load(tmp_path / "my")
    np.testing.assert_array_equal(models.load(tmp_path / "my", trust=True).predict(X), model.predict(X))
    with pytest.raises(InvalidArgument, match="allow_pickle=True"):
        models.import_mlflow(src, tmp_path / "refused", allow_pickle=False)


def test_sklearn_skops_with_a_custom_class_needs_trust(tmp_path: Path, data) -> None:
    X, y = data
    model = make_pipeline(Doubler(), LogisticRegression()).fit(X, y)
    src = layout.sklearn_model(tmp_path / "mlflow", model, "skops", example=X.head(3))
    manifest = models.import_mlflow(src, tmp_path / "my")
    assert manifest.unsafe and manifest.extra["untrusted_types"] == ["modelkit.Doubler"]
    with pytest.raises(PermissionDenied, match=r"modelkit\.Doubler"):
        models.load(tmp_path / "my")
    np.testing.assert_array_equal(models.load(tmp_path / "my", trust=True).predict(X), model.predict(X))


def test_ndarray_example_gives_an_array_signature(tmp_path: Path, data) -> None:
    X, y = data
    model = LogisticRegression().fit(X.to_numpy(), y)
    src = layout.sklearn_model(tmp_path / "mlflow", model, "skops", example=X.to_numpy()[:3])
    manifest = models.import_mlflow(src, tmp_path / "my")
    assert manifest.signature.input_kind == "array"
    assert manifest.signature.inputs[0].shape == [-1, 3] and manifest.signature.inputs[0].type == "float64"
    loaded = models.load(tmp_path / "my")
    np.testing.assert_array_equal(loaded.predict(X.to_numpy()), model.predict(X.to_numpy()))
    assert loaded.input_example().shape == (3, 3)


@pytest.mark.filterwarnings("ignore:.*Saving model in the UBJSON format as default")
@pytest.mark.parametrize("model_format", ["ubj", "json", "xgb"])
def test_xgboost_imports_natively(tmp_path: Path, data, model_format: str) -> None:
    xgb = pytest.importorskip("xgboost")
    X, y = data
    model = xgb.XGBClassifier(n_estimators=8).fit(X, y)
    src = layout.xgboost_model(tmp_path / "mlflow", model, example=X.head(3), model_format=model_format)
    manifest = models.import_mlflow(src, tmp_path / "my")
    assert manifest.flavor == "xgboost" and not manifest.unsafe and manifest.has_predict_proba
    assert manifest.extra["wrapper"] == "XGBClassifier"
    assert manifest.extra["model_file"] == ("model.json" if model_format == "json" else "model.ubj")
    loaded = models.load(tmp_path / "my")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))


def test_xgboost_booster_and_unknown_class(tmp_path: Path, data) -> None:
    xgb = pytest.importorskip("xgboost")
    X, y = data
    booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(X, y), 5)
    src = layout.xgboost_model(tmp_path / "mlflow", booster, model_format="json")
    models.import_mlflow(src, tmp_path / "my")
    np.testing.assert_allclose(models.load(tmp_path / "my").predict(X), booster.predict(xgb.DMatrix(X)))
    mlmodel = yaml.safe_load((src / "MLmodel").read_text())
    mlmodel["flavors"]["xgboost"]["model_class"] = "os.system"
    (src / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    with pytest.raises(InvalidArgument, match=r"model class 'os\.system' is not supported"):
        models.import_mlflow(src, tmp_path / "other")


def test_lightgbm_booster_and_skops_wrapper(tmp_path: Path, data) -> None:
    lgb = pytest.importorskip("lightgbm")
    X, y = data
    booster = lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(X, y), 10)
    src = layout.lightgbm_model(tmp_path / "b-mlflow", booster, example=X.head(3))
    manifest = models.import_mlflow(src, tmp_path / "b")
    assert manifest.flavor == "lightgbm" and set(manifest.files) == {"model.txt", "input_example.json"}
    np.testing.assert_allclose(models.load(tmp_path / "b").predict(X), booster.predict(X))

    clf = lgb.LGBMClassifier(n_estimators=10, verbose=-1).fit(X, y)
    src = layout.lightgbm_model(tmp_path / "c-mlflow", clf, example=X.head(3))
    manifest = models.import_mlflow(src, tmp_path / "c")
    assert manifest.flavor == "sklearn" and manifest.library == "lightgbm"
    assert not manifest.unsafe and manifest.has_predict_proba  # LightGBM's own types, trusted for its model
    loaded = models.load(tmp_path / "c")
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))


def test_python_model_imports_as_unsafe_with_its_artifacts(tmp_path: Path, data) -> None:
    X, _ = data
    src = layout.python_model(
        tmp_path / "mlflow", MlflowStylePythonModel(), example=X.head(3), artifacts={"offset": b"0.5"}
    )
    manifest = models.import_mlflow(src, tmp_path / "my")
    assert manifest.flavor == "python_function" and manifest.unsafe
    assert manifest.extra["mlflow"]["loader_module"] == "mlflow.pyfunc.model"
    assert manifest.extra["mlflow"]["artifacts"] == {"offset": "artifacts/offset.txt"}
    assert "artifacts/offset.txt" in manifest.files
    assert any(r.startswith("mlflow==") for r in manifest.requirements)  # its pickle may refer to mlflow
    with pytest.raises(PermissionDenied, match="trust=True"):
        models.load(tmp_path / "my")
    loaded = models.load(tmp_path / "my", trust=True)
    np.testing.assert_allclose(loaded.predict(X), X.income.to_numpy() * 2 + 0.5)


def test_python_model_with_a_code_folder(tmp_path: Path, data, monkeypatch: pytest.MonkeyPatch) -> None:
    X, _ = data
    code = tmp_path / "usercode"
    code.mkdir()
    source = "class Halver:\n    def predict(self, context, model_input):\n        return model_input['debt'] / 2\n"
    (code / "halver_mod.py").write_text(source)
    monkeypatch.syspath_prepend(str(code))
    import halver_mod  # the user's own module, pickled by reference as MLflow's code_paths expects

    src = layout.python_model(tmp_path / "mlflow", halver_mod.Halver(), example=X.head(2))
    mlmodel = yaml.safe_load((src / "MLmodel").read_text())
    mlmodel["flavors"]["python_function"]["code"] = "code"
    (src / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    (src / "code").mkdir()
    shutil.copy(code / "halver_mod.py", src / "code" / "halver_mod.py")
    monkeypatch.delitem(sys.modules, "halver_mod")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(code)])
    manifest = models.import_mlflow(src, tmp_path / "my")
    assert "code/halver_mod.py" in manifest.files and manifest.extra["mlflow"]["code_dir"] == "code"
    loaded = models.load(tmp_path / "my", trust=True)
    np.testing.assert_allclose(loaded.predict(X), X.debt.to_numpy() / 2)
    assert str(tmp_path / "my" / "code") not in sys.path  # only on the path while unpickling


def test_onnx_with_external_data_is_folded_into_one_file(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    from test_model_torch_onnx import matmul_graph

    graph, w = matmul_graph(onnx)
    src = layout.onnx_model(tmp_path / "mlflow", graph, external=True)
    assert (src / "weights.bin").is_file()
    manifest = models.import_mlflow(src, tmp_path / "my")
    assert set(manifest.files) == {"model.onnx"} and manifest.extra["inlined_external_data"]
    X = np.ones((2, 3), dtype=np.float32)
    np.testing.assert_allclose(models.load(tmp_path / "my").predict(X), X @ w)


@pytest.fixture
def skops_src(tmp_path: Path, data) -> Path:
    X, y = data
    return layout.sklearn_model(
        tmp_path / "mlflow", LogisticRegression().fit(X, y), "skops", example=X.head(2)
    )


def _edit(src: Path, **flavor_changes: object) -> None:
    mlmodel = yaml.safe_load((src / "MLmodel").read_text())
    mlmodel["flavors"]["sklearn"].update(flavor_changes)
    (src / "MLmodel").write_text(yaml.safe_dump(mlmodel))


def test_broken_folders_say_what_is_wrong(tmp_path: Path, skops_src: Path) -> None:
    (tmp_path / "empty").mkdir()
    cases: list[tuple[Path, str]] = [
        (tmp_path / "empty", "no MLmodel file"),
        (tmp_path / "missing", "No MLflow"),
    ]
    for rel, message in cases:
        with pytest.raises(InvalidArgument, match=message):
            models.import_mlflow(rel, tmp_path / "out")
    _edit(skops_src, pickled_model="gone.skops")
    with pytest.raises(InvalidArgument, match=r"sklearn model file 'gone\.skops' is missing"):
        models.import_mlflow(skops_src, tmp_path / "out")
    for hostile in ("../../etc/passwd", "/etc/passwd", "sub/../../x", "a\\..\\b"):
        _edit(skops_src, pickled_model=hostile)
        with pytest.raises(InvalidArgument, match="outside its folder"):
            models.import_mlflow(skops_src, tmp_path / "out")
    _edit(skops_src, pickled_model="model.skops", serialization_format="joblib")
    with pytest.raises(InvalidArgument, match="serialization format 'joblib'"):
        models.import_mlflow(skops_src, tmp_path / "out")
    (skops_src / "MLmodel").write_text("flavors: [unclosed")
    with pytest.raises(InvalidArgument, match="not valid YAML"):
        models.import_mlflow(skops_src, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_symlinks_out_of_the_folder_are_refused(tmp_path: Path, skops_src: Path) -> None:
    secret = tmp_path / "secret.skops"
    shutil.copy(skops_src / "model.skops", secret)
    (skops_src / "model.skops").unlink()
    os.symlink(secret, skops_src / "model.skops")
    with pytest.raises(InvalidArgument, match=r"'model\.skops' is a symlink"):
        models.import_mlflow(skops_src, tmp_path / "out")
    (skops_src / "model.skops").unlink()
    (tmp_path / "elsewhere").mkdir()
    shutil.copy(secret, tmp_path / "elsewhere" / "model.skops")
    os.symlink(tmp_path / "elsewhere", skops_src / "sub")
    _edit(skops_src, pickled_model="sub/model.skops")
    with pytest.raises(InvalidArgument, match="is a symlink"):
        models.import_mlflow(skops_src, tmp_path / "out")


def test_unsupported_flavors_are_named(tmp_path: Path) -> None:
    torch_like = {
        "pytorch": {"model_data": "data", "pytorch_version": "2.3.0"},
        "python_function": layout._env("mlflow.pytorch", data="data"),
    }
    src = layout.write(tmp_path / "torch", torch_like, {"data/model.pth": b"\x80\x04N."})
    with pytest.raises(InvalidArgument, match="flavor 'pytorch' is not supported"):
        models.import_mlflow(src, tmp_path / "out")
    custom = {"python_function": layout._env("my_loader", data="weights.bin", code="code")}
    src = layout.write(tmp_path / "custom", custom, {"weights.bin": b"1", "code/my_loader.py": b"x = 1"})
    with pytest.raises(InvalidArgument, match="loader_module 'my_loader'"):
        models.import_mlflow(src, tmp_path / "out")
    code = {"python_function": layout._env("mlflow.pyfunc.model", python_model="model_code.py")}
    src = layout.write(tmp_path / "code", code, {"model_code.py": b"print('hi')"})
    with pytest.raises(InvalidArgument, match="models from code"):
        models.import_mlflow(src, tmp_path / "out")


MLFLOW_PYTHON = Path(__file__).resolve().parents[2] / ".bench" / "mlflow-venv" / "bin" / "python"
_REAL_MLFLOW = """
import sys, numpy as np, pandas as pd, mlflow
from sklearn.linear_model import LogisticRegression
out = sys.argv[1]
rng = np.random.default_rng(0)
X = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"]); y = (X.a + X.b > 0).astype(int)
m = LogisticRegression().fit(X, y)
mlflow.sklearn.save_model(m, f"{out}/skops", serialization_format="skops", input_example=X.head(3))
mlflow.sklearn.save_model(m, f"{out}/cloudpickle", serialization_format="cloudpickle", input_example=X.head(3))
mlflow.sklearn.save_model(m, f"{out}/ndarray", serialization_format="skops", input_example=X.values[:3])
class Add(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input["a"] * 2
mlflow.pyfunc.save_model(f"{out}/pyfunc", python_model=Add(), input_example=X.head(3))
X.to_csv(f"{out}/X.csv", index=False)
"""


@pytest.mark.mlflow_peer  # opt-in: needs bench/'s throwaway MLflow env (run bench/tracking.py once, then -m mlflow_peer)
def test_folders_written_by_real_mlflow(tmp_path: Path) -> None:
    subprocess.run(
        [str(MLFLOW_PYTHON), "-c", _REAL_MLFLOW, str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=300,
        env={**os.environ, "MLFLOW_TRACKING_URI": f"file://{tmp_path}/mlruns"},
    )
    X = pd.read_csv(tmp_path / "X.csv")
    models.import_mlflow(tmp_path / "skops", tmp_path / "a")
    expected = models.load(tmp_path / "a").predict(X)
    assert models.import_mlflow(tmp_path / "cloudpickle", tmp_path / "b").unsafe
    np.testing.assert_array_equal(models.load(tmp_path / "b", trust=True).predict(X), expected)
    assert models.import_mlflow(tmp_path / "ndarray", tmp_path / "c").signature.input_kind == "array"
    np.testing.assert_array_equal(models.load(tmp_path / "c").predict(X.to_numpy()), expected)
    pyfunc = models.import_mlflow(tmp_path / "pyfunc", tmp_path / "d")
    assert pyfunc.unsafe and pyfunc.flavor == "python_function"
    if importlib.util.find_spec("mlflow") is None:  # MLflow's PythonModel base class is pickled by reference
        with pytest.raises(ModelyardError, match="pip install mlflow"):
            models.load(tmp_path / "d", trust=True)
    # The hand-written layouts above carry the same keys as MLflow's own.
    real = yaml.safe_load((tmp_path / "skops" / "MLmodel").read_text())
    data = table()
    mine = yaml.safe_load(
        (
            layout.sklearn_model(
                tmp_path / "mine", LogisticRegression().fit(*data), "skops", example=data[0].head(2)
            )
            / "MLmodel"
        ).read_text()
    )
    assert set(mine) == set(real)
    for flavor in ("sklearn", "python_function"):
        assert set(mine["flavors"][flavor]) == set(real["flavors"][flavor])
    assert set(mine["saved_input_example_info"]) == set(real["saved_input_example_info"])
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == sorted(
        p.name for p in (tmp_path / "skops").iterdir()
    )
