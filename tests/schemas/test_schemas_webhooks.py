"""The webhook signature a receiver checks (schemas.webhooks): HMAC-SHA256 over the timestamp and the body, and a
replay window on the timestamp."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from schemas.webhooks import REPLAY_WINDOW_SECONDS, SignatureError, sign, verify

SECRET = "s3cret-of-one-subscriber"  # noqa: S105 -- a test's own secret
BODY = b'{"event":"flag.raised","flag_id":7}'
SENT = 1_800_000_000


def test_the_signature_is_hmac_sha256_of_the_timestamp_a_dot_and_the_body() -> None:
    expected = hmac.new(SECRET.encode(), b"1800000000." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, SENT, BODY) == f"sha256={expected}"


def test_a_fresh_authentic_delivery_is_accepted_within_the_window_either_way() -> None:
    signature = sign(SECRET, SENT, BODY)
    for now in [SENT, SENT + REPLAY_WINDOW_SECONDS, SENT - REPLAY_WINDOW_SECONDS, SENT + 0.5]:
        assert verify(SECRET, BODY, timestamp=str(SENT), signature=signature, now=now) == SENT


@pytest.mark.parametrize(
    ("secret", "body", "timestamp", "signature", "now", "reason"),
    [
        # A recorded delivery replayed later, with its original headers.
        (SECRET, BODY, str(SENT), sign(SECRET, SENT, BODY), SENT + REPLAY_WINDOW_SECONDS + 1, "replay"),
        (SECRET, BODY, str(SENT), sign(SECRET, SENT, BODY), SENT - REPLAY_WINDOW_SECONDS - 1, "replay"),
        # ...or with a fresh timestamp put on it: the signature covered the old one.
        (SECRET, BODY, str(SENT + 1000), sign(SECRET, SENT, BODY), SENT + 1000, "does not match"),
        (SECRET, BODY + b" ", str(SENT), sign(SECRET, SENT, BODY), SENT, "does not match"),
        ("another-subscriber", BODY, str(SENT), sign(SECRET, SENT, BODY), SENT, "does not match"),
        (SECRET, BODY, str(SENT), "sha256=" + "0" * 64, SENT, "does not match"),
        (SECRET, BODY, str(SENT), sign(SECRET, SENT, BODY).removeprefix("sha256="), SENT, "does not match"),
        (SECRET, BODY, None, sign(SECRET, SENT, BODY), SENT, "missing X-Crimerec-Timestamp"),
        (SECRET, BODY, str(SENT), None, SENT, "missing X-Crimerec-Signature"),
        (SECRET, BODY, "", sign(SECRET, SENT, BODY), SENT, "missing X-Crimerec-Timestamp"),
        (SECRET, BODY, "1.8e9", sign(SECRET, SENT, BODY), SENT, "not unix seconds"),
        (SECRET, BODY, "-5", sign(SECRET, SENT, BODY), SENT, "not unix seconds"),
        (SECRET, BODY, "١٨٠٠", sign(SECRET, SENT, BODY), SENT, "not unix seconds"),  # non-ASCII digits
        (SECRET, BODY, "9" * 40, sign(SECRET, SENT, BODY), SENT, "not unix seconds"),
    ],
)
def test_a_forged_altered_stale_or_malformed_delivery_is_refused(
    secret: str, body: bytes, timestamp: str | None, signature: str | None, now: float, reason: str
) -> None:
    with pytest.raises(SignatureError, match=reason):
        verify(secret, body, timestamp=timestamp, signature=signature, now=now)


def test_the_window_can_be_narrowed_and_defaults_to_this_machines_clock() -> None:
    signature = sign(SECRET, SENT, BODY)
    with pytest.raises(SignatureError, match="more than 60 s"):
        verify(SECRET, BODY, timestamp=str(SENT), signature=signature, now=SENT + 61, window_seconds=60)
    long_ago = 1_000_000_000  # September 2001
    with pytest.raises(SignatureError, match="replay"):
        verify(SECRET, BODY, timestamp=str(long_ago), signature=sign(SECRET, long_ago, BODY))
