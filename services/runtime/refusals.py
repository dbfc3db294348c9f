"""The expected "no" of a service function: returned, never raised, and turned into a problem at the route."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Refused:
    """Why a request was not carried out: an HTTP-like status, a title and what exactly is wrong.

    `errors` name the request body's fields, each with what is wrong with it: `("code", "C2 needs the AVI")`.
    """

    status: int
    title: str
    detail: str
    errors: tuple[tuple[str, str], ...] = ()
