"""The edge's sync thread: ships the outbox to the central in order, never blocking analysis.

Analysis writes to the edge's SQLite as always; triggers queue the changes (``outbox.py``). This
thread takes the oldest entries, posts them to ``POST /api/central/ingest`` with the edge's
bearer token and deletes them once the central has committed them. While the central or its
database is away it backs off (doubling, jittered, as the alert outbox does) and the outbox
grows on disk; a restarted edge resumes from what is left. The central's upserts make a replay
of an unacknowledged shipment harmless, so every row arrives exactly once.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field

from sqlalchemy import insert, select

from scenewatch import __version__
from scenewatch.central import outbox
from scenewatch.config.central import CentralConfig
from scenewatch.config.delivery import RetryConfig
from scenewatch.notify.outbox import backoff_s
from scenewatch.store.data import DataStore
from scenewatch.store.db import head_revision
from scenewatch.store.schema import site_settings

log = logging.getLogger(__name__)
INSTANCE_KEY = "central.edge_instance"
MAX_BODY = 900_000  # under the API's default 1 MB request limit
HEARTBEAT_S = 15.0  # an idle edge still reports in, so `scenewatch edges` shows it alive
IDLE_POLL_S = 0.5


class ShipError(Exception):
    """A shipment the central did not take; ``permanent`` when retrying cannot help by itself."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


@dataclass
class SyncStatus:
    shipped: int = 0  # rows the central has acknowledged since start
    shipments: int = 0
    failures: int = 0
    last_error: str | None = None
    last_ok: float | None = None
    errors: list[str] = field(default_factory=list)  # distinct messages, for tests and logs


def ssl_context(ca_file) -> ssl.SSLContext | None:
    return ssl.create_default_context(cafile=str(ca_file)) if ca_file else None


def edge_instance(store: DataStore) -> str:
    """This edge database's random id, made on first use (see ``edges.instance``)."""
    with store.engine.begin() as conn:
        value = conn.scalar(select(site_settings.c.value).where(site_settings.c.key == INSTANCE_KEY))
        if value is None:
            value = {"id": str(uuid.uuid4())}
            conn.execute(
                insert(site_settings).values(
                    key=INSTANCE_KEY, value=value, updated_at=time.time(), updated_by="sync"
                )
            )
        return value["id"]


class EdgeSync:
    """``start()`` the thread; ``stop()`` ends it after the shipment in flight."""

    def __init__(self, store: DataStore, config: CentralConfig):
        self.store = store
        self.config = config
        self.token = config.read_token()
        self.url = config.central_url.rstrip("/") + "/api/central/ingest"
        self.context = ssl_context(config.ca_file)
        self.retry = RetryConfig(
            backoff_initial_s=config.backoff_initial_s, backoff_max_s=config.backoff_max_s
        )
        self.limit = config.batch
        self.status = SyncStatus()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.instance = ""

    def start(self) -> EdgeSync:
        queued = outbox.install(self.store.engine)
        if queued:
            log.info("sync: queued %d existing rows for the central", queued)
        self.instance = edge_instance(self.store)
        self._thread = threading.Thread(target=self._loop, name="central-sync", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0, drain_s: float = 10.0) -> None:
        """End the thread; first try for up to ``drain_s`` to ship what the last frames left.

        Whatever is not shipped stays in the outbox for the next start.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        deadline = time.monotonic() + drain_s
        while time.monotonic() < deadline:
            try:
                if not self.ship_once():
                    return
            except Exception as exc:  # central away: the rows wait on disk
                self._failed(str(exc))
                return

    # ---------------------------------------------------------------- the loop

    def _loop(self) -> None:
        attempts, last_contact = 0, 0.0
        while not self._stop.is_set():
            try:
                shipped = self.ship_once(heartbeat=time.monotonic() - last_contact > HEARTBEAT_S)
            except ShipError as exc:
                attempts += 1
                self._failed(str(exc))
                wait = self.retry.backoff_max_s if exc.permanent else backoff_s(attempts, self.retry)
                self._stop.wait(wait)
                continue
            except Exception as exc:  # the local database busy, a bug: keep trying, never die
                attempts += 1
                self._failed(f"sync error: {exc!r}")
                self._stop.wait(backoff_s(attempts, self.retry))
                continue
            if shipped is not None:
                attempts, last_contact = 0, time.monotonic()
            if not shipped:
                self._stop.wait(IDLE_POLL_S)

    def _failed(self, message: str) -> None:
        self.status.failures += 1
        if message != self.status.last_error:
            log.warning("sync: %s (analysis goes on; rows wait in the outbox)", message)
        self.status.last_error = message
        if message not in self.status.errors:
            self.status.errors.append(message)

    def ship_once(self, heartbeat: bool = False) -> int | None:
        """Ship the next batch; rows shipped, 0 for a heartbeat, None when there was nothing to do."""
        engine = self.store.engine
        batch = outbox.next_batch(engine, self.limit)
        if batch is None and not heartbeat:
            return None
        body = self._body(batch)
        while batch is not None and len(body) > MAX_BODY and self.limit > 1:
            self.limit = max(1, self.limit // 2)  # long tracks: fewer per shipment
            batch = outbox.next_batch(engine, self.limit)
            body = self._body(batch)
        self._post(body)
        self.status.shipments += 1
        self.status.last_ok = time.time()
        self.status.last_error = None
        if batch is None:
            return 0
        outbox.acknowledge(engine, batch.last_seq)
        self.status.shipped += batch.size()
        return batch.size()

    def _body(self, batch: outbox.Batch | None) -> bytes:
        shipment = {
            "edge": self.config.edge_id,
            "site": self.config.site,
            "version": __version__,
            "schema": head_revision(),
            "instance": self.instance,
            # what will still wait once this shipment is filed
            "backlog": outbox.backlog(self.store.engine) - (batch.entries if batch is not None else 0),
            "rows": batch.rows if batch is not None else {},
        }
        return json.dumps(shipment, separators=(",", ":"), allow_nan=False).encode()

    def _post(self, body: bytes) -> dict:
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30, context=self.context) as answer:
                return json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read()).get("error", "")
            except Exception:
                detail = ""
            # 401 (token) and 409 (schema, duplicate camera, replaced database) need a person
            raise ShipError(
                f"central refused the shipment ({exc.code}): {detail or exc.reason}",
                permanent=exc.code in (401, 403, 409),
            ) from None
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ShipError(f"central {self.config.central_url} unreachable: {reason}") from None
