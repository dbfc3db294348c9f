"""The console against running services: intake, recorder, auditor and the console itself, each served by uvicorn
on a loopback port in this process, on a database and topic prefix of their own; and headless Chromium."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from crimerec import stack
from schemas.events import Role
from services.runtime.settings import EngineSettings
from tests.conftest import FORCE, OTHER_FORCE, Server, create_database, drop_database, engine_settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = os.environ.get("CRIMEREC_CONSOLE_SCREENSHOTS")  # a folder: the tests save each main page there


@dataclass
class ConsoleStack:
    """The running stack: where each service listens, and one key per role for GMP and for MPS."""

    urls: dict[str, str]
    keys: dict[Role, str]
    other_force: dict[Role, str]
    engines: EngineSettings

    def auth(self, role: Role, *, other: bool = False) -> dict[str, str]:
        """An Authorization header for a role."""
        return {"Authorization": f"Bearer {(self.other_force if other else self.keys)[role]}"}


async def _serve(app: FastAPI) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
async def console_stack(pg_server: Server, kafka_bootstrap: tuple[str, bool]) -> AsyncIterator[ConsoleStack]:
    """intake, recorder, auditor and the console on real ports, with their relays and consumers."""
    from services.auditor.app import create_app as auditor_app
    from services.auditor.settings import AuditorSettings
    from services.console.app import create_app as console_app
    from services.console.settings import ConsoleSettings
    from services.intake.app import create_app as intake_app
    from services.intake.settings import IntakeSettings
    from services.recorder.app import create_app as recorder_app
    from services.recorder.settings import RecorderSettings

    url = create_database(pg_server, prefix="crimerec_console")
    engines = engine_settings(url, kafka_bootstrap, topic_prefix=f"c{uuid.uuid4().hex[:6]}.")
    await asyncio.to_thread(stack.migrate_all, url)
    await stack.prepare_broker(engines, republish=False)
    mine = await stack.issue_keys(engines, force=FORCE, roles=list(Role), label="console test")
    other = await stack.issue_keys(engines, force=OTHER_FORCE, roles=list(Role), label="console test")
    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []
    urls: dict[str, str] = {}
    try:
        for name, app in (
            ("intake", intake_app(IntakeSettings(engines=engines))),
            ("recorder", recorder_app(RecorderSettings(engines=engines))),
            ("auditor", auditor_app(AuditorSettings(engines=engines, alert_poll_seconds=0.2))),
        ):
            server, task, urls[name] = await _serve(app)
            servers.append((server, task))
        ports = {f"{n}_port": urls[n].rsplit(":", 1)[1] for n in ("intake", "recorder", "auditor")}
        console = console_app(ConsoleSettings(engines=engines, **ports))
        server, task, urls["console"] = await _serve(console)
        servers.append((server, task))
        yield ConsoleStack(
            urls=urls,
            keys={Role(r): k for r, k in mine.items()},
            other_force={Role(r): k for r, k in other.items()},
            engines=engines,
        )
    finally:
        for server, _task in reversed(servers):
            server.should_exit = True
            # Open event streams would hold a graceful shutdown: after a moment they are cut.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(_task), 5)
            server.force_exit = True
            with contextlib.suppress(Exception):
                await _task
        drop_database(pg_server, url)


def _chromium_or_fail() -> str:
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        pytest.fail(
            f"The console's browser tests need Chromium at {CHROMIUM}; `make test` installs it "
            "(apt-get install -y chromium). Install it, then run the tests again.",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    """Headless Debian Chromium, driven by Playwright."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.fail("The console's browser tests need Playwright: pip install -e '.[dev]'.", pytrace=False)
    executable = _chromium_or_fail()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        await chromium.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    """A fresh browser context (no cookies) and page, laptop-sized."""
    context = await browser.new_context(viewport={"width": 1366, "height": 800}, locale="en-GB")
    context.set_default_timeout(15_000)
    page = await context.new_page()
    yield page
    await context.close()


def screenshot_path(name: str) -> Path | None:
    """Where to save a screenshot of a main page, when CRIMEREC_CONSOLE_SCREENSHOTS asks for them."""
    if not SCREENSHOTS:
        return None
    folder = Path(SCREENSHOTS)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.png"


@pytest.fixture(scope="session")
async def api(console_stack: ConsoleStack) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """Plain HTTP clients to each service (to make contacts, and to check what the console did)."""
    clients = {name: httpx.AsyncClient(base_url=url, timeout=30) for name, url in console_stack.urls.items()}
    yield clients
    for client in clients.values():
        await client.aclose()
