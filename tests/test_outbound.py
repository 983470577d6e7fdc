"""Outbound HTTP (webhooks, the edge's sync), retry waits, metrics on `serve`, logging and the
PostgreSQL extra, each against the real thing: local HTTP servers, a proxy, the real command."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import threading
import time
import urllib.request
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import ROOT
from support.streams import free_port, wait_listening
from test_central import _edge_store

from scenewatch.backoff import Backoff, backoff_s
from scenewatch.central.sync import EdgeSync
from scenewatch.config.central import CentralConfig
from scenewatch.config.delivery import WebhookConfig
from scenewatch.notify import Alert
from scenewatch.notify.webhook import WebhookSender
from scenewatch.samples import find_sample


class Server:
    """A real HTTP/1.1 server on 127.0.0.1 that keeps connections open. ``script`` answers POSTs in
    turn as (status, headers, body), a body of None being endless; after it runs out, 200 with
    ``{}``. Records each request's request line, peer port and arrival time."""

    def __init__(self, script: list[tuple[int, dict[str, str], bytes | None]] | None = None):
        self.script = list(script or [])
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802  (http.server's naming)
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                seen = {"line": self.requestline, "port": self.client_address[1], "at": time.monotonic()}
                server.requests.append(seen)
                status, headers, body = server.script.pop(0) if server.script else (200, {}, b"{}")
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body) if body is not None else 2**40))
                self.end_headers()
                if body is not None:
                    self.wfile.write(body)
                    return
                with contextlib.suppress(OSError):  # until the client hangs up
                    while True:
                        self.wfile.write(b"x" * 4096)
                        time.sleep(0.01)

            def log_message(self, *args) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def server():
    found = Server()
    yield found
    found.close()


@pytest.fixture
def proxy(monkeypatch, server):
    """``server`` as the host's HTTP proxy: a request through it names the full target URL."""
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, server.url)
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    return server


def alert(n: int = 0) -> Alert:
    return Alert("behaviour", "gate", "door", start=1000.0 + n, key=f"k{n}", at=1000.0 + n, payload={"n": n})


def edge_sync(tmp_path, url: str, **config) -> EdgeSync:
    store = _edge_store(tmp_path / "edge")
    settings = CentralConfig(role="edge", edge_id="e1", site="north", central_url=url, token="t", **config)
    return EdgeSync(store, settings)


# -- webhooks ----------------------------------------------------------------------------------------


def test_webhook_goes_through_the_hosts_proxy(proxy):
    """The receiver's name resolves nowhere: only a request sent to the proxy can arrive."""
    sender = WebhookSender(WebhookConfig(url="http://receiver.invalid/hook?token=abc", timeout_s=5))
    try:
        outcome = sender.send(alert())
    finally:
        sender.close()
    assert outcome.ok, outcome.reason
    assert proxy.requests[0]["line"] == "POST http://receiver.invalid/hook?token=abc HTTP/1.1"


def test_webhook_reuses_one_connection(server):
    sender = WebhookSender(WebhookConfig(url=f"{server.url}/hook", timeout_s=5))
    try:
        assert all(sender.send(alert(n)).ok for n in range(3))
    finally:
        sender.close()
    assert len(server.requests) == 3
    assert len({r["port"] for r in server.requests}) == 1, server.requests


def test_webhook_reads_an_http_date_retry_after(server):
    later = formatdate(time.time() + 120, usegmt=True)
    server.script = [(503, {"Retry-After": later}, b""), (429, {"Retry-After": "7"}, b"")]
    sender = WebhookSender(WebhookConfig(url=f"{server.url}/hook", timeout_s=5))
    try:
        unavailable, busy = sender.send(alert(1)), sender.send(alert(2))
    finally:
        sender.close()
    assert unavailable.retry and 115 <= unavailable.retry_after <= 121, unavailable
    assert busy.retry and busy.retry_after == 7.0, busy


def test_webhook_reads_at_most_64_kib_of_an_answer(server):
    """A receiver that answers 200 with an endless trickle: delivered at once, the rest never read."""
    server.script = [(200, {}, None)]
    sender = WebhookSender(WebhookConfig(url=f"{server.url}/hook", timeout_s=5))
    started = time.monotonic()
    try:
        outcome = sender.send(alert())
    finally:
        sender.close()
    assert outcome.ok, outcome.reason
    assert time.monotonic() - started < 2


# -- the edge's sync to the central ------------------------------------------------------------------


