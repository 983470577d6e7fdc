"""Recording inside `scenewatch run`: a live RTSP camera of real footage is recorded into segments
while it is analysed; an intrusion event's alert goes out at once with the URL its clip will have,
the clip is cut from the segments once its post-roll is recorded, and the API serves it."""

from __future__ import annotations

import json
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import av
import pytest
from conftest import VIDEO, needs

WALKWAY = VIDEO / "pedestrians_walkway_elevated.mp4"
pytestmark = needs(WALKWAY)  # the zone and frame counts are this clip's
PRE_S, POST_S = 2.0, 2.0
# pedestrians_walkway_elevated.mp4 (H.264, keyframes at 0 s and 10.4 s): a person walks down the
# path through this zone about 5 s in, so the pre-roll is recorded; the first segment closes at
# the keyframe at 10.4 s, which cuts the clip while the camera is still watched.
ZONE = [[180, 230], [340, 230], [340, 300], [180, 300]]


class Receiver(BaseHTTPRequestHandler):
    received: list[tuple[float, dict]] = []

    def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.received.append((time.time(), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def stored_events(data) -> list[dict]:
    from scenewatch.rules.store import list_events
    from scenewatch.store.data import DataStore

    if not (data / "scenewatch.db").exists():
        return []
    try:
        return list_events(DataStore.open(data, create=False).engine)
    except Exception:  # the database is still being created
        return []


def test_live_event_gets_a_clip_cut_from_the_recording(run_cli, tmp_path):
    from support.streams import RtspServer, gst_rtsp_missing

    reason = gst_rtsp_missing()
    if reason:
        pytest.skip(reason)
    hook = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    Receiver.received = []
    config = tmp_path / "live.yaml"
    with RtspServer(WALKWAY) as server:
        config.write_text(
            f"""
recording: {{segment_s: 2, pre_s: {PRE_S}, post_s: {POST_S}}}
delivery:
  webhooks: [{{url: "http://127.0.0.1:{hook.server_address[1]}/hook"}}]
cameras:
  - name: walkway
    detect_fps: 5
    source: {{url: "{server.url}", reconnect_initial_s: 0.5, reconnect_max_s: 1}}
    zones: [{{name: path, polygon: {ZONE}}}]
    rules: [{{type: intrusion, zone: path, classes: [person], cooldown_s: 60}}]
"""
        )
        process = run_cli.start("run", "--config", str(config))
        try:
            deadline = time.monotonic() + 45
            with_clip: list[dict] = []
            while not with_clip and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.5)
                # the row has the clip's reference at once, marked ready once the clip is cut
                with_clip = [e for e in stored_events(run_cli.data) if e["clip"] and e["clip"]["ready"]]
            assert with_clip, "no event got its clip while the camera was watched"
        finally:
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=60)
            hook.shutdown()
        assert process.returncode == 0, err

    from scenewatch.recording import segments_between
    from scenewatch.store.data import DataStore

    store = DataStore.open(run_cli.data, create=False)
    events = stored_events(run_cli.data)
    event = min(events, key=lambda e: e["start_ts"])
    assert event["rule_type"] == "intrusion" and event["camera"] == "walkway"
    assert all(e["clip"] and e["clip"]["ready"] for e in events), events  # the rest cut at shutdown
    segments = segments_between(store.engine, event["camera_id"], 0, 1e12)
    assert segments and all(store.media.absolute(s.path).is_file() for s in segments)

    # the clip: a file PyAV plays, from the pre-roll before the event started to the post-roll
    clip = event["clip"]
    assert clip["url"] == f"/api/clips/event/{event['id']}"
    assert clip["start_ts"] <= event["start_ts"] - PRE_S + 0.1
    assert clip["end_ts"] >= event["start_ts"] + POST_S - 0.2
    path = store.media.absolute(clip["media"])
    with av.open(str(path)) as container:
        times = [frame.time for frame in container.decode(video=0)]
    assert len(times) > 24 * (PRE_S + POST_S) - 3
    assert times[-1] - times[0] == pytest.approx(clip["end_ts"] - clip["start_ts"], abs=0.2)

    # the alert went out when the event started, before the clip was cut, and says where it will be
    alerts = {body["id"]: (at, body) for at, body in Receiver.received if body["kind"] == "behaviour"}
    at, body = alerts[f"behaviour:{event['key']}"]
    assert body["clip"] == clip["media"]
    assert body["payload"]["clip"]["url"] == clip["url"] and body["payload"]["clip"]["ready"] is False
    assert at < path.stat().st_mtime

    # and the API serves it (privacy-masked, as every clip it serves)
    from fastapi.testclient import TestClient
    from test_api import PASSWORD, bearer

    from scenewatch.api import auth, create_app
    from scenewatch.config import load_config

    auth.create_user(store.engine, "admin", PASSWORD, "admin")
    app = create_app(store, load_config(config), config_path=config)
    with TestClient(app) as client:
        answer = client.get(clip["url"], headers=bearer(client, "admin"))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "video/webm"
    served = tmp_path / "served.webm"
    served.write_bytes(answer.content)
    with av.open(str(served)) as container:
        assert sum(1 for _ in container.decode(video=0)) > 24 * (PRE_S + POST_S) / 2
