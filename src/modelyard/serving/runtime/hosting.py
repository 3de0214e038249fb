"""Which model versions answer for each deployment, kept current without a restart.

Every ``poll_s`` the host re-reads the deployments and asks which version each model URI
names now (an alias may have moved). New versions are loaded in a thread while the old ones
keep answering; then the deployment's ``Plan`` (an immutable snapshot of its arms) is
replaced in one assignment. A request takes the plan once when it starts, so a request in
flight finishes on the version it started with. A version that fails to load leaves the
previous plan serving, and the failure is shown by ``/ready`` and ``/v1/deployments``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from modelyard.core.errors import ModelyardError
from modelyard.serving.runtime.humility import Humility
from modelyard.serving.runtime.metrics import ArmMetrics, Metrics
from modelyard.serving.runtime.scoring import ModelRef, ServedModel
from modelyard.serving.runtime.sources import Source
from modelyard.serving.runtime.traffic import BUCKETS, CanaryController, Split, bucket_of
from modelyard.serving.schemas import CANARY, PRIMARY, Deployment

log = logging.getLogger("modelyard.serving")

RETRY_LOAD_S = 10.0  # a version that failed to load is tried again after this (or once its record changes)


@dataclass(frozen=True)
class Arm:
    """One model answering (or shadowing) a deployment's traffic."""

    variant: str  # primary | canary | the variant's name
    mode: str  # primary | ab | shadow | canary
    weight: float
    uri: str
    model: ServedModel
    humility: Humility
    metrics: ArmMetrics


@dataclass(frozen=True)
class Plan:
    """A deployment's arms at one moment; replaced whole, never changed."""

    deployment: Deployment
    primary: Arm
    ab: tuple[Arm, ...] = ()
    shadows: tuple[Arm, ...] = ()
    canary: Arm | None = None
    split: Split = field(default_factory=lambda: Split((), 0))

    def route(self, key: str | None, controller: CanaryController | None) -> Arm:
        """The arm that answers a request with this routing key."""
        weight = controller.weight if controller is not None and self.canary is not None else 0.0
        if not self.ab and weight <= 0:
            return self.primary
        if weight >= 100 and not self.ab:
            return self.canary or self.primary
        return self.split.pick(bucket_of(key), self.primary, self.canary, weight)  # type: ignore[no-any-return]

    def arms(self) -> Iterable[Arm]:
        """Every arm."""
        yield self.primary
        yield from self.ab
        yield from self.shadows
        if self.canary is not None:
            yield self.canary


@dataclass
class Hosted:
    """What this process knows about one deployment."""

    name: str
    deployment: Deployment
    plan: Plan | None = None
    error: str | None = None  # why the primary is not (newly) loaded
    arm_errors: dict[str, str] = field(default_factory=dict)  # variant → why it is left out
    controller: CanaryController | None = None
    seen_revision: int = -1


