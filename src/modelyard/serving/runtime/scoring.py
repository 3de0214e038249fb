"""A hosted model version: how its rows are scored, fast, and how concurrent rows share one call.

``ServedModel`` wraps a ``LoadedModel``. For scikit-learn models whose inputs are all numeric
it calls the estimator on a float matrix directly, skipping the DataFrame round-trip
(a DataFrame costs scikit-learn several times the prediction itself on one row). An
estimator fitted on a DataFrame would warn that the matrix has no column names, so the
fast path calls a shallow copy that does not remember the names: the runtime has already
checked the columns against the signature and put them in its order. A probe at load time
checks that the fast path answers exactly like the regular one (else it is not used).

For classifiers whose ``predict`` is the arg-max of ``predict_proba`` (tree ensembles,
logistic regression, ...) the labels are taken from the probabilities: one model call per
batch, not two.

``Batcher`` joins rows from requests that reach the same model in the same event-loop turn
into one call; models that answer in under ``INLINE_BUDGET_S`` run on the event loop (a
thread hop costs more than they do), slower ones and large batches run in a thread.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelyard.core.errors import InvalidArgument, ModelyardError
from modelyard.models.loaded import LoadedModel
from modelyard.serving.runtime.compiled import direct_scorer
from modelyard.serving.runtime.errors import ModelFailed, ModelRefused
from modelyard.serving.runtime.inputs import InputSchema

log = logging.getLogger("modelyard.serving")

INLINE_BUDGET_S = 0.002  # a model call this quick runs on the event loop
INLINE_ROWS = 1_024  # larger batches run in a thread, so the loop keeps answering
# Final estimators whose predict() is the arg-max of predict_proba() (checked on a probe too).
_PROBA_DECIDES = (
    "sklearn.ensemble",
    "sklearn.tree",
    "sklearn.linear_model._logistic",
    "sklearn.naive_bayes",
    "sklearn.neighbors",
    "sklearn.neural_network",
    "sklearn.discriminant_analysis",
)
_NAMES_WARNING = "does not have valid feature names"


@dataclass(frozen=True)
class ModelRef:
    """One registered version (or local folder) a deployment routes to."""

    project: str
    name: str
    version: int
    key: str  # what identifies the bytes (digest, or folder path): same key, same model
    trusted: bool = False
    uri: str = ""


@dataclass
class Scored:
    """What a model said about some rows."""

    predictions: np.ndarray
    proba: np.ndarray | None

    def slice(self, start: int, stop: int) -> Scored:
        """The rows start..stop."""
        return Scored(self.predictions[start:stop], None if self.proba is None else self.proba[start:stop])


class ServedModel:
    """A loaded version with its compiled inputs, fast path and timing."""

    def __init__(self, ref: ModelRef, loaded: LoadedModel, profile: dict[str, Any] | None = None) -> None:
        self.ref = ref
        self.loaded = loaded
        self.profile = profile
        self.profile_read = profile is not None
        self.schema = InputSchema.from_signature(loaded.manifest.signature)
        self.has_proba = bool(loaded.manifest.has_predict_proba)
        self.classes: list[Any] | None = None
        self.call_s = 0.0  # moving average of one small call
        self._logged_at = -1e9
        self._fast: Any = None
        self._batcher: Batcher | None = None
        self._probe()

    # ------------------------------------------------------------------ scoring (blocking)
    def score(self, X: Any) -> Scored:
        """Predictions (and probabilities) for a batch's model input. Blocking.

        Raises:
            InvalidInput: the model refused the rows (ValueError and the like).
            ModelFailed: the model raised anything else.
        """
        started = time.perf_counter()
        try:
            if self._fast is not None and isinstance(X, np.ndarray) and X.ndim == 2:
                out = self._fast(X)
            else:
                out = self._regular(X)
        except ModelyardError as exc:
            if isinstance(exc, InvalidArgument):
                raise ModelRefused(exc.message) from exc
            raise
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise ModelRefused(f"{self.label} could not predict on these rows: {exc}") from exc
        except Exception as exc:
            now = time.monotonic()
            if now - self._logged_at > 60:  # a traceback a minute, not one per request
                self._logged_at = now
                log.exception("%s failed on %d rows", self.label, len(X))
            raise ModelFailed(f"{self.label} failed on these rows: {type(exc).__name__}: {exc}") from exc
        n = len(out.predictions)
        if n <= INLINE_ROWS:
            took = time.perf_counter() - started
            self.call_s = took if self.call_s == 0 else 0.8 * self.call_s + 0.2 * took
        return out

    def _regular(self, X: Any) -> Scored:
        preds = self.loaded.predict(X)
        proba = self.loaded.predict_proba(X) if self.has_proba else None
        return Scored(np.asarray(preds), None if proba is None else np.asarray(proba))

    def runs_inline(self, rows: int) -> bool:
        """Whether a call on ``rows`` rows is quick enough for the event loop."""
        return rows <= INLINE_ROWS and self.call_s < INLINE_BUDGET_S

    @property
    def label(self) -> str:
        """``name vN``, for messages."""
        return f"Model {self.ref.name!r} v{self.ref.version}"

    # ------------------------------------------------------------------ scoring (async)
    async def score_async(self, X: Any, rows: int) -> Scored:
        """Score on the loop (joined with other requests' rows) or in a thread."""
        if isinstance(X, np.ndarray) and X.ndim == 2 and self.schema.names is not None:
            if self._batcher is None:
                self._batcher = Batcher(self, asyncio.get_running_loop())
            return await self._batcher.submit(X)
        if self.runs_inline(rows):
            return self.score(X)
        return await asyncio.to_thread(self.score, X)

    # ------------------------------------------------------------------ outputs
    def outputs(self, scored: Scored) -> tuple[list[Any], list[Any] | None, list[float] | None]:
        """(predictions, scores to return, one score per row for rules and the log)."""
        preds = scored.predictions.tolist()
        proba = scored.proba
        if proba is None:
            numeric = scored.predictions.dtype.kind in "fiub" and scored.predictions.ndim == 1
            return preds, None, (scored.predictions.astype(float).tolist() if numeric else None)
        if proba.ndim == 2 and proba.shape[1] == 2:
            positive = proba[:, 1].tolist()
            return preds, positive, positive
        if proba.ndim == 2:
            return preds, proba.tolist(), proba.max(axis=1).tolist()
        flat = proba.tolist()
        return preds, flat, flat

    # ------------------------------------------------------------------ the fast path
    def _probe(self) -> None:
        """Decide on the fast path and time one call, on the input example (or zeros)."""
        probe = self._probe_rows()
        if probe is None:
            return
        started = time.perf_counter()
        try:
            expected = self._regular(probe)
        except Exception as exc:  # the model may need real data; it will be timed on real calls
            log.info("%s: no warm-up call on its example (%s)", self.label, exc)
            return
        self.call_s = time.perf_counter() - started
        if self.loaded.flavor != "sklearn" or not (self.schema.numeric or self.schema.array_width):
            return
        try:
            fast = self._fast_scorer(expected)
            if fast is not None:
                with warnings.catch_warnings(record=True) as seen:
                    warnings.simplefilter("always")
                    got = fast(probe)
                if any(_NAMES_WARNING in str(w.message) for w in seen) or not _same(expected, got):
                    fast = None
        except Exception as exc:
            log.info("%s: regular path only (%s)", self.label, exc)
            fast = None
        self._fast = fast
        started = time.perf_counter()
        if fast is not None:
            fast(probe)
            self.call_s = time.perf_counter() - started

    def _probe_rows(self) -> np.ndarray | None:
        width = len(self.schema.names) if self.schema.names else self.schema.array_width
        if not width:
            return None
        example = self.loaded.input_example()
        if example is not None:
            try:
                if self.schema.names and hasattr(example, "columns"):
                    example = example[list(self.schema.names)]
                arr = np.asarray(example, dtype=np.float64)
                if arr.ndim == 2 and arr.shape[1] == width and len(arr):
                    return arr[:4]
            except (KeyError, TypeError, ValueError):
                pass
        if self.schema.names and not self.schema.numeric:
            return None
        return np.zeros((2, width))

    def _fast_scorer(self, expected: Scored) -> Any:
        direct = direct_scorer(self.loaded.raw)
        if direct is not None:
            classes = getattr(self.loaded.raw, "classes_", None)
            self.classes = None if classes is None else np.asarray(classes).tolist()
            return lambda X: Scored(*direct(X))
        est = _positional(self.loaded.raw)
        if est is None:
            return None
        classes = getattr(est, "classes_", None)
        final = est.steps[-1][1] if hasattr(est, "steps") else est
        decides = (
            self.has_proba
            and classes is not None
            and type(final).__module__.startswith(_PROBA_DECIDES)
            and expected.proba is not None
            and np.array_equal(np.asarray(classes).take(expected.proba.argmax(axis=1)), expected.predictions)
        )
        if classes is not None:
            self.classes = np.asarray(classes).tolist()
        if decides:
            labels = np.asarray(classes)

            def by_proba(X: np.ndarray) -> Scored:
                p = est.predict_proba(X)
                return Scored(labels.take(p.argmax(axis=1)), p)

            return by_proba
        if self.has_proba:
            return lambda X: Scored(np.asarray(est.predict(X)), np.asarray(est.predict_proba(X)))
        return lambda X: Scored(np.asarray(est.predict(X)), None)


def _positional(est: Any) -> Any:
    """A shallow copy of an estimator (or pipeline) that takes columns by position, not name."""
    if not hasattr(est, "predict"):
        return None
    if hasattr(est, "steps") and isinstance(est.steps, list) and est.steps:
        first = _positional(est.steps[0][1]) if hasattr(est.steps[0][1], "fit") else est.steps[0][1]
        if first is None:
            first = est.steps[0][1]
        pipe = copy.copy(est)
        pipe.steps = [(est.steps[0][0], first), *est.steps[1:]]
        return pipe
    clone = copy.copy(est)
    if "feature_names_in_" in clone.__dict__:
        del clone.feature_names_in_
    return clone


def _same(a: Scored, b: Scored) -> bool:
    if a.predictions.shape != b.predictions.shape:
        return False
    if a.predictions.dtype.kind in "fc":
        same = np.allclose(a.predictions, b.predictions, equal_nan=True)
    else:
        same = bool(np.array_equal(a.predictions, b.predictions))
    if a.proba is not None:
        same = same and b.proba is not None and np.allclose(a.proba, b.proba, equal_nan=True)
    return same


class Batcher:
    """Joins float-matrix rows that reach one model in the same loop turn into one call."""

    def __init__(self, model: ServedModel, loop: asyncio.AbstractEventLoop) -> None:
        self.model = model
        self.loop = loop
        self.pending: list[tuple[np.ndarray, asyncio.Future[Scored]]] = []
        self.scheduled = False
        self._threads: set[asyncio.Task[None]] = set()

    def submit(self, X: np.ndarray) -> asyncio.Future[Scored]:
        """Queue rows; the future gets their share of the joined call."""
        fut: asyncio.Future[Scored] = self.loop.create_future()
        self.pending.append((X, fut))
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self._flush)
        return fut

    def _flush(self) -> None:
        items, self.pending, self.scheduled = self.pending, [], False
        rows = sum(x.shape[0] for x, _ in items)
        if self.model.runs_inline(rows):
            self._settle(items, self._run(items))
            return
        task = self.loop.create_task(self._in_thread(items))
        self._threads.add(task)
        task.add_done_callback(self._threads.discard)

    async def _in_thread(self, items: list[tuple[np.ndarray, asyncio.Future[Scored]]]) -> None:
        self._settle(items, await asyncio.to_thread(self._run, items))

    def _run(self, items: list[tuple[np.ndarray, asyncio.Future[Scored]]]) -> list[Scored | BaseException]:
        X = items[0][0] if len(items) == 1 else np.concatenate([x for x, _ in items])
        try:
            scored = self.model.score(X)
        except Exception as exc:
            if len(items) == 1:
                return [exc]
            # One request's rows broke the joined call: score each alone, so only it fails.
            return [r for item in items for r in self._run([item])]
        out: list[Scored | BaseException] = []
        start = 0
        for x, _ in items:
            stop = start + x.shape[0]
            out.append(scored.slice(start, stop))
            start = stop
        return out

    @staticmethod
    def _settle(
        items: list[tuple[np.ndarray, asyncio.Future[Scored]]], results: list[Scored | BaseException]
    ) -> None:
        for (_, fut), result in zip(items, results, strict=True):
            if fut.done():  # the request went away
                continue
            if isinstance(result, BaseException):
                fut.set_exception(result)
            else:
                fut.set_result(result)