def test_sync_waits_as_long_as_the_central_asks(server, tmp_path):
    """A 503 with Retry-After: 2 holds the next try back 2 s, though the edge's own backoff says 0.05 s."""
    refusal = json.dumps({"error": "central database unavailable; keep the rows and retry"}).encode()
    server.script = [(503, {"Retry-After": "2"}, refusal)]
    sync = edge_sync(tmp_path, server.url, backoff_initial_s=0.05, backoff_max_s=30)
    sync.start()
    try:
        deadline = time.monotonic() + 15
        while len(server.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sync.stop(timeout=5, drain_s=0)
    assert len(server.requests) >= 2, server.requests
    waited = server.requests[1]["at"] - server.requests[0]["at"]
    assert 1.9 <= waited < 5, waited
    assert "central database unavailable" in sync.status.errors[0]


def test_sync_goes_through_the_hosts_proxy(proxy, tmp_path):
    sync = edge_sync(tmp_path, "http://central.invalid:8080")
    sync.instance = "i"
    try:
        assert sync.ship_once() == sync.status.shipped > 0
    finally:
        sync.stop(timeout=1, drain_s=0)
    assert proxy.requests[0]["line"] == "POST http://central.invalid:8080/api/central/ingest HTTP/1.1"


def test_backoff_is_capped_after_days_of_failures():
    """Retrying once a minute for a day is ~1,440 failures: the wait stays at the cap (2**1440 is
    beyond a float, which stopped the sync thread with OverflowError)."""
    assert backoff_s(100_000, 1.0, 30.0, jitter=0.0) == 30.0
    waits = Backoff(1.0, 30.0, jitter=0.5)
    assert all(15.0 <= w <= 30.0 for w in [waits.next() for _ in range(3000)][10:])


# -- metrics on `serve` ------------------------------------------------------------------------------


def _scrape(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
            return answer.read().decode()
    except OSError:
        return ""


def test_serve_exports_the_cameras_metrics(run_cli, tmp_path):
    sample = find_sample("vtest.avi")
    if sample is None:
        pytest.skip("no sample footage (vtest.avi)")
    config = tmp_path / "live.yaml"
    config.write_text(f"cameras:\n  - name: live\n    source: {{url: {sample}, realtime: true}}\n")
    port, metrics_port = free_port(), free_port()
    process = run_cli.start(
        "serve", "--config", str(config), "--port", str(port), "--metrics-port", str(metrics_port)
    )
    decoded = 0.0
    try:
        wait_listening(metrics_port, 60, process)
        deadline = time.monotonic() + 60
        while decoded == 0 and time.monotonic() < deadline:
            found = re.search(
                r'^scenewatch_camera_frames_decoded_total\{camera="live"\} (\S+)$',
                _scrape(metrics_port),
                re.M,
            )
            decoded = float(found.group(1)) if found else 0.0
            time.sleep(0.5)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    assert decoded > 0, process.stderr.read() if process.stderr else ""


# -- logging and the PostgreSQL extra -----------------------------------------------------------------


def test_log_level_is_set_once_for_every_command(run_cli):
    """Opening a new data folder migrates it, which alembic logs at info: shown only with debug."""
    quiet = run_cli("edges", "add", "e1", "--site", "north")
    assert quiet.returncode == 0, quiet.stderr
    assert " INFO " not in quiet.stderr
    told = run_cli("--log-level", "debug", "edges", "add", "e2", "--site", "north")
    assert told.returncode == 0, told.stderr
    assert re.search(r"^\S+ \S+ INFO alembic\.", told.stderr, re.M), told.stderr
    wrong = run_cli("--log-level", "loud", "edges")
    assert wrong.returncode == 2 and "--log-level: invalid choice: 'loud'" in wrong.stderr


BLOCK_PSYCOPG = "import sys; sys.modules['psycopg'] = None\n"


def test_without_psycopg_sqlite_works_and_a_postgresql_url_says_what_to_install(tmp_path):
    """An install without the [postgres] extra: the edge, the API and a SQLite central import and
    run; a PostgreSQL URL is one line naming the extra."""
    code = BLOCK_PSYCOPG + (
        "import os\n"
        "import scenewatch.central.edge, scenewatch.central.server, scenewatch.api.app\n"
        "from scenewatch.cli import main\n"
        f"assert main(['--data', {str(tmp_path / 'edge')!r}, 'edges', 'add', 'e1', '--site', 's']) == 0\n"
        "os.environ['SCENEWATCH_DATABASE_URL'] = 'postgresql://sw:secret@127.0.0.1:9/central'\n"
        f"sys.exit(main(['--data', {str(tmp_path / 'pg')!r}, 'edges']))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120, env=env
    )
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
    assert "pip install 'scenewatch[postgres]'" in done.stderr and "secret" not in done.stderr, done.stderr
