"""The edge's sync thread: ships the outbox to the central in order, never blocking analysis.

Analysis writes to the edge's SQLite as always; triggers queue the changes (``outbox.py``). This
thread takes the oldest entries, posts them to ``POST /api/central/ingest`` with the edge's
bearer token and deletes them once the central has committed them. While the central or its
database is away it backs off (``scenewatch.backoff``, as alert delivery does, and at least as
long as a 429 or 503 asks in ``Retry-After``) and the outbox grows on disk; a restarted edge
resumes from what is left. The central's upserts make a replay of an unacknowledged shipment
harmless, so every row arrives exactly once.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx
from sqlalchemy import insert, select

from scenewatch import __version__
from scenewatch.backoff import backoff_s, honour_retry_after
from scenewatch.central import outbox
from scenewatch.config.central import CentralConfig
from scenewatch.errors import SceneWatchError
from scenewatch.outbound import client, failure, retry_after_s
from scenewatch.store.data import DataStore
from scenewatch.store.db import head_revision
from scenewatch.store.schema import site_settings

log = logging.getLogger(__name__)
INSTANCE_KEY = "central.edge_instance"
MAX_BODY = 900_000  # under the API's default 1 MB request limit
HEARTBEAT_S = 15.0  # an idle edge still reports in, so `scenewatch edges` shows it alive
IDLE_POLL_S = 0.5
POST_TIMEOUT_S = 30.0


class ShipError(Exception):
    """A shipment the central did not take; ``permanent`` when retrying cannot help by itself,
    ``retry_after`` the seconds the central asked the edge to wait (429, 503)."""

    def __init__(self, message: str, permanent: bool = False, retry_after: float | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


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
        if not config.central_url:  # the config refuses an edge without one; a central has no sync
            raise SceneWatchError("central.central_url is not set", "set it to the central's address")
        self.url = config.central_url.rstrip("/") + "/api/central/ingest"
        self.client = client(POST_TIMEOUT_S, ssl_context(config.ca_file) or True)
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
        try:
            self._drain(time.monotonic() + drain_s)
        finally:
            self.client.close()

    def _drain(self, deadline: float) -> None:
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
                self._stop.wait(self._wait(attempts, exc))
                continue
            except Exception as exc:  # the local database busy, a bug: keep trying, never die
                attempts += 1
                self._failed(f"sync error: {exc!r}")
                self._stop.wait(self._wait(attempts))
                continue
            if shipped is not None:
                attempts, last_contact = 0, time.monotonic()
            if not shipped:
                self._stop.wait(IDLE_POLL_S)

    def _wait(self, attempts: int, exc: ShipError | None = None) -> float:
        """Seconds before the next try: the longest wait when a person must act, else backoff,
        and never less than the central's Retry-After (capped at the longest wait)."""
        longest = self.config.backoff_max_s
        if exc is not None and exc.permanent:
            return longest
        wait = backoff_s(attempts, self.config.backoff_initial_s, longest)
        return honour_retry_after(wait, exc.retry_after if exc is not None else None, longest)

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
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        try:
            answer = self.client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ShipError(f"central {self.config.central_url} unreachable: {failure(exc)}") from None
        if answer.is_success:
            return answer.json() if answer.content else {}
        try:
            detail = answer.json().get("error", "")
        except Exception:
            detail = ""
        # 401 (token) and 409 (schema, duplicate camera, replaced database) need a person
        raise ShipError(
            f"central refused the shipment ({answer.status_code}): {detail or answer.reason_phrase}",
            permanent=answer.status_code in (401, 403, 409),
            retry_after=retry_after_s(answer.headers.get("Retry-After")),
        )
