"""Calls to intake, recorder and auditor over HTTP, always with the signed-in person's own key, so every service
still checks role and force itself."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx

from services.console.settings import ConsoleSettings
from services.runtime.problems import ProblemError

SERVICES = ("intake", "recorder", "auditor")
Params = Mapping[str, Any] | list[tuple[str, Any]] | None


class ServiceUnavailable(ProblemError):
    """A service the page needs did not answer."""


class ServiceCalls:
    """One HTTP client per service, shared by every request of the console."""

    def __init__(self, settings: ConsoleSettings, transports: Mapping[str, httpx.AsyncBaseTransport] | None = None):
        self.clients = {
            name: httpx.AsyncClient(
                base_url=settings.service_url(name),
                timeout=httpx.Timeout(settings.upstream_timeout_seconds),
                transport=(transports or {}).get(name),
                headers={"User-Agent": "crimerec-console"},
            )
            for name in SERVICES
        }

    async def close(self) -> None:
        """Closes the connection pools."""
        for client in self.clients.values():
            await client.aclose()

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        key: str,
        params: Params = None,
        json: Any = None,
        missing_ok: bool = False,
    ) -> Any:
        """The service's JSON answer; its problem (status, title, detail) raised as a ProblemError otherwise.

        With `missing_ok`, a 404 is answered with None: "not decided yet" is a normal state of a contact."""
        try:
            response = await self.clients[service].request(
                method, path, params=params, json=json, headers={"Authorization": f"Bearer {key}"}
            )
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(
                503, "Service unavailable", f"The {service} service did not answer ({type(exc).__name__}); try again."
            ) from exc
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code >= 400:
            raise _problem_of(service, response)
        return response.json()

    async def get(self, service: str, path: str, *, key: str, params: Params = None, missing_ok: bool = False) -> Any:
        """GET one resource of a service."""
        return await self.call(service, "GET", path, key=key, params=params, missing_ok=missing_ok)

    @asynccontextmanager
    async def stream(
        self, service: str, path: str, *, key: str, params: Params = None, headers: Mapping[str, str] | None = None
    ) -> AsyncIterator[httpx.Response]:
        """A streamed GET (the alert stream), open while the context is."""
        request_headers = {"Authorization": f"Bearer {key}", "Accept": "text/event-stream", **(headers or {})}
        try:
            async with self.clients[service].stream(
                "GET", path, params=params, headers=request_headers, timeout=httpx.Timeout(10.0, read=None)
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise _problem_of(service, response)
                yield response
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(
                503, "Service unavailable", f"The {service} service did not answer ({type(exc).__name__})."
            ) from exc


def _problem_of(service: str, response: httpx.Response) -> ProblemError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    status = response.status_code if response.status_code < 500 else 502
    title = str(body.get("title") or response.reason_phrase or "Error")
    detail = str(body.get("detail") or f"The {service} service answered {response.status_code}.")
    return ProblemError(status, title, detail)
