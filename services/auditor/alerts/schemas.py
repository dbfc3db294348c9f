"""The HTTP models of webhook subscriptions: what a supervisor sends to subscribe, and what they read back."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Row

from services.auditor.rules.flags import Rule, Severity

SubscriptionStatus = Literal["active", "suspended", "deactivated"]


class SubscriptionCreate(BaseModel):
    """A webhook for your force's alerts: where to POST them, and which."""

    model_config = ConfigDict(extra="forbid")

    callback_url: str = Field(
        min_length=1,
        max_length=2000,
        description="An https URL (http only where the auditor allows it) on a host of the auditor's webhook "
        "allow-list, resolving to a public address or an allow-listed network; each alert is POSTed to it as JSON.",
    )
    rules: list[Rule] | None = Field(
        default=None, min_length=1, max_length=len(Rule), description="Only these rules; omit for every rule."
    )
    min_severity: Severity = Field(default=Severity.LOW, description="Only this severity and above.")
    description: str = Field(min_length=1, max_length=500, description="What it is for, e.g. the duty inspector.")

    @field_validator("callback_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        try:
            url = httpx.URL(value)
        except (httpx.InvalidURL, ValueError) as exc:
            raise ValueError("must be a URL") from exc
        if url.scheme not in ("http", "https"):
            raise ValueError("must be an http or https URL")
        if not url.host:
            raise ValueError("must name a host")
        if url.userinfo:
            raise ValueError("must not carry credentials (sign-in goes by the signature header)")
        return value


class DeliveryRead(BaseModel):
    """One attempt to deliver an alert to a subscription."""

    delivery_id: UUID = Field(description="The same for every attempt at one alert (X-Crimerec-Delivery).")
    position: int = Field(description="The alert's stream position.")
    flag_id: int
    event: str
    attempt: int
    at: datetime
    succeeded: bool
    status_code: int | None
    error: str | None


class SubscriptionRead(BaseModel):
    """A webhook subscription and how its deliveries are going."""

    subscription_id: UUID
    force: str
    callback_url: str
    rules: list[Rule] | None
    min_severity: Severity
    description: str
    status: SubscriptionStatus
    created_by: str
    created_at: datetime
    delivered_up_to: int = Field(description="Every matching alert up to this stream position has been delivered.")
    consecutive_failures: int
    failing_since: datetime | None
    next_attempt_at: datetime | None = Field(description="When a failed alert is retried.")
    last_success_at: datetime | None
    suspended_at: datetime | None
    suspended_reason: str | None
    deactivated_at: datetime | None
    last_delivery: DeliveryRead | None


class SubscriptionCreated(SubscriptionRead):
    """A new subscription, with the secret its deliveries are signed with."""

    secret: str = Field(
        description="Shown only now. Each delivery carries `X-Crimerec-Timestamp: <unix seconds>` and "
        "`X-Crimerec-Signature: sha256=<hex HMAC-SHA256 with this secret of the timestamp, a dot and the raw body>`; "
        "refuse one whose timestamp is more than 300 s from your clock (schemas.webhooks.verify does both)."
    )


class SubscriptionDetail(SubscriptionRead):
    """A subscription with its latest delivery attempts."""

    recent_deliveries: list[DeliveryRead] = Field(description="Newest first.")


class SubscriptionPage(BaseModel):
    """A page of your force's subscriptions, oldest first; pass `next_after` as `after` for the next page."""

    items: list[SubscriptionRead]
    next_after: UUID | None


def delivery_read(row: Row[Any] | None) -> DeliveryRead | None:
    """A delivery attempt as stored, as a supervisor reads it."""
    if row is None:
        return None
    return DeliveryRead(
        delivery_id=row.delivery_id, position=row.seq, flag_id=row.flag_id, event=row.event, attempt=row.attempt,
        at=row.at, succeeded=row.succeeded, status_code=row.status_code, error=row.error,
    )  # fmt: skip


def subscription_values(row: Row[Any], last: Row[Any] | None) -> dict[str, Any]:
    """A subscription as stored, with its latest delivery, in the fields of `SubscriptionRead`."""
    values = {k: v for k, v in row._mapping.items() if k in SubscriptionRead.model_fields}
    return values | {"delivered_up_to": row.delivered_seq, "last_delivery": delivery_read(last)}
