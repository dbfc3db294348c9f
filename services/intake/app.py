"""Intake as a running service: `create_app(settings)`."""

from datetime import timedelta

from fastapi import FastAPI

from schemas.catalogue import OffenceCatalogue
from services.intake import api, batch_api, handlers, service
from services.intake.decisions import DecisionWaits
from services.intake.models import SCHEMA, access_log, access_log_seals, inbox, outbox
from services.intake.settings import IntakeSettings
from services.runtime.access_log import AccessLog
from services.runtime.http import create_app as create_service_app
from services.runtime.service_runtime import ServiceRuntime

DESCRIPTION = """
**intake** accepts every victim contact from call-handling systems (command and control, online forms, front counter,
partner referrals), stores it durably and publishes `contact.received` for the recorder.

* Authenticate with `Authorization: Bearer <key>` (a `call_handler` key of your force to submit).
* Send an `Idempotency-Key` with every POST and reuse it on retries: you get the first answer back and nothing is
  stored twice. A `201` means the contact is durable.
* Errors are `application/problem+json`; `errors` names each offending field and why.
"""


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    """The intake HTTP app with its relay and decision consumer."""
    settings = settings or IntakeSettings()
    keep = timedelta(hours=settings.idempotency_hours)

    async def expire_keys(runtime: ServiceRuntime) -> None:
        async with runtime.unit_of_work() as uow:
            await service.expire_idempotency_keys(uow, keep=keep)

    decisions = DecisionWaits()
    runtime = ServiceRuntime(
        name="intake",
        schema=SCHEMA,
        settings=settings,
        outbox=outbox,
        inbox=inbox,
        access_log=AccessLog(access_log, access_log_seals),
        subscriptions=handlers.SUBSCRIPTIONS,
        # The decision listener runs until the service stops; 0.0 is only how soon it would be restarted.
        housekeeping=[("idempotency-expiry", (600.0, expire_keys)), ("decision-listener", (0.0, decisions))],
    )
    app = create_service_app(
        runtime,
        title="crimerec intake",
        description=DESCRIPTION,
        routers=[api.router, batch_api.router],
        document=api.document,
        body_limits={"/v1/contacts:batch": settings.max_batch_body_bytes},
    )
    app.state.settings = settings
    app.state.contact_commits = api.contact_commits(runtime, max_batch=settings.group_commit_max)
    app.state.batch_commit = api.store_contacts(runtime)
    app.state.catalogue = OffenceCatalogue.default()
    app.state.decisions = decisions
    return app
