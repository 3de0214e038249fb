"""Fixtures for the serving runtime: a registry on real SQLite, models registered in it, and the
runtime app served over real HTTP by uvicorn in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from runtimekit import table

from modelyard.client.client import Client
from modelyard.core.settings import Settings
from modelyard.serving.predlog import CaptureWriter
from modelyard.serving.runtime.app import RuntimeApp
from modelyard.serving.runtime.sources import Source


class RuntimeServer:
    """A ``RuntimeApp`` under uvicorn on a free loopback port, in a daemon thread."""

    def __init__(self, app: RuntimeApp) -> None:
        self.app = app
        # IPPROTO_TCP explicitly: asyncio turns Nagle off only on sockets that say they are TCP
        # (a plain socket.socket() says proto 0), and with Nagle on each answer waits ~40 ms.
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", lifespan="on", loop="asyncio", http="httptools")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def start(self) -> RuntimeServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("The runtime server did not start.")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.http.close()
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()

    def predict(self, name: str, body: Any = None, **kw: Any) -> httpx.Response:
        return self.http.post(f"/v1/deployments/{name}/predict", json=body, **kw)

    def wait_for(self, check: Callable[[], bool], timeout_s: float = 15.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError("condition not met in time")
            time.sleep(0.05)


@pytest.fixture
def serving_settings(tmp_path: Path) -> Settings:
    """Quick polls and flushes, everything under the test's folder."""
    return Settings(
        home=tmp_path / "home",
        serve_poll_s=0.1,
        capture_flush_s=0.2,
        flush_interval_s=0.05,
        retry_timeout_s=3.0,
        heartbeat_interval_s=0.5,
    )


@pytest.fixture
def registry(tmp_path: Path, serving_settings: Settings) -> Iterator[Client]:
    """An embedded client on a fresh SQLite store."""
    c = Client(
        f"sqlite:///{tmp_path / 'modelyard.db'}",
        artifacts_uri=str(tmp_path / "artifacts"),
        settings=serving_settings,
    )
    yield c
    c.close()


@pytest.fixture
def register(registry: Client) -> Callable[..., int]:
    """Register a model object as a new version of ``name``; returns the version number."""

    def register(
        name: str, model: Any, *, project: str = "default", trusted: bool = False, example: Any = None
    ) -> int:
        experiment = registry.get_or_create_experiment(project, "train")
        if name not in {m.name for m in registry.list_registered_models(project=project)}:
            # Low risk: 'champion' moves at once (the tier auto-approves without evidence).
            registry.create_registered_model(name, project=project, risk_tier="low")
        run = registry.create_run(experiment.id)
        info = registry.log_model(
            run.id, model, "model", input_example=table(5)[0] if example is None else example
        )
        version = registry.register_model(info.uri, name, project=project).version
        if trusted:
            registry.set_model_version_trusted(name, version, project=project)
        return version

    return register


@pytest.fixture
def start_runtime(serving_settings: Settings) -> Iterator[Callable[..., RuntimeServer]]:
    """Start runtime servers over sources of the test's choosing; all stop at teardown."""
    started: list[RuntimeServer] = []

    def start(source: Source, *, capture: bool = True, **kw: Any) -> RuntimeServer:
        writer = CaptureWriter(serving_settings.resolved_predictions_uri, flush_s=0.2) if capture else None
        app = RuntimeApp(source, poll_s=serving_settings.serve_poll_s, capture=writer, freeze_gc=False, **kw)
        server = RuntimeServer(app).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
