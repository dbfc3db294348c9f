"""How the auditor signs webhook deliveries, and how a receiver checks them (standard library only, so a receiver can
copy this file as it is).

Each delivery carries `X-Crimerec-Timestamp: <unix seconds when it was sent>` and
`X-Crimerec-Signature: sha256=<hex HMAC-SHA256, keyed by the subscription's secret, of "<timestamp>." + body>`.
The timestamp is signed with the body, so a recorded delivery cannot be passed off as a fresh one: a receiver
refuses a timestamp more than `REPLAY_WINDOW_SECONDS` away from its own clock, and dedupes on `X-Crimerec-Delivery`
within that window. Every attempt is signed afresh when it is sent, so a retry is never too old.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Final

SIGNATURE_HEADER: Final = "X-Crimerec-Signature"
TIMESTAMP_HEADER: Final = "X-Crimerec-Timestamp"
SCHEME: Final = "sha256="
REPLAY_WINDOW_SECONDS: Final = 300
"""How far a delivery's timestamp may be from the receiver's clock, either way, for `verify` to accept it."""


class SignatureError(ValueError):
    """A delivery that is not authentic or not fresh; the message says which check failed."""


def signed_content(timestamp: int, body: bytes) -> bytes:
    """What the signature covers: the timestamp, a dot, and the exact body bytes."""
    return str(timestamp).encode("ascii") + b"." + body


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Crimerec-Signature` value of a body sent at `timestamp` (unix seconds)."""
    return SCHEME + hmac.new(secret.encode(), signed_content(timestamp, body), hashlib.sha256).hexdigest()


def verify(
    secret: str,
    body: bytes,
    *,
    timestamp: str | None,
    signature: str | None,
    now: float | None = None,
    window_seconds: float = REPLAY_WINDOW_SECONDS,
) -> int:
    """Checks a delivery as received (the raw body and the two header values); returns its timestamp.

    Raises SignatureError when a header is missing or malformed, the timestamp is outside the replay window of
    `now` (default: this machine's clock), or the signature does not match (compared in constant time).
    """
    if not timestamp or not signature:
        raise SignatureError(f"missing {TIMESTAMP_HEADER if not timestamp else SIGNATURE_HEADER}")
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        raise SignatureError(f"{TIMESTAMP_HEADER} is not unix seconds")
    sent = int(timestamp)
    clock = time.time() if now is None else now
    if abs(clock - sent) > window_seconds:
        raise SignatureError(f"timestamp is more than {window_seconds:g} s from now: a replay or a wrong clock")
    if not hmac.compare_digest(sign(secret, sent, body).encode(), signature.strip().encode()):
        raise SignatureError("signature does not match")
    return sent
