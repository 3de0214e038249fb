"""PyTorch modules, stored as TorchScript (``model.pt``), which loads without the model's Python code.

``torch.jit`` is deprecated in recent PyTorch releases (in favour of ``torch.export``) but is
still the one format that ``torch.jit.load`` reads back as a callable module without
unpickling Python objects; the deprecation warnings are silenced around these calls only.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelyard.core.errors import InvalidArgument
from modelyard.models.flavors.base import Flavor, Predictor, Saved, SaveOptions, defined_in, model_file, pin
from modelyard.models.manifest import ModelManifest

MODEL_FILE = "model.pt"


@contextmanager
def _quiet_jit() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*deprecated", category=DeprecationWarning)
        yield


def detect(model: Any) -> bool:
    """A ``torch.nn.Module`` (scripted or not)."""
    if not defined_in(model, "torch"):
        return False
    import torch

    return isinstance(model, torch.nn.Module)


def save(model: Any, folder: Path, opts: SaveOptions) -> Saved:
    """Script the module (or trace it on the input example) and save it as TorchScript."""
    import torch

    was_training = model.training
    model.eval()  # script or trace inference behaviour (dropout off); put back below
    try:
        with _quiet_jit():
            scripted, how = _script(model, opts)
            scripted.save(str(folder / MODEL_FILE))
    finally:
        model.train(was_training)
    return Saved(
        library="torch",
        library_version=torch.__version__.split("+")[0],
        predictor=wrap(scripted),
        requirements=pin("torch", "numpy"),
        extra={"model_file": MODEL_FILE, "torchscript": how},
    )


def _script(model: Any, opts: SaveOptions) -> tuple[Any, str]:
    import torch

    if isinstance(model, torch.jit.ScriptModule):
        return model, "script"
    try:
        return torch.jit.script(model), "script"
    except Exception as script_error:
        if opts.example is None:
            raise InvalidArgument(
                f"TorchScript cannot compile this module ({type(script_error).__name__}: {script_error}). "
                "Pass input_example so it can be traced instead."
            ) from script_error
        try:
            return torch.jit.trace(model, _tensor(opts.example)), "trace"
        except Exception as exc:
            raise InvalidArgument(f"The module can be neither scripted nor traced: {exc}") from exc


def load(folder: Path, manifest: ModelManifest, trust: bool) -> Predictor:
    """``torch.jit.load`` on the CPU."""
    import torch

    with _quiet_jit():
        module = torch.jit.load(str(model_file(folder, manifest, MODEL_FILE)), map_location="cpu")
    module.eval()
    return wrap(module)


def _tensor(X: Any) -> Any:
    import torch

    if isinstance(X, torch.Tensor):
        return X.to(torch.float32)
    arr = X.to_numpy(dtype=np.float32) if isinstance(X, pd.DataFrame) else np.asarray(X, dtype=np.float32)
    return torch.from_numpy(np.ascontiguousarray(arr))


def wrap(module: Any) -> Predictor:
    """Feed a float32 tensor, return the (first) output as numpy."""
    import torch

    def predict(X: Any) -> np.ndarray:
        with torch.inference_mode():
            out = module(_tensor(X))
        if isinstance(out, tuple | list):
            out = out[0]
        return out.detach().cpu().numpy()

    return Predictor(raw=module, predict=predict)


FLAVOR = Flavor(name="pytorch", detect=detect, save=save, load=load)
