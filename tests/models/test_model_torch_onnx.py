"""PyTorch (TorchScript) and ONNX (onnxruntime) round trips."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from modelkit import table

from modelyard import models
from modelyard.core.errors import InvalidArgument


def _mlp(torch: Any) -> Any:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Dropout(0.5), torch.nn.Linear(8, 2)
    )


def test_torch_module_round_trip_as_torchscript(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    X, _ = table()
    net = _mlp(torch)
    manifest = models.save(net, tmp_path / "m", input_example=X.head(4))
    assert manifest.flavor == "pytorch" and manifest.extra["torchscript"] == "script"
    assert manifest.library_version == torch.__version__.split("+")[0] and not manifest.unsafe
    assert net.training  # saving does not switch the caller's module to eval mode
    loaded = models.load(tmp_path / "m")
    net.eval()
    with torch.no_grad():
        expected = net(torch.tensor(X.to_numpy(), dtype=torch.float32)).numpy()
    got = loaded.predict(X)
    assert got.dtype == np.float32 and got.shape == (len(X), 2)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    np.testing.assert_allclose(loaded.predict(X.to_numpy()), expected, rtol=1e-6)


def test_torch_module_that_cannot_be_scripted_is_traced(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")

    class Scaled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(3, 1)
            self.scale = {"value": 0.5}  # a plain dict attribute: TorchScript cannot compile it

        def forward(self, x: Any) -> Any:
            return self.linear(x) * self.scale["value"]

    X, _ = table()
    net = Scaled()
    with pytest.raises(InvalidArgument, match="Pass input_example"):
        models.save(net, tmp_path / "none")
    manifest = models.save(net, tmp_path / "m", input_example=X.to_numpy()[:5])
    assert manifest.extra["torchscript"] == "trace"
    with torch.no_grad():
        expected = net(torch.tensor(X.to_numpy(), dtype=torch.float32)).numpy()
    np.testing.assert_allclose(models.load(tmp_path / "m").predict(X.to_numpy()), expected, rtol=1e-6)


def _onnx_classifier(zipmap: bool) -> tuple[Any, Any, Any]:
    skl2onnx = pytest.importorskip("skl2onnx")
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.linear_model import LogisticRegression

    X, y = table()
    sk = LogisticRegression(max_iter=500).fit(X.to_numpy(dtype=np.float32), y)
    options = None if zipmap else {id(sk): {"zipmap": False}}
    onx = skl2onnx.convert_sklearn(sk, initial_types=[("input", FloatTensorType([None, 3]))], options=options)
    return sk, onx, X


@pytest.mark.parametrize("zipmap", [False, True])
def test_onnx_classifier_gives_labels_and_probabilities(tmp_path: Path, zipmap: bool) -> None:
    pytest.importorskip("onnxruntime")
    sk, onx, X = _onnx_classifier(zipmap)
    manifest = models.save(onx, tmp_path / "m")
    assert manifest.flavor == "onnx" and manifest.has_predict_proba and not manifest.unsafe
    assert manifest.signature.input_kind == "array" and manifest.signature.inputs[0].shape == [-1, 3]
    assert manifest.signature.inputs[0].type == "float32"
    loaded = models.load(tmp_path / "m")
    Xf = X.to_numpy(dtype=np.float32)
    np.testing.assert_array_equal(
        loaded.predict(X), sk.predict(Xf)
    )  # float64 frame cast to the graph's float32
    np.testing.assert_allclose(loaded.predict_proba(Xf), sk.predict_proba(Xf), rtol=1e-4, atol=1e-5)


def test_onnx_model_from_a_file_path(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    sk, onx, X = _onnx_classifier(False)
    onnx.save_model(onx, tmp_path / "clf.onnx")
    models.save(str(tmp_path / "clf.onnx"), tmp_path / "from-path")  # detected from the .onnx suffix
    Xf = X.to_numpy(dtype=np.float32)
    np.testing.assert_array_equal(models.load(tmp_path / "from-path").predict(Xf), sk.predict(Xf))


def matmul_graph(onnx: Any) -> tuple[Any, np.ndarray]:
    """Y = X @ W with W as an initializer (a tensor that can live in an external data file)."""
    from onnx import TensorProto, helper, numpy_helper

    w = np.arange(6, dtype=np.float32).reshape(3, 2) / 10
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["Y"])],
        "matmul",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 2])],
        [numpy_helper.from_array(w, "W")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), w


def test_onnx_graph_with_external_data_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    graph, w = matmul_graph(onnx)
    models.save(graph, tmp_path / "inline")
    X = np.ones((4, 3), dtype=np.float32)
    np.testing.assert_allclose(models.load(tmp_path / "inline").predict(X), X @ w)
    onnx.save_model(
        graph, tmp_path / "g.onnx", save_as_external_data=True, size_threshold=0, location="w.bin"
    )
    with pytest.raises(InvalidArgument, match="external data"):
        models.save(str(tmp_path / "g.onnx"), tmp_path / "refused")
    assert not (tmp_path / "refused").exists()
