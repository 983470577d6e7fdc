"""Behaviour alerts end to end: `scenewatch run` on real footage with an intrusion zone and a line
delivers a signed webhook with the snapshot of every event, and the events are listed by
`scenewatch events`."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import MOT, needs_mot

pytestmark = needs_mot  # the zone and line are drawn on TUD-Campus
SECRET = "s3cret-for-tests"


class Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict, bool]] = []

    def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        self.received.append((json.loads(body), self.headers.get("X-SceneWatch-Signature") == expected))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_intrusion_alert_reaches_a_signed_webhook(run_cli, tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Receiver.received = []
    video = MOT / "TUD-Campus" / "TUD-Campus.mp4"
    config = tmp_path / "campus.yaml"
    config.write_text(
        f"""
delivery:
  webhooks:
    - url: http://127.0.0.1:{server.server_address[1]}/hook
      secret: {SECRET}
cameras:
  - name: campus
    source: {{url: {video}}}
    zones:
      - {{name: pavement, polygon: [[0, 300], [640, 300], [640, 480], [0, 480]]}}
    lines:
      - {{name: middle, a: [320, 300], b: [320, 480], positive: east, negative: west}}
    rules:
      - {{type: intrusion, zone: pavement, classes: [person], cooldown_s: 60}}
      - {{type: line_crossing, line: middle, classes: [person], cooldown_s: 0}}
"""
    )
    try:
        done = run_cli("run", "--config", str(config), timeout=180)
        assert done.returncode == 0, done.stderr
    finally:
        server.shutdown()
    listed = json.loads(run_cli("events", "list", "--json").stdout)
    # instant events (a crossing starts and ends at once) are alerted like the others
    assert {e["rule_type"] for e in listed} == {"intrusion", "line_crossing"}
    assert Receiver.received, "no webhook arrived"
    bodies = [body for body, _ in Receiver.received if body["kind"] == "behaviour"]
    assert all(signed for _, signed in Receiver.received)
    assert {b["id"] for b in bodies} == {f"behaviour:{e['key']}" for e in listed}
    first = bodies[0]
    assert first["kind"] == "behaviour" and first["camera"] == "campus" and first["rule"]
    assert first["snapshot"] and (run_cli.data / "media" / first["snapshot"]).is_file()
