"""Sending queued webhook deliveries: signed POSTs, retries with backoff, SSRF checks at send time.

Delivery is at least once: a delivery is claimed with a short lease before it is sent,
so several server processes can run dispatchers on one store without sending it twice,
and a process that dies mid-send leaves it to be retried when the lease runs out.
Receivers deduplicate on the ``X-Modelyard-Delivery`` header.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from sqlalchemy import select, update

from modelyard.core.db import Database
from modelyard.core.errors import InvalidArgument
from modelyard.core.ids import now_ms
from modelyard.core.net import pin_url, resolve_outbound_url
from modelyard.core.settings import Settings
from modelyard.events.tables import events, webhook_deliveries, webhooks

log = logging.getLogger("modelyard.webhooks")

DEFAULT_MAX_ATTEMPTS = 8
BASE_BACKOFF_MS = 10_000
MAX_BACKOFF_MS = 3_600_000
_ERROR_CHARS = 1000
_SNIPPET_BYTES = 300


def retry_delay_ms(attempts: int) -> int:
    """Wait before the next try after ``attempts`` failed ones: 10 s, 20 s, 40 s, ... capped at 1 h."""
    return int(min(BASE_BACKOFF_MS * 2 ** max(attempts - 1, 0), MAX_BACKOFF_MS))


def sign(secret: str, timestamp: str | int, body: bytes | str) -> str:
    """The ``X-Modelyard-Signature`` value: ``sha256=`` + hex HMAC-SHA256 of ``"{timestamp}.{body}"``."""
    raw = body.encode() if isinstance(body, str) else body
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str | int,
    body: bytes | str,
    header: str,
    *,
    max_age_s: float | None = None,
) -> bool:
    """Check a webhook request's signature (for receivers).

    Args:
        secret: The webhook's secret, as shown when it was created.
        timestamp: The ``X-Modelyard-Timestamp`` header.
        body: The raw request body, exactly as received.
        header: The ``X-Modelyard-Signature`` header.
        max_age_s: Also refuse timestamps further than this from now (replay protection).

    Returns:
        True when the signature matches (in constant time) and the timestamp is fresh enough.
    """
    if max_age_s is not None:
        try:
            if abs(time.time() - int(timestamp)) > max_age_s:
                return False
        except (TypeError, ValueError):
            return False
    expected = sign(secret, timestamp, body)
    return hmac.compare_digest(expected.encode(), str(header or "").encode())


@dataclass
class _Due:
    delivery_id: int
    attempts: int
    webhook_id: str
    url: str
    secret: str
    active: bool
    event: dict[str, Any]


@dataclass
class _Outcome:
    ok: bool
    status_code: int | None = None
    error: str | None = None


class WebhookDispatcher:
    """Sends pending deliveries; :meth:`start` runs :meth:`deliver_due` every ``interval_s``."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        timeout_s: float = 10.0,
        interval_s: float = 1.0,
        batch_size: int = 100,
        workers: int = 8,
        lease_s: float = 60.0,
    ) -> None:
        self.db = db
        self.settings = settings
        self.max_attempts = max_attempts
        self.timeout_s = timeout_s
        self.interval_s = interval_s
        self.batch_size = batch_size
        self.workers = workers
        self.lease_ms = int(lease_s * 1000)
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_error = ""

    # ---------------------------------------------------------------- one pass
    def deliver_due(self, now: int | None = None) -> int:
        """Send every pending delivery due at ``now`` (ms; default the current time) once.

        Returns:
            How many deliveries were attempted.
        """
        now = now_ms() if now is None else now
        due = self._claim(now)
        if not due:
            return 0
        if len(due) == 1 or self.workers <= 1:
            outcomes = [self._send(d) for d in due]
        else:
            with ThreadPoolExecutor(max_workers=min(self.workers, len(due))) as pool:
                outcomes = list(pool.map(self._send, due))
        self._record(due, outcomes, now)
        return len(due)

    def _claim(self, now: int) -> list[_Due]:
        d = webhook_deliveries
        with self.db.read() as conn:
            candidates = conn.execute(
                select(d.c.id, d.c.next_attempt_at)
                .where(d.c.status == "pending", d.c.next_attempt_at <= now)
                .order_by(d.c.next_attempt_at, d.c.id)
                .limit(self.batch_size)
            ).all()
        if not candidates:
            return []
        claimed: list[int] = []
        with self.db.write() as conn:
            for row in candidates:
                # Only the process whose update matches the old due time owns this try.
                res = conn.execute(
                    update(d)
                    .where(
                        d.c.id == row.id, d.c.status == "pending", d.c.next_attempt_at == row.next_attempt_at
                    )
                    .values(next_attempt_at=now + self.lease_ms)
                )
                if res.rowcount == 1:
                    claimed.append(row.id)
            if not claimed:
                return []
            rows = (
                conn.execute(
                    select(
                        d.c.id.label("delivery_id"),
                        d.c.attempts,
                        d.c.webhook_id,
                        webhooks.c.url,
                        webhooks.c.secret,
                        webhooks.c.active,
                        events.c.id.label("event_id"),
                        events.c.type,
                        events.c.created_at,
                        events.c.project_id,
                        events.c.subject_type,
                        events.c.subject_id,
                        events.c.actor,
                        events.c.payload,
                    )
                    .join(webhooks, webhooks.c.id == d.c.webhook_id)
                    .join(events, events.c.id == d.c.event_id)
                    .where(d.c.id.in_(claimed))
                    .order_by(d.c.id)
                )
                .mappings()
                .all()
            )
        return [
            _Due(
                delivery_id=r["delivery_id"],
                attempts=r["attempts"],
                webhook_id=r["webhook_id"],
                url=r["url"],
                secret=r["secret"],
                active=bool(r["active"]),
                event={
                    "id": r["event_id"],
                    "type": r["type"],
                    "created_at": r["created_at"],
                    "project_id": r["project_id"],
                    "subject": {"type": r["subject_type"], "id": r["subject_id"]},
                    "actor": r["actor"],
                    "payload": r["payload"],
                },
            )
            for r in rows
        ]

    def _send(self, due: _Due) -> _Outcome:
        if not due.active:
            return _Outcome(ok=False, error="The webhook is inactive.")
        try:
            # Checked again at send time: the name may resolve elsewhere than at creation.
            target = resolve_outbound_url(due.url, allow_private=self.settings.allow_private_webhooks)
        except InvalidArgument as exc:
            return _Outcome(ok=False, error=f"Refused before sending: {exc.message}")
        body = orjson.dumps(due.event)
        timestamp = str(int(time.time()))
        url, pin_headers, extensions = pin_url(target)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Modelyard-Webhooks",
            "X-Modelyard-Event": due.event["type"],
            "X-Modelyard-Delivery": str(due.delivery_id),
            "X-Modelyard-Timestamp": timestamp,
            "X-Modelyard-Signature": sign(due.secret, timestamp, body),
            **pin_headers,
        }
        try:
            with self._http().stream(
                "POST", url, content=body, headers=headers, extensions=extensions
            ) as resp:
                code = resp.status_code
                if 200 <= code < 300:
                    return _Outcome(ok=True, status_code=code)
                if 300 <= code < 400:
                    where = resp.headers.get("location", "")[:200]
                    return _Outcome(
                        ok=False,
                        status_code=code,
                        error=f"The receiver answered HTTP {code} (redirect to {where!r}); webhook requests "
                        "do not follow redirects. Configure the final URL.",
                    )
                return _Outcome(
                    ok=False, status_code=code, error=f"The receiver answered HTTP {code}: {_snippet(resp)}"
                )
        except httpx.TimeoutException:
            return _Outcome(ok=False, error=f"The receiver did not answer within {self.timeout_s:g} s.")
        except httpx.HTTPError as exc:
            return _Outcome(ok=False, error=f"Could not reach the receiver: {type(exc).__name__}: {exc}")
        except Exception as exc:  # one broken delivery must not stop the others
            log.exception("Unexpected error sending webhook delivery %s", due.delivery_id)
            return _Outcome(ok=False, error=f"Unexpected error: {type(exc).__name__}.")

    def _record(self, due: list[_Due], outcomes: list[_Outcome], now: int) -> None:
        d = webhook_deliveries
        with self.db.write() as conn:
            for item, out in zip(due, outcomes, strict=True):
                attempts = item.attempts + 1
                values: dict[str, Any] = {"attempts": attempts, "last_status_code": out.status_code}
                if out.ok:
                    values.update(status="delivered", delivered_at=now, last_error=None)
                else:
                    values["last_error"] = (out.error or "")[:_ERROR_CHARS]
                    if attempts >= self.max_attempts:
                        values["status"] = "failed"
                    else:
                        values["next_attempt_at"] = now + retry_delay_ms(attempts)
                    log.info(
                        "Webhook %s delivery %s failed (attempt %d): %s",
                        item.webhook_id,
                        item.delivery_id,
                        attempts,
                        out.status_code or "no answer",
                    )
                conn.execute(update(d).where(d.c.id == item.delivery_id).values(**values))

    # ----------------------------------------------------------- background
    def _http(self) -> httpx.Client:
        with self._client_lock:
            if self._client is None:
                # trust_env=False: proxy variables must not re-route (or un-pin) the request.
                self._client = httpx.Client(timeout=self.timeout_s, follow_redirects=False, trust_env=False)
            return self._client

    def start(self) -> None:
        """Deliver in a background thread until :meth:`stop`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="modelyard-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background thread (after the pass in progress) and close connections."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout_s + 5)
            self._thread = None
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            busy = False
            try:
                busy = self.deliver_due() >= self.batch_size
                self._last_error = ""
            except Exception as exc:  # keep delivering after a database hiccup
                text = f"{type(exc).__name__}: {exc}"
                if text != self._last_error:
                    log.exception("Webhook delivery pass failed")
                self._last_error = text
            if not busy:
                self._stop.wait(self.interval_s)


def _snippet(resp: httpx.Response) -> str:
    """The first few hundred bytes of an error answer, read without loading a huge body."""
    data = b""
    try:
        for chunk in resp.iter_bytes():
            data += chunk
            if len(data) >= _SNIPPET_BYTES:
                break
    except httpx.HTTPError:
        pass
    return data[:_SNIPPET_BYTES].decode("utf-8", "replace").strip() or "(empty body)"
