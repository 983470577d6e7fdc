"""Health checks inside `scenewatch run`: a real RTSP camera that goes offline and comes back,
seen through `scenewatch health` from another process."""

from __future__ import annotations

import json
import signal
import time

import pytest
from conftest import VTEST, needs_samples

pytestmark = needs_samples


def health(run_cli) -> dict:
    done = run_cli("health", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_offline_camera_is_reported_and_rate_drops(run_cli, tmp_path):
    from support.streams import RtspServer, gst_rtsp_missing

    reason = gst_rtsp_missing()
    if reason:
        pytest.skip(reason)
    config = tmp_path / "live.yaml"
    with RtspServer(VTEST) as server:
        config.write_text(
            "health: {offline_timeout_s: 4}\n"
            "cameras:\n  - name: walkway\n    source:\n"
            f"      url: {server.url}\n      reconnect_initial_s: 0.5\n      reconnect_max_s: 1\n"
        )
        process = run_cli.start("run", "--config", str(config))
        try:
            deadline = time.time() + 60
            while time.time() < deadline:
                time.sleep(1)
                if (run_cli.data / "scenewatch.db").exists():
                    cams = health(run_cli)["cameras"]
                    if cams and cams[0]["watched"] and cams[0]["online"]:
                        break
            report = health(run_cli)
            assert report["cameras"][0]["online"] is True
            server.kill()
            deadline = time.time() + 30
            while time.time() < deadline:
                time.sleep(1)
                cam = health(run_cli)["cameras"][0]
                if any(f["fault"] == "offline" for f in cam["faults"]):
                    break
            assert any(f["fault"] == "offline" for f in cam["faults"]), cam
            time.sleep(2)
            server.start()
            deadline = time.time() + 30
            while time.time() < deadline:
                time.sleep(1)
                cam = health(run_cli)["cameras"][0]
                if not any(f["fault"] == "offline" for f in cam["faults"]) and cam["online"]:
                    break
            assert cam["online"] and not any(f["fault"] == "offline" for f in cam["faults"]), cam
            assert 0.0 < cam["online_rate"] < 1.0
        finally:
            process.send_signal(signal.SIGINT)
            process.communicate(timeout=30)
    text = run_cli("health")
    assert "walkway" in text.stdout and "site online rate" in text.stdout
