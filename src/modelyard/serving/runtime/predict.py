"""One predict request, from decoded body to answer, capture and shadows.

Routing picks the arm (A/B, canary), the rows are checked against that model's signature,
input humility rules run, the model scores (joined with concurrent requests' rows), score
rules run, and the answer is built. After the answer is sent, the rows go to the capture
writer and to every shadow model, whose answers are captured under the same prediction ids
and never returned. A canary that fails on rows is counted against it and the primary
answers instead, so a bad canary costs its users nothing while it is being rolled back.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from dataclasses import dataclass
from typing import Any

import orjson

from modelyard.core.errors import ModelyardError
from modelyard.core.ids import now_ms
from modelyard.serving.runtime.errors import ModelFailed, ModelRefused
from modelyard.serving.runtime.hosting import Arm, Hosted, Plan
from modelyard.serving.runtime.inputs import Batch, Payload, to_batch
from modelyard.serving.runtime.metrics import Metrics
from modelyard.serving.runtime.scoring import Scored

log = logging.getLogger("modelyard.serving")

SHADOW_MAX_ROWS = 50_000  # rows waiting for shadow models; beyond that shadows skip requests


@dataclass
class Answer:
    """What a request got, kept for the capture after the response is sent."""

    arm: Arm
    batch: Batch
    ids: list[str]
    predictions: list[Any]
    row_scores: list[float] | None
    flags: list[list[str]] | None
    body: bytes


class PredictionIds:
    """Unique prediction ids: a random 64-bit process prefix and a counter (no syscall per row)."""

    def __init__(self) -> None:
        self.prefix = secrets.token_hex(8)
        self.next = 0

    def take(self, n: int) -> list[str]:
        """``n`` fresh ids."""
        start = self.next
        self.next += n
        p = self.prefix
        if n == 1:
            return [f"{p}{start:012x}"]
        return [f"{p}{i:012x}" for i in range(start, start + n)]


class Predictor:
    """Answers predict requests for every hosted deployment."""

    def __init__(self, metrics: Metrics, capture: Any) -> None:
        self.metrics = metrics
        self.capture = capture
        self.ids = PredictionIds()
        self.shadow_rows = 0
        self._background: set[asyncio.Future[Any]] = set()

    async def answer(self, hosted: Hosted, plan: Plan, arm: Arm, payload: Payload, started: float) -> Answer:
        """Check, score and build the answer of the routed arm (raises the error to send)."""
        controller = hosted.controller
        if arm.mode != "canary" or controller is None:
            return await self._answer(plan, arm, payload)
        try:
            answer = await self._answer(plan, arm, payload)
        except (ModelRefused, ModelFailed) as exc:
            # Rows the primary refuses too are the caller's fault, not the canary's: not counted.
            fallback = await self._answer(plan, plan.primary, payload)
            controller.record(False, (time.perf_counter() - started) * 1000)
            arm.metrics.error(exc.code)
            log.debug("Deployment %s: the canary failed (%s); the primary answered", hosted.name, exc.message)
            return fallback
        controller.record(True, (time.perf_counter() - started) * 1000)
        return answer

    async def _answer(self, plan: Plan, arm: Arm, payload: Payload) -> Answer:
        model = arm.model
        batch = to_batch(payload, model.schema)
        humility = arm.humility
        verdict = None if humility.empty else humility.check_inputs(batch)
        scored = await model.score_async(batch.model_input(), batch.n)
        predictions, scores, row_scores = model.outputs(scored)
        if verdict is not None:
            humility.check_scores(row_scores, verdict)
            predictions = verdict.apply(predictions)
            if verdict.fired:
                self.metrics.humility_fired(plan.deployment.name, verdict.fired)
        ids = self.ids.take(batch.n)
        body: dict[str, Any] = {
            "deployment": plan.deployment.name,
            "model": model.ref.name,
            "version": model.ref.version,
            "variant": arm.variant,
            "prediction_ids": ids,
            "predictions": predictions,
        }
        if scores is not None:
            body["scores"] = scores
        flags = verdict.flags if verdict is not None else None
        if flags is not None:
            body["flags"] = flags
        return Answer(arm, batch, ids, predictions, row_scores, flags, orjson.dumps(body))

    # ------------------------------------------------------------------ after the answer
    def after(self, plan: Plan, answer: Answer, payload: Payload, latency_ms: float) -> None:
        """Capture the answer and hand the rows to the shadows (never raises)."""
        d = plan.deployment
        ts_ms = now_ms()
        # One sampling decision per request, so shadows are kept with the answer they shadow.
        rate = d.capture.sample_rate
        keep = d.capture.enabled and (rate >= 1.0 or random.random() < rate)
        capture = self.capture if keep else None
        if capture is not None:
            try:
                model = answer.arm.model
                capture.add(
                    deployment=d.name,
                    model=model.ref.name,
                    version=model.ref.version,
                    variant=answer.arm.variant,
                    prediction_ids=answer.ids,
                    batch=answer.batch,
                    predictions=answer.predictions,
                    scores=answer.row_scores,
                    latency_ms=latency_ms,
                    ts_ms=ts_ms,
                    association_ids=payload.association_ids,
                    flags=[",".join(f) if f else None for f in answer.flags] if answer.flags else None,
                )
            except Exception:  # capture must never break serving
                log.exception("Capturing a prediction of %s failed", d.name)
        for shadow in plan.shadows:
            self._shadow(plan, shadow, answer, payload, ts_ms, capture)

    def _shadow(
        self, plan: Plan, shadow: Arm, answer: Answer, payload: Payload, ts_ms: int, capture: Any
    ) -> None:
        n = answer.batch.n

        def dropped() -> None:
            self.metrics.shadow_dropped.labels(plan.deployment.name, shadow.variant).inc(n)

        if self.shadow_rows + n > SHADOW_MAX_ROWS:
            dropped()
            return
        try:
            same = shadow.model.schema == answer.arm.model.schema
            batch = answer.batch if same else to_batch(payload, shadow.model.schema)
        except ModelyardError:
            dropped()
            return
        self.shadow_rows += n
        started = time.perf_counter()
        fut = asyncio.ensure_future(shadow.model.score_async(batch.model_input(), n))
        self._background.add(fut)

        def done(f: asyncio.Future[Scored]) -> None:
            self._background.discard(f)
            self.shadow_rows -= n
            if f.cancelled() or f.exception() is not None:
                dropped()
                code = "CANCELLED" if f.cancelled() else getattr(f.exception(), "code", "CANCELLED")
                shadow.metrics.error(code)
                return
            predictions, _, row_scores = shadow.model.outputs(f.result())
            shadow.metrics.shadow_rows.inc(n)
            if capture is None:
                return
            try:
                capture.add(
                    deployment=plan.deployment.name,
                    model=shadow.model.ref.name,
                    version=shadow.model.ref.version,
                    variant=shadow.variant,
                    prediction_ids=answer.ids,
                    batch=batch,
                    predictions=predictions,
                    scores=row_scores,
                    latency_ms=(time.perf_counter() - started) * 1000,
                    ts_ms=ts_ms,
                    association_ids=payload.association_ids,
                )
            except Exception:
                log.exception("Capturing a shadow prediction of %s failed", plan.deployment.name)

        fut.add_done_callback(done)

    async def drain(self, timeout_s: float = 5.0) -> None:
        """Wait (a little) for shadow scoring still under way."""
        if self._background:
            await asyncio.wait(list(self._background), timeout=timeout_s)
