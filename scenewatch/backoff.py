"""Waiting before trying again: exponential backoff with jitter, and a server's ``Retry-After``.

One formula for every retry loop (alert delivery, the edge's sync to the central, reconnecting a
camera), so they all behave alike and none can overflow after days of failures.
"""

from __future__ import annotations

import random
from collections.abc import Callable

# 2**60 times any sane initial wait is past every cap: the exponent stops growing there
MAX_DOUBLINGS = 60


def backoff_s(
    failures: int,
    initial: float,
    maximum: float,
    jitter: float = 0.5,
    rand: Callable[[], float] = random.random,
) -> float:
    """Wait after the ``failures``-th failure in a row: ``initial`` doubling up to ``maximum``,
    scaled by a random factor in [1 - jitter, 1] so many clients behind one outage do not retry
    in step.

    >>> [backoff_s(n, 1.0, 5.0, jitter=0.0) for n in (1, 2, 3, 4, 10_000)]
    [1.0, 2.0, 4.0, 5.0, 5.0]
    >>> backoff_s(2, 1.0, 5.0, jitter=0.5, rand=lambda: 1.0)
    1.0
    """
    doublings = min(max(0, failures - 1), MAX_DOUBLINGS)
    return min(maximum, initial * 2.0**doublings) * (1.0 - jitter * rand())


def honour_retry_after(wait: float, retry_after: float | None, maximum: float) -> float:
    """The longer of our own ``wait`` and the server's ``Retry-After``, which is capped at
    ``maximum`` so a receiver cannot park a queue for days.

    >>> honour_retry_after(1.0, 20.0, 30.0), honour_retry_after(1.0, 3600.0, 30.0)
    (20.0, 30.0)
    """
    return wait if retry_after is None else max(wait, min(retry_after, maximum))


class Backoff:
    """Successive waits of one retry loop: ``next()`` after each failure, ``reset()`` on success.

    >>> b = Backoff(1.0, 5.0, jitter=0.0)
    >>> [b.next() for _ in range(5)]
    [1.0, 2.0, 4.0, 5.0, 5.0]
    """

    def __init__(
        self,
        initial: float,
        maximum: float,
        jitter: float = 0.2,
        rand: Callable[[], float] = random.random,
    ):
        self.initial, self.maximum, self.jitter, self._rand = initial, maximum, jitter, rand
        self.attempts = 0

    def next(self) -> float:
        """The wait before the next try, in seconds."""
        self.attempts += 1
        return backoff_s(self.attempts, self.initial, self.maximum, self.jitter, self._rand)

    def reset(self) -> None:
        self.attempts = 0
