"""The dispatcher: ``submit`` queues an alert durably and returns; one worker per destination delivers.

A hanging or failing receiver only slows its own worker; the pipeline thread that submits waits
for nothing but one small database insert. Rows not delivered when the process stops are taken up
by the next dispatcher over the same database.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from scenewatch.backoff import backoff_s, honour_retry_after
from scenewatch.config.delivery import DeliveryConfig, MqttConfig, RetryConfig, WebhookConfig
from scenewatch.notify import outbox
from scenewatch.notify.alert import Alert
from scenewatch.notify.outcome import Outcome
from scenewatch.notify.stream import AlertStream
from scenewatch.notify.webhook import WebhookSender
from scenewatch.store.data import DataStore

log = logging.getLogger(__name__)
IDLE_POLL_S = 30.0  # a worker also looks at the outbox this often with nothing submitted
PURGE_EVERY_S = 3600.0


class Sender(Protocol):
    shown: str

    def send(self, alert: Alert, attempt: int = 1) -> Outcome: ...


class Destination:
    """A configured destination: its outbox name, filter, retry policy and sender."""

    def __init__(self, key: str, config: WebhookConfig | MqttConfig, sender: Sender):
        self.key = key
        self.config = config
        self.sender = sender

    @property
    def retry(self) -> RetryConfig:
        return self.config

    def accepts(self, alert: Alert) -> bool:
        return self.config.accepts(alert.kind, alert.camera, alert.name)


def build_destinations(config: DeliveryConfig) -> list[Destination]:
    found = [Destination(hook.key, hook, WebhookSender(hook)) for hook in config.webhooks]
    if config.mqtt is not None:
        from scenewatch.notify.mqtt import MqttSender  # paho is only needed with MQTT configured

        found.append(Destination(config.mqtt.key, config.mqtt, MqttSender(config.mqtt)))
    return found


class Dispatcher:
    """Deliver alerts to every configured destination, durably.

    >>> # dispatcher = Dispatcher(store, settings.delivery); dispatcher.start()
    >>> # dispatcher.submit(alert)   # from any thread; returns in a few ms
    >>> # dispatcher.stop()
    """

    def __init__(
        self,
        store: DataStore,
        config: DeliveryConfig,
        destinations: list[Destination] | None = None,
        stream: AlertStream | None = None,
    ):
        self.store = store
        self.config = config
        self.destinations = build_destinations(config) if destinations is None else destinations
        self.stream = stream or AlertStream(config.stream_queue)
        self._stop = threading.Event()
        self._wakes = {d.key: threading.Event() for d in self.destinations}
        self._threads: list[threading.Thread] = []

    # -- the pipeline's side -------------------------------------------------------------------

    def submit(self, alert: Alert) -> int:
        """Queue ``alert`` for the destinations whose filters take it and wake their workers.

        Returns the outbox rows added (0 for a key already submitted). Never raises for a receiver's
        trouble; a database failure is logged and the alert still goes to the live stream.
        """
        self.stream.publish(alert.to_json())
        targets = [d.key for d in self.destinations if d.accepts(alert)]
        try:
            added = outbox.add(self.store.engine, alert, targets)
        except Exception:  # the camera thread must go on; the alert is in the log at least
            log.exception(
                "alert %s (%s %s/%s) could not be queued", alert.key, alert.kind, alert.camera, alert.name
            )
            return 0
        for key in targets:
            self._wakes[key].set()
        return added

    # -- workers -------------------------------------------------------------------------------

    def start(self) -> Dispatcher:
        """Start one worker per destination; rows left undelivered by an earlier run go first."""
        known = {d.key for d in self.destinations}
        for key, count in outbox.pending_destinations(self.store.engine).items():
            if key in known:
                log.info("outbox: %d undelivered alerts for %s resume", count, key)
            else:
                log.warning(
                    "outbox: %d undelivered alerts for %s, which is no longer configured; they are kept",
                    count,
                    key,
                )
        self._purge()
        for dest in self.destinations:
            thread = threading.Thread(
                target=self._work, args=(dest,), name=f"deliver-{dest.key}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the workers; an attempt in flight finishes or times out (its row stays pending)."""
        self._stop.set()
        for wake in self._wakes.values():
            wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for dest in self.destinations:
            close = getattr(dest.sender, "close", None)
            if close is not None:
                close()

    def __enter__(self) -> Dispatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _work(self, dest: Destination) -> None:
        wake = self._wakes[dest.key]
        last_purge = time.monotonic()
        while not self._stop.is_set():
            wake.clear()  # before reading: a submit from now on wakes the next wait
            try:
                rows = outbox.due(self.store.engine, dest.key)
                for row in rows:
                    if self._stop.is_set():
                        return
                    self._attempt(dest, row)
                if rows:
                    continue
                next_at = outbox.next_due_at(self.store.engine, dest.key)
            except Exception:  # a database hiccup: wait and look again, never die
                log.exception("delivery worker %s: outbox error", dest.key)
                next_at = None
            wait = IDLE_POLL_S if next_at is None else min(IDLE_POLL_S, max(0.0, next_at - time.time()))
            if time.monotonic() - last_purge > PURGE_EVERY_S:
                last_purge = time.monotonic()
                self._purge()
            wake.wait(wait)

    def _attempt(self, dest: Destination, row: outbox.Row) -> None:
        attempt = row.attempts + 1
        try:
            result = dest.sender.send(row.alert, attempt)
        except Exception as exc:  # a sender bug: treat as a failed attempt, keep the row
            log.exception("delivery to %s raised", dest.sender.shown)
            result = Outcome(ok=False, retry=True, reason=f"{type(exc).__name__}: {exc}")
        engine = self.store.engine
        what = f"alert {row.alert.key} to {dest.sender.shown}"
        if result.ok:
            outbox.mark_delivered(engine, row)
            if attempt > 1:
                log.info("%s delivered at attempt %d", what, attempt)
            return
        if not result.retry:
            log.error("%s rejected, not retried: %s", what, result.reason)
            outbox.mark_failed(engine, row, result.reason)
            return
        if attempt >= dest.retry.max_attempts:
            log.error("%s given up after %d attempts: %s", what, attempt, result.reason)
            outbox.mark_failed(engine, row, f"gave up after {attempt} attempts: {result.reason}")
            return
        policy = dest.retry
        wait = backoff_s(attempt, policy.backoff_initial_s, policy.backoff_max_s)
        wait = honour_retry_after(wait, result.retry_after, policy.backoff_max_s)
        log.warning("%s failed (attempt %d): %s; retry in %.1f s", what, attempt, result.reason, wait)
        outbox.mark_retry(engine, row, result.reason, time.time() + wait)

    def _purge(self) -> None:
        now = time.time()
        try:
            outbox.purge(
                self.store.engine,
                now - self.config.keep_delivered_days * 86400,
                now - self.config.keep_failed_days * 86400,
            )
        except Exception:
            log.exception("outbox purge failed")

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is due now (for tests and shutdown); True if so."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(
                (at := outbox.next_due_at(self.store.engine, d.key)) is None or at > time.time()
                for d in self.destinations
            ):
                return True
            time.sleep(0.05)
        return False
