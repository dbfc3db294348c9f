"""An expected refusal: returned by the recorder's decisions, never raised, and shown to the caller as a problem."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Refused:
    """Why a request was not carried out: an HTTP-like status, a title and what exactly is wrong."""

    status: int
    title: str
    detail: str
    errors: tuple[tuple[str, str], ...] = ()
