"""What one delivery attempt came to; every sender returns one, none raises."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Outcome:
    """``ok``: delivered. Otherwise ``retry`` says whether trying again may help (a timeout, a
    5xx) or not (a 400: the receiver rejects this alert). ``retry_after`` is a wait the receiver
    asked for (HTTP Retry-After), seconds."""

    ok: bool
    retry: bool = False
    reason: str = ""
    retry_after: float | None = None


DELIVERED = Outcome(ok=True)


def retry(reason: str, retry_after: float | None = None) -> Outcome:
    return Outcome(ok=False, retry=True, reason=reason, retry_after=retry_after)


def give_up(reason: str) -> Outcome:
    return Outcome(ok=False, retry=False, reason=reason)
