"""Alert delivery against real receivers: a local HTTP server, a real mosquitto broker, SSE fan-out."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from support.streams import free_port, wait_listening

from scenewatch.config.delivery import DeliveryConfig, MqttConfig, WebhookConfig
from scenewatch.notify import Alert, AlertStream, Dispatcher, alert_from_health, outbox, sse_lines
from scenewatch.notify.webhook import SIGNATURE_HEADER, verify
from scenewatch.store.data import DataStore
from scenewatch.store.schema import alert_outbox

SECRET = "s3cret-key-for-tests"


class Receiver:
    """A real HTTP server on 127.0.0.1. ``script`` answers requests in turn (an int status, or
    'hang'); after it runs out, 200. Records every request with its arrival time."""

    def __init__(self, script: list[int | str] | None = None, port: int = 0):
        self.script = list(script or [])
        self.requests: list[dict] = []
        self.release = threading.Event()  # set to let hanging requests go
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body, "at": time.time()})
                action = receiver.script.pop(0) if receiver.script else 200
                if action == "hang":
                    receiver.release.wait(10)
                    return
                self.send_response(int(action))
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook?token=abc"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def ids(self) -> list[str]:
        return [json.loads(r["body"])["id"] for r in self.requests]

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def store(tmp_path):
    return DataStore.open(tmp_path / "data")


def alert(n: int = 0, kind: str = "behaviour", camera: str = "gate", name: str = "door") -> Alert:
    return Alert(
        kind, camera, name, start=1000.0 + n, end=1001.0 + n, key=f"k{n}", at=1001.0 + n, payload={"n": n}
    )


def hook(url: str, **extra) -> WebhookConfig:
    settings = {"backoff_initial_s": 0.1, "backoff_max_s": 0.5, "timeout_s": 1.0, **extra}
    return WebhookConfig(url=url, **settings)


def wait_for(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def states(store: DataStore) -> dict[str, str]:
    with store.engine.connect() as conn:
        return dict(conn.execute(select(alert_outbox.c.alert_key, alert_outbox.c.state)).all())


def test_signed_json_post_verified_by_real_server(store):
    receiver = Receiver()
    try:
        config = DeliveryConfig(
            webhooks=[hook(receiver.url, secret=SECRET, headers={"Authorization": "Bearer t"})]
        )
        with Dispatcher(store, config) as dispatcher:
            assert dispatcher.submit(alert(1)) == 1
            wait_for(lambda: receiver.requests, 5, "the POST")
        request = receiver.requests[0]
        body, headers = request["body"], request["headers"]
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers[SIGNATURE_HEADER] == expected and verify(SECRET, body, headers[SIGNATURE_HEADER])
        assert not verify("wrong-secret!", body, headers[SIGNATURE_HEADER])
        assert headers["Content-Type"] == "application/json" and headers["Authorization"] == "Bearer t"
        assert headers["X-SceneWatch-Delivery"] == "k1"
        data = json.loads(body)
        assert data["id"] == "k1" and data["kind"] == "behaviour" and data["camera"] == "gate"
        assert data["rule"] == "door" and data["start"] == 1001.0 and data["payload"] == {"n": 1}
        assert states(store) == {"k1": "delivered"}
    finally:
        receiver.close()


def test_retries_with_growing_backoff_until_delivered(store, caplog):
    receiver = Receiver([503, 500, 429, 200])
    try:
        config = DeliveryConfig(webhooks=[hook(receiver.url, backoff_initial_s=0.2, backoff_max_s=2.0)])
        with caplog.at_level(logging.INFO), Dispatcher(store, config) as dispatcher:
            dispatcher.submit(alert(1))
            wait_for(lambda: len(receiver.requests) == 4, 10, "four attempts")
            wait_for(lambda: states(store) == {"k1": "delivered"}, 5, "delivered")
        times = [r["at"] for r in receiver.requests]
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        # doubling from 0.2 s, jittered into [0.5, 1] of the nominal wait
        assert 0.09 <= gaps[0] <= 0.4 and 0.19 <= gaps[1] <= 0.6 and 0.39 <= gaps[2] <= 1.0
        assert receiver.ids() == ["k1"] * 4
        assert [r["headers"]["X-SceneWatch-Attempt"] for r in receiver.requests] == ["1", "2", "3", "4"]
        assert "HTTP 503" in caplog.text and "delivered at attempt 4" in caplog.text
    finally:
        receiver.close()


def test_rejected_alert_is_given_up_with_a_logged_reason(store, caplog):
    receiver = Receiver([400])
    try:
        with (
            caplog.at_level(logging.ERROR),
            Dispatcher(store, DeliveryConfig(webhooks=[hook(receiver.url)])) as d,
        ):
            d.submit(alert(1))
            wait_for(lambda: states(store) == {"k1": "failed"}, 5, "given up")
        assert len(receiver.requests) == 1
        assert "HTTP 400" in caplog.text and "not retried" in caplog.text
        assert "token" not in caplog.text  # the URL's query (a secret) stays out of logs
        assert outbox.requeue_failed(store.engine) == 1
    finally:
        receiver.close()


def test_hanging_receiver_blocks_neither_submit_nor_other_destinations(store, caplog):
    hanging, healthy = Receiver(["hang"] * 100), Receiver()
    try:
        config = DeliveryConfig(
            webhooks=[hook(hanging.url, name="slow", timeout_s=0.5), hook(healthy.url, name="fast")]
        )
        with caplog.at_level(logging.WARNING):
            dispatcher = Dispatcher(store, config).start()
            took = []
            for n in range(20):
                started = time.perf_counter()
                dispatcher.submit(alert(n))
                took.append(time.perf_counter() - started)
            wait_for(lambda: len(healthy.requests) == 20, 5, "all alerts at the healthy receiver")
            wait_for(lambda: "no answer within 0.5 s" in caplog.text, 5, "a logged timeout")
            started = time.perf_counter()
            dispatcher.stop(timeout=3)
            assert time.perf_counter() - started < 3
        assert max(took) < 0.25, f"submit took up to {max(took) * 1000:.0f} ms"
        counts = outbox.counts(store.engine)
        assert counts[("webhook:fast", "delivered")] == 20
        assert counts[("webhook:slow", "pending")] == 20  # none lost: waiting for the next run
    finally:
        hanging.close()
        healthy.close()


def test_undelivered_alerts_resume_after_restart_exactly_once(store, caplog):
    port = free_port()  # nothing listens: connections are refused
    config = DeliveryConfig(webhooks=[hook(f"http://127.0.0.1:{port}/in", name="ops")])
    with caplog.at_level(logging.WARNING), Dispatcher(store, config) as first:
        for n in range(5):
            first.submit(alert(n))
        wait_for(
            lambda: "Connection refused" in caplog.text or "ConnectionRefused" in caplog.text, 5, "refusals"
        )
    assert set(states(store).values()) == {"pending"}

    receiver = Receiver(port=port)
    try:
        with Dispatcher(store, config) as second:
            wait_for(lambda: len(receiver.requests) >= 5, 10, "the backlog")
            wait_for(lambda: set(states(store).values()) == {"delivered"}, 5, "all delivered")
            second.submit(alert(2))  # a repeat of a delivered key is not sent again
        with Dispatcher(store, config):
            time.sleep(0.5)
        assert sorted(receiver.ids()) == [f"k{n}" for n in range(5)]
    finally:
        receiver.close()


def test_filters_pick_destinations(store):
    everything, health_only = Receiver(), Receiver()
    try:
        config = DeliveryConfig(
            webhooks=[hook(everything.url, name="all"), hook(health_only.url, name="ops", kinds=["health"])]
        )
        with Dispatcher(store, config) as dispatcher:
            dispatcher.submit(alert(1))
            dispatcher.submit(alert(2, kind="health", name="offline"))
            wait_for(lambda: len(everything.requests) == 2 and len(health_only.requests) == 1, 5, "posts")
        assert (
            health_only.ids() == ["k2"] and json.loads(health_only.requests[0]["body"])["fault"] == "offline"
        )
    finally:
        everything.close()
        health_only.close()


def test_health_event_becomes_an_alert():
    from scenewatch.health.events import HealthEvent

    event = HealthEvent("gate", "covered", "raised", 50.0, None, "critical", {"cover": 0.9})
    made = alert_from_health(event)
    assert made.kind == "health" and made.severity == "critical" and made.at == 50.0
    assert made.key == alert_from_health(event).key  # the same event gives the same key
    assert made.to_json()["payload"] == {"state": "raised", "detail": {"cover": 0.9}}


def test_config_errors_are_clear():
    with pytest.raises(ValidationError, match="must start with http:// or https://"):
        WebhookConfig(url="ftp://x/y")
    with pytest.raises(ValidationError, match="backoff_max_s .* less than backoff_initial_s"):
        WebhookConfig(url="http://x/", backoff_initial_s=10, backoff_max_s=1)
    with pytest.raises(ValidationError, match="same url"):
        DeliveryConfig(webhooks=[{"url": "http://x/"}, {"url": "http://x/"}])
    with pytest.raises(ValidationError, match="wildcards"):
        MqttConfig(host="b", topic_prefix="a/#")
    with pytest.raises(ValidationError, match="without a username"):
        MqttConfig(host="b", password="p")


# -- MQTT against a real broker ----------------------------------------------------------------


class Mosquitto:
    def __init__(self, tmp_path, port: int | None = None):
        self.port = port or free_port()
        self.conf = tmp_path / "mosquitto.conf"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["mosquitto", "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        wait_listening(self.port, 10, self.proc)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc.stderr.close()
            self.proc = None


def subscriber(port: int, topic: str) -> tuple[object, list]:
    import paho.mqtt.client as paho

    got: list = []
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="test-sub")
    client.on_message = lambda _c, _u, msg: got.append((msg.topic, json.loads(msg.payload), msg.qos))
    subscribed = threading.Event()
    client.on_subscribe = lambda *a: subscribed.set()
    client.on_connect = lambda c, *a: c.subscribe(topic, qos=1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert subscribed.wait(5), "subscription not acknowledged"
    return client, got


def test_mqtt_topics_per_camera_and_rule_on_a_real_broker(store, tmp_path):
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto not found (Debian package mosquitto)")
    pytest.importorskip("paho.mqtt", reason="paho-mqtt not installed (PyPI paho-mqtt)")
    broker = Mosquitto(tmp_path)
    broker.start()
    client = None
    try:
        client, got = subscriber(broker.port, "site1/#")
        config = DeliveryConfig(
            mqtt=MqttConfig(host="127.0.0.1", port=broker.port, topic_prefix="site1", backoff_initial_s=0.2)
        )
        with Dispatcher(store, config) as dispatcher:
            dispatcher.submit(alert(1, camera="gate", name="door"))
            dispatcher.submit(alert(2, kind="health", camera="yard", name="offline"))
            wait_for(lambda: len(got) == 2, 10, "two messages")
            assert sorted((t, m["id"], q) for t, m, q in got) == [
                ("site1/gate/door", "k1", 1),
                ("site1/yard/health/offline", "k2", 1),
            ]

            # the broker goes away: alerts wait in the outbox and go out once it is back
            broker.kill()
            time.sleep(0.3)
            dispatcher.submit(alert(3))
            time.sleep(1.0)
            assert states(store)["k3"] == "pending"
            broker.start()
            client.reconnect()
            wait_for(
                lambda: any(m["id"] == "k3" for _, m, _ in got), 20, "the alert after the broker restart"
            )
            wait_for(lambda: states(store)["k3"] == "delivered", 5, "k3 delivered")
    finally:
        if client is not None:
            client.loop_stop()
        broker.kill()


# -- live stream (SSE) --------------------------------------------------------------------------


def test_slow_subscriber_loses_oldest_and_gets_a_gap_marker():
    hub = AlertStream(maxsize=5)
    fast, slow = hub.subscribe(maxsize=100), hub.subscribe()
    for n in range(20):
        hub.publish(alert(n).to_json())
    assert [item["id"] for _, item in fast.drain()] == [f"k{n}" for n in range(20)]
    items = slow.drain()
    assert items[0] == ("gap", {"missed": 15})
    assert [item["id"] for _, item in items[1:]] == [f"k{n}" for n in range(15, 20)]
    assert slow.drain() == []
    slow.close()
    fast.close()
    assert hub.subscribers == 0


def test_sse_lines_stream_alerts_from_other_threads():
    hub = AlertStream(maxsize=3)

    async def read() -> list[str]:
        lines: list[str] = []
        stream = sse_lines(hub, heartbeat_s=0.2)
        lines.append(await anext(stream))  # nothing yet: a keepalive; now subscribed
        publisher = threading.Thread(target=lambda: [hub.publish(alert(n).to_json()) for n in range(6)])
        publisher.start()
        await asyncio.to_thread(publisher.join)
        while len(lines) < 5:
            lines.append(await anext(stream))
        await stream.aclose()
        return lines

    lines = asyncio.run(read())
    assert lines[0] == ": keepalive\n\n"
    assert lines[1] == 'event: gap\ndata: {"missed":3}\n\n'
    assert lines[2].startswith("id: k3\nevent: alert\ndata: {") and lines[2].endswith("}\n\n")
    assert json.loads(lines[4].split("data: ", 1)[1])["id"] == "k5"
    assert hub.subscribers == 0  # closing the generator unsubscribes