class Hosting:
    """Keeps every hosted deployment's plan current."""

    def __init__(
        self, source: Source, metrics: Metrics, *, poll_s: float, expected: set[str] | None = None
    ) -> None:
        self.source = source
        self.metrics = metrics
        self.poll_s = poll_s
        self.expected = expected or set()
        self.hosted: dict[str, Hosted] = {}
        self.refreshed = False
        self.source_error: str | None = None
        self._models: dict[tuple[str, str, int, str], ServedModel] = {}
        self.loaded_since_freeze = False
        self._failed: dict[ModelRef, tuple[float, Exception]] = {}
        self._lock = asyncio.Lock()

    def get(self, name: str) -> Hosted | None:
        """The deployment called ``name``, if hosted."""
        return self.hosted.get(name)

    # ------------------------------------------------------------------ readiness
    def missing(self) -> dict[str, str]:
        """Deployment → why it cannot answer yet (empty when all can)."""
        out: dict[str, str] = {}
        if not self.refreshed:
            out["*"] = self.source_error or "deployments are being read"
        for name in self.expected - self.hosted.keys():
            out[name] = self.source_error or f"deployment {name!r} is not found"
        for name, h in self.hosted.items():
            if h.plan is None:
                out[name] = h.error or "its model is loading"
        return out

    # ------------------------------------------------------------------ refreshing
    async def refresh(self) -> None:
        """Re-read deployments and aliases; load what changed; swap plans."""
        async with self._lock:
            try:
                deployments = await asyncio.to_thread(self.source.deployments)
            except Exception as exc:
                self.source_error = _message(exc)
                if not isinstance(exc, ModelyardError):
                    log.exception("Reading deployments failed")
                else:
                    log.warning("Reading deployments failed: %s", self.source_error)
                return
            self.source_error = None
            names = {d.name for d in deployments}
            for name in list(self.hosted):
                if name not in names:
                    log.info("Deployment %s is no longer active: not serving it", name)
                    self._forget(self.hosted.pop(name))
            for d in deployments:
                await self._refresh_one(d)
            self.refreshed = True
            self._evict()

    async def _refresh_one(self, d: Deployment) -> None:
        hosted = self.hosted.get(d.name)
        if hosted is None:
            hosted = self.hosted[d.name] = Hosted(d.name, d)
        revision_changed = d.revision != hosted.seen_revision
        hosted.deployment = d
        self._follow_canary(hosted, d, revision_changed)
        hosted.seen_revision = d.revision
        try:
            routes = await asyncio.to_thread(self._resolve_all, d, hosted)
        except Exception as exc:
            self._failed_to(hosted, "resolve its primary model", exc)
            return
        current = hosted.plan
        if current is not None and not revision_changed and _same_routes(current, routes):
            hosted.error = None
            return
        try:
            plan = await asyncio.to_thread(self._build, d, routes, hosted)
        except Exception as exc:
            self._failed_to(hosted, "load its primary model", exc)
            return
        old = hosted.plan
        hosted.plan = plan  # the swap: requests that already hold the old plan finish on it
        hosted.error = None
        self._publish(hosted, old)
        if old is None or old.primary.model.ref != plan.primary.model.ref:
            log.info(
                "Deployment %s now answers with %s v%d",
                d.name,
                plan.primary.model.ref.name,
                plan.primary.model.ref.version,
            )

    @staticmethod
    def _failed_to(hosted: Hosted, what: str, exc: Exception) -> None:
        message = _message(exc)
        if message != hosted.error:  # once per new problem, not once per poll
            if isinstance(exc, ModelyardError):
                log.warning("Deployment %s: cannot %s: %s", hosted.name, what, message)
            else:
                log.error("Deployment %s: cannot %s", hosted.name, what, exc_info=exc)
        hosted.error = message

    def _resolve_all(self, d: Deployment, hosted: Hosted) -> list[tuple[str, str, float, str, Any]]:
        """(variant, mode, weight, uri, ModelRef or error) for each arm; raises for the primary."""
        routes: list[tuple[str, str, float, str, Any]] = [
            (PRIMARY, "primary", 100.0, d.model_uri, self.source.resolve(d.model_uri, d.project))
        ]
        for v in d.variants:
            routes.append(
                (v.name, v.mode, v.weight, v.model_uri, _try(self.source.resolve, v.model_uri, d.project))
            )
        controller = hosted.controller  # follows d.canary (set just before)
        if d.canary is not None and controller is not None and controller.state in ("running", "completed"):
            c = d.canary
            routes.append(
                (CANARY, "canary", 0.0, c.model_uri, _try(self.source.resolve, c.model_uri, d.project))
            )
        return routes

    def _build(self, d: Deployment, routes: list[tuple[str, str, float, str, Any]], hosted: Hosted) -> Plan:
        arms: list[Arm] = []
        before, hosted.arm_errors = hosted.arm_errors, {}
        for variant, mode, weight, uri, ref in routes:
            try:
                if isinstance(ref, Exception):
                    raise ref
                model = self._model(ref)
            except Exception as exc:
                if variant == PRIMARY:
                    raise
                hosted.arm_errors[variant] = _message(exc)
                if before.get(variant) != hosted.arm_errors[variant]:
                    log.warning("Deployment %s: %s (%s) is left out: %s", d.name, variant, uri, _message(exc))
                continue
            if d.humility and not model.profile_read and _needs_profile(d):
                model.profile = self.source.reference_profile(model.ref)
                model.profile_read = True
            humility = Humility(d.humility, model.schema, model.profile)
            metrics = self.metrics.arm(d.name, variant, ref.version)
            arms.append(Arm(variant, mode, weight, uri, model, humility, metrics))
        primary = arms[0]
        ab = tuple(a for a in arms if a.mode == "ab")
        return Plan(
            deployment=d,
            primary=primary,
            ab=ab,
            shadows=tuple(a for a in arms if a.mode == "shadow"),
            canary=next((a for a in arms if a.mode == "canary"), None),
            split=Split.of([(a.weight, a) for a in ab]),
        )

    def _model(self, ref: ModelRef) -> ServedModel:
        key = _model_key(ref)
        found = self._models.get(key)
        if found is None:
            failed = self._failed.get(ref)
            if failed is not None and time.monotonic() < failed[0]:
                raise failed[1]  # tried moments ago: wait before loading it again
            try:
                found = ServedModel(ref, self.source.load(ref))
            except Exception as exc:
                self._failed[ref] = (time.monotonic() + RETRY_LOAD_S, exc)
                raise
            self._failed.pop(ref, None)
            self._models[key] = found
            self.loaded_since_freeze = True
        return found

    def _follow_canary(self, hosted: Hosted, d: Deployment, revision_changed: bool) -> None:
        c = d.canary
        if c is None:
            hosted.controller = None
        elif hosted.controller is None or not hosted.controller.follow(c, revision_changed):
            hosted.controller = CanaryController(c)

    def _publish(self, hosted: Hosted, old: Plan | None) -> None:
        if old is not None:
            self._unpublish(hosted.name, old)
        if hosted.plan is not None:
            for arm in hosted.plan.arms():
                r = arm.model.ref
                self.metrics.model_info.labels(hosted.name, arm.variant, r.name, str(r.version)).set(1)
        self.publish_canary(hosted)

    def publish_canary(self, hosted: Hosted) -> None:
        """Export the canary's weight."""
        c = hosted.controller
        if c is not None:
            self.metrics.canary_weight.labels(hosted.name, c.model_uri).set(c.weight)

    def _forget(self, hosted: Hosted) -> None:
        if hosted.controller is not None:
            with contextlib.suppress(KeyError):
                self.metrics.canary_weight.remove(hosted.name, hosted.controller.model_uri)
        if hosted.plan is not None:
            self._unpublish(hosted.name, hosted.plan)

    def _unpublish(self, name: str, plan: Plan) -> None:
        for arm in plan.arms():
            r = arm.model.ref
            with contextlib.suppress(KeyError):
                self.metrics.model_info.remove(name, arm.variant, r.name, str(r.version))

    def _evict(self) -> None:
        used = {
            _model_key(a.model.ref) for h in self.hosted.values() if h.plan is not None for a in h.plan.arms()
        }
        for key in list(self._models):
            if key not in used:
                del self._models[key]  # requests still holding it finish; then it is freed

    # ------------------------------------------------------------------ canaries
    async def watch_canaries(self, tick_s: float = 0.25) -> None:
        """Evaluate running canaries and report their steps, forever."""
        reports: set[asyncio.Task[None]] = set()
        while True:
            for hosted in list(self.hosted.values()):
                c = hosted.controller
                if c is None:
                    continue
                progress = c.evaluate()
                if progress is None:
                    continue
                log.info(
                    "Deployment %s: canary %s (step %d): %s",
                    hosted.name,
                    progress.state,
                    progress.step,
                    progress.reason,
                )
                self.publish_canary(hosted)
                task = asyncio.create_task(self._report(hosted.name, progress))
                reports.add(task)
                task.add_done_callback(reports.discard)
            await asyncio.sleep(tick_s)

    async def _report(self, name: str, progress: Any) -> None:
        try:
            await asyncio.to_thread(self.source.report_canary, name, progress)
        except Exception as exc:
            log.warning("Deployment %s: could not record canary progress: %s", name, _message(exc))

    def describe(self) -> list[dict[str, Any]]:
        """What is served, for ``GET /v1/deployments``."""
        out = []
        for name in sorted(self.hosted):
            h = self.hosted[name]
            d = h.deployment
            item: dict[str, Any] = {
                "name": name,
                "project": d.project,
                "revision": d.revision,
                "status": "ready" if h.plan is not None else ("error" if h.error else "loading"),
                "error": h.error,
                "capture": d.capture.model_dump(),
                "humility_rules": len(d.humility),
                "variants": [],
            }
            if h.plan is not None:
                for arm in h.plan.arms():
                    weight = arm.weight
                    if arm.mode == "canary" and h.controller is not None:
                        weight = h.controller.weight
                    item["variants"].append(
                        {
                            "variant": arm.variant,
                            "mode": arm.mode,
                            "weight": weight,
                            "model_uri": arm.uri,
                            "model": arm.model.ref.name,
                            "version": arm.model.ref.version,
                        }
                    )
            item["left_out"] = h.arm_errors
            item["canary"] = None
            if h.controller is not None:
                c = h.controller
                item["canary"] = {
                    "model_uri": c.model_uri,
                    "state": c.state,
                    "step": c.step,
                    "weight": c.weight,
                    "reason": c.reason,
                    "requests_this_step": c.requests,
                    "errors_this_step": c.errors,
                }
            out.append(item)
        return out


def _needs_profile(d: Deployment) -> bool:
    """Whether a range or category rule lacks its own ranges or categories for some input."""
    return any(
        (r.rule == "out_of_range" and not (r.ranges and r.features and set(r.features) <= set(r.ranges)))
        or (
            r.rule == "unseen_category"
            and not (r.categories and r.features and set(r.features) <= set(r.categories))
        )
        for r in d.humility
    )


def _try(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception as exc:
        return exc


def _same_routes(plan: Plan, routes: list[tuple[str, str, float, str, Any]]) -> bool:
    have = {(a.variant, a.mode, a.weight, a.uri, a.model.ref) for a in plan.arms()}
    want = {(v, m, w, u, r) for v, m, w, u, r in routes if not isinstance(r, Exception)}
    return have == want and len(want) == len(routes)


def _model_key(ref: ModelRef) -> tuple[str, str, int, str]:
    return (ref.project, ref.name, ref.version, ref.key)


def _message(exc: BaseException) -> str:
    return exc.message if isinstance(exc, ModelyardError) else f"{type(exc).__name__}: {exc}"


__all__ = ["BUCKETS", "Arm", "Hosted", "Hosting", "Plan"]
