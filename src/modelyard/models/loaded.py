"""A loaded model: one ``predict`` for every flavor, inputs shaped by the signature."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelyard.core.errors import InvalidArgument
from modelyard.models.flavors.base import Predictor
from modelyard.models.manifest import ModelManifest
from modelyard.models.signature import prepare_input, to_numpy


class LoadedModel:
    """A model loaded from its folder, with its manifest.

    ``predict`` takes a pandas DataFrame, a dict of columns or a 2-D array. When the model
    has named input columns, a DataFrame must have them (extra columns are ignored) and an
    array is mapped to them by position.
    """

    def __init__(
        self,
        manifest: ModelManifest,
        predictor: Predictor,
        *,
        path: Path | None = None,
        example: pd.DataFrame | np.ndarray | None = None,
    ) -> None:
        self.manifest = manifest
        self.path = path
        self._predictor = predictor
        self._example = example

    @property
    def raw(self) -> Any:
        """The underlying object (estimator, Booster, TorchScript module, ONNX session, ...)."""
        return self._predictor.raw

    @property
    def flavor(self) -> str:
        """The flavor the model was saved with."""
        return self.manifest.flavor

    def predict(self, X: Any) -> np.ndarray:
        """Predictions for ``X`` as a numpy array.

        Raises:
            InvalidArgument: ``X`` lacks a column the model needs or has the wrong shape or types.
        """
        return self._call(self._predictor.predict, X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities for ``X`` (one column per class).

        Raises:
            InvalidArgument: the model gives no probabilities, or ``X`` does not fit it.
        """
        if self._predictor.predict_proba is None:
            raise InvalidArgument(
                f"This {self.flavor} model has no predict_proba: only classifiers that output class "
                "probabilities do. Use predict instead."
            )
        return self._call(self._predictor.predict_proba, X)

    def input_example(self) -> pd.DataFrame | np.ndarray | None:
        """The input example saved with the model, if any (a copy)."""
        return None if self._example is None else self._example.copy()

    def _call(self, fn: Any, X: Any) -> np.ndarray:
        prepared = prepare_input(X, self.manifest.signature)
        try:
            return to_numpy(fn(prepared))
        except (ValueError, TypeError, KeyError) as exc:
            raise InvalidArgument(f"The {self.flavor} model could not predict on this input: {exc}") from exc

    def __repr__(self) -> str:
        m = self.manifest
        return (
            f"LoadedModel(flavor={m.flavor!r}, library={m.library}=={m.library_version}, "
            f"digest={m.digest[:12]})"
        )
