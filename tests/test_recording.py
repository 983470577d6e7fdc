"""Recording: segments remuxed from a live RTSP stream and a file, retention, clips."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import av
import numpy as np
import pytest
from pydantic import ValidationError
from support.streams import RtspServer, gst_rtsp_missing

from scenewatch.config.recording import RecordingConfig
from scenewatch.config.source import SourceConfig
from scenewatch.recording import (
    PendingClips,
    SegmentRecorder,
    apply_retention,
    cut_clip,
    cut_file_clip,
    segments_between,
)
from scenewatch.recording.clips import ClipError, CutClip
from scenewatch.store import repo
from scenewatch.store.data import DataStore

FPS = 25


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """12 s of H.264 at 25 fps with a keyframe every second and B-frames, made here by FFmpeg."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not found (Debian package ffmpeg)")
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc=size=320x240:rate={FPS}", "-t", "12",
         "-c:v", "libx264", "-preset", "ultrafast", "-g", str(FPS), "-bf", "2", "-pix_fmt", "yuv420p", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path


@pytest.fixture
def store(tmp_path) -> DataStore:
    return DataStore.open(tmp_path / "data")


def decoded_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        return [frame.time for frame in container.decode(video=0)]


def record_file(store: DataStore, clip: Path, segment_s: float, **settings) -> tuple[int, SegmentRecorder]:
    camera = repo.ensure_camera(store.engine, "gate", str(clip))
    config = RecordingConfig(enabled=True, segment_s=segment_s, **settings)
    recorder = SegmentRecorder(store, "gate", camera, SourceConfig(url=str(clip)), config).start()
    recorder._thread.join(30)
    return camera, recorder


def test_file_segments_have_the_right_durations_and_play(store, clip):
    camera, recorder = record_file(store, clip, 3.0)
    segments = recorder.segments
    assert [round(s.duration, 3) for s in segments] == [3.0, 3.0, 3.0, 3.0]
    assert all(abs(b.start - a.end) < 1e-6 for a, b in zip(segments, segments[1:], strict=False))
    assert segments_between(store.engine, camera, segments[0].start, segments[-1].end) == segments
    for segment in segments:
        path = store.media.absolute(segment.path)
        assert path.suffix == ".mp4" and path.stat().st_size == segment.bytes
        times = decoded_times(path)
        assert len(times) == 3 * FPS and times[-1] - times[0] == pytest.approx(3.0 - 1 / FPS, abs=0.01)
    assert not list(store.media.root.rglob("*.partial"))


def test_rtsp_stream_recorded_in_segments(store, clip):
    reason = gst_rtsp_missing()
    if reason:
        pytest.skip(reason)
    camera = repo.ensure_camera(store.engine, "road", "rtsp")
    config = RecordingConfig(enabled=True, segment_s=2.0, container="mkv")
    with RtspServer(clip) as server:
        source = SourceConfig(url=server.url, open_timeout_s=5, read_timeout_s=5)
        started = time.time()
        with SegmentRecorder(store, "road", camera, source, config) as recorder:
            deadline = time.monotonic() + 20
            while len(recorder.segments) < 3 and time.monotonic() < deadline:
                time.sleep(0.1)
    segments = recorder.segments
    assert len(segments) >= 3, recorder.last_error
    for segment in segments[:3]:
        # cut at keyframes (one a second): each full segment holds 2 s of stream time
        assert segment.duration == pytest.approx(2.0, abs=0.15)
        assert started - 1 < segment.start < time.time()
        times = decoded_times(store.media.absolute(segment.path))
        assert abs(len(times) - 2 * FPS) <= 2
        assert segment.path.endswith(".mkv")
    assert segments[1].start == pytest.approx(segments[0].end, abs=0.1)


def test_retention_deletes_oldest_beyond_the_disk_budget_and_age(store, clip):
    camera, recorder = record_file(store, clip, 2.0)
    segments = recorder.segments
    assert len(segments) == 6
    newest_three = sum(s.bytes for s in segments[3:])
    deleted = apply_retention(store, None, newest_three)
    assert deleted == [s.path for s in segments[:3]]
    assert not any(store.media.absolute(p).exists() for p in deleted)
    assert all(store.media.absolute(s.path).exists() for s in segments[3:])
    left = segments_between(store.engine, camera, 0, 1e12)
    assert [s.id for s in left] == [s.id for s in segments[3:]]
    # by age: everything that ended more than a day before "now"
    assert apply_retention(store, 86400, None, now=segments[4].end + 86400.5) == [
        s.path for s in segments[3:5]
    ]


def test_budget_is_applied_as_segments_close(store, clip):
    _, recorder = record_file(store, clip, 2.0, disk_budget_gb=50_000 / 1e9)
    kept = segments_between(store.engine, recorder.camera_id, 0, 1e12)
    assert 0 < len(kept) < len(recorder.segments) and sum(s.bytes for s in kept) <= 50_000
    assert kept[-1].id == recorder.segments[-1].id  # the newest stay


def test_clip_across_two_segments_covers_the_window(store, clip):
    camera, recorder = record_file(store, clip, 3.0)
    t0 = recorder.segments[0].start
    start, end = t0 + 2.5, t0 + 4.6  # segment 0 ends at t0 + 3
    out = cut_clip(store, camera, start, end, "clips/gate/e1.mp4")
    path = store.media.absolute(out)
    times = decoded_times(path)
    # starts at the keyframe before the start (t0 + 2.0) and ends with the frames at the end:
    # (B-frame reordering may add a frame or three)
    span = times[-1] - times[0]
    assert end - (t0 + 2.0) - 0.05 <= span <= end - (t0 + 2.0) + 0.2
    assert (end - (t0 + 2.0)) * FPS - 1 <= len(times) <= (end - (t0 + 2.0)) * FPS + 6
    assert all(b > a for a, b in zip(times, times[1:], strict=False))


def test_clip_from_source_file(store, clip):
    out = cut_file_clip(store, clip, 4.5, 8.0, "clips/file/e2.mp4")
    times = decoded_times(store.media.absolute(out))
    assert 4.0 - 0.05 <= times[-1] - times[0] <= 4.0 + 0.2
    with pytest.raises(ClipError, match="no video between"):
        cut_file_clip(store, clip, 30.0, 40.0, "clips/file/none.mp4")


def test_clip_without_recording_says_why(store):
    camera = repo.ensure_camera(store.engine, "gate", "x")
    with pytest.raises(ClipError, match="no recording of camera"):
        cut_clip(store, camera, 100.0, 110.0, "clips/gate/none.mp4")
    assert not store.media.absolute("clips/gate/none.mp4").exists()


def test_recording_config_is_checked():
    with pytest.raises(ValidationError, match="inside the media folder"):
        RecordingConfig(folder="../elsewhere")
    assert RecordingConfig(disk_budget_gb=2).budget_bytes == 2_000_000_000


def test_pending_clip_is_cut_once_its_post_roll_is_recorded(store, clip):
    camera = repo.ensure_camera(store.engine, "gate", str(clip))
    pending = PendingClips(store, camera)
    now = time.time()
    ready: list[CutClip | None] = []
    pending.request(now + 3.2, now + 5.0, "clips/gate/p1.mp4", ready.append)
    pending.request(now + 100, now + 110, "clips/gate/never.mp4", ready.append)  # beyond the recording
    config = RecordingConfig(enabled=True, segment_s=2.0)
    recorder = SegmentRecorder(store, "gate", camera, SourceConfig(url=str(clip)), config, pending.on_segment)
    recorder.start()._thread.join(30)
    assert [c.path for c in ready] == ["clips/gate/p1.mp4"] and pending.waiting == 1
    times = decoded_times(store.media.absolute(ready[0].path))
    assert 1.8 - 0.05 <= times[-1] - times[0] <= 2.0 + 0.2  # from the keyframe before 3.2 s to 5.0 s
    # its span in wall-clock time: from the keyframe (one a second) before the start to the end
    cut = ready[0]
    assert cut.start <= now + 3.2 < cut.start + 1.0 and now + 5.0 - 0.2 < cut.end <= now + 5.0
    # a flush cuts what waits from what there is: nothing recorded then, so no clip
    assert pending.flush() == 1 and ready[-1] is None and pending.waiting == 0


def test_leading_packets_without_timestamps_are_kept_from_the_first_keyframe():
    """FFmpeg's RTSP demuxer gives the opening keyframe and a few packets after it no dts: they get
    times one frame before the first timed packet, so the first GOP is recorded, not dropped."""
    from types import SimpleNamespace as P

    from scenewatch.recording.segments import _timed

    packets = [
        P(size=9, dts=None, pts=None, is_keyframe=False, duration=0),  # before any keyframe: useless
        P(size=9, dts=None, pts=None, is_keyframe=True, duration=3750),
        P(size=9, dts=None, pts=15000, is_keyframe=False, duration=3750),
        P(size=9, dts=None, pts=7499, is_keyframe=False, duration=0),
        P(size=9, dts=3750, pts=3750, is_keyframe=False, duration=3750),
        P(size=0, dts=7500, pts=7500, is_keyframe=False, duration=0),  # a flush packet
        P(size=9, dts=None, pts=None, is_keyframe=False, duration=0),  # later without a dts: dropped
        P(size=9, dts=7500, pts=11250, is_keyframe=False, duration=3750),
    ]
    out = list(_timed(packets, step=3750))
    assert [(p.dts, p.pts) for p in out] == [
        (-7500, -7500),
        (-3750, 15000),
        (0, 7499),
        (3750, 3750),
        (7500, 11250),
    ]
    assert out[0].is_keyframe


# -- live event clips through the API, retention of clip files, per-camera opt-out --------------


def add_person(store: DataStore, camera: int, box, start: float, end: float) -> int:
    """A person track of a live camera standing at ``box`` (camera pixels), every 0.04 s of
    wall-clock [start, end]."""
    from sqlalchemy import insert

    from scenewatch.store.schema import boxes, tracks

    run = repo.start_run(store.engine, camera, "rtsp://camera/live", "live")
    stamps = [start + i * 0.04 for i in range(int((end - start) / 0.04) + 1)]
    with store.engine.begin() as conn:
        track = conn.execute(
            insert(tracks)
            .values(camera_id=camera, run_id=run, tracker_id=1, class_name="person", first_ts=start,
                    last_ts=end, first_frame=0, last_frame=len(stamps) - 1, detections=len(stamps),
                    score=0.8, path=[[start, 160.0, 120.0]], finished=True, attributes={})
            .returning(tracks.c.id)
        ).scalar_one()  # fmt: skip
        conn.execute(
            insert(boxes),
            [dict(track_id=track, frame=i, ts=t, x1=box[0], y1=box[1], x2=box[2], y2=box[3], score=0.8,
                  interpolated=False) for i, t in enumerate(stamps)],
        )  # fmt: skip
    return track


def webm_frames(content: bytes, folder: Path) -> list:
    path = folder / f"served{time.monotonic_ns()}.webm"
    path.write_bytes(content)
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="bgr24") for frame in container.decode(video=0)]


def test_api_serves_a_live_events_own_clip_once_cut_and_after_its_segments_are_gone(store, clip, tmp_path):
    """A live event's clip reference is on its row at once; until the clip is cut the API says
    "not ready, retry" (caching nothing), then it serves the event's own clip file, privacy-masked
    with people placed by wall-clock time, also once retention deleted the segments it came from;
    event retention deletes the clip file too, and nothing outside the media folder."""
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient
    from sqlalchemy import select
    from test_api import PASSWORD, bearer

    from scenewatch.api import auth, create_app, retention
    from scenewatch.config import AppConfig, CameraConfig
    from scenewatch.recording.recorder import CameraRecording
    from scenewatch.rules.events import Event
    from scenewatch.rules.store import get_event, save_event, set_event_clip
    from scenewatch.store.schema import audit_log

    # "gate" is a live camera as configured; the file recorded below stands in for its stream
    rtsp = SourceConfig(url="rtsp://127.0.0.1:9/gate")
    config = RecordingConfig(segment_s=2.0, pre_s=1.0, post_s=1.0)
    cameras = [CameraConfig(name="gate", source=rtsp), CameraConfig(name="quiet", source=rtsp, record=False)]
    settings = AppConfig(cameras=cameras, recording=config)
    cam = repo.ensure_camera(store.engine, "gate", "rtsp")
    recording = CameraRecording(store, cameras[0], cam, config)
    now = time.time()
    event = Event("gate-live-1", "door", "intrusion", "gate", now + 4.0, None, [1], {})
    event_id = save_event(store.engine, store.media, event, cam)
    sent = recording.request(event, event_id, now + 4.0)  # what the alert carries
    assert sent is not None and sent["ready"] is False and sent["media"].startswith("events/gate/")
    assert get_event(store.engine, event_id)["clip"] == sent
    box = (100.0, 60.0, 220.0, 180.0)
    track = add_person(store, cam, box, now + 3.8, now + 4.2)
    quiet = repo.ensure_camera(store.engine, "quiet", "rtsp")
    quiet_id = save_event(store.engine, store.media, Event("quiet-1", "door", "intrusion", "quiet", now, now, [2], {}), quiet)  # fmt: skip
    auth.create_user(store.engine, "admin", PASSWORD, "admin")
    auth.create_user(store.engine, "view", PASSWORD, "viewer")
    url = f"/api/clips/event/{event_id}"
    with TestClient(create_app(store, settings)) as client:
        admin, view = bearer(client, "admin"), bearer(client, "view")
        for target in (url, f"/api/clips/track/{track}"):  # the post-roll is not recorded yet
            early = client.get(target, headers=admin)
            assert early.status_code == 409, early.text
            assert early.json()["error"] == f"clip not ready yet, retry in {early.headers['retry-after']} s"
            assert 2 <= int(early.headers["retry-after"]) <= 10
        assert not store.media.absolute("cache").exists()  # nothing cut or rendered, nothing cached
        # a camera that is not recorded: no waiting, no clip
        assert client.get(f"/api/clips/event/{quiet_id}", headers=admin).status_code == 404

        recorder = SegmentRecorder(store, "gate", cam, SourceConfig(url=str(clip)), config, recording.pending.on_segment)  # fmt: skip
        recorder.start()._thread.join(30)
        stored = get_event(store.engine, event_id)["clip"]
        assert stored["ready"] and stored["media"] == sent["media"] and recording.clips_cut == 1
        assert client.get(f"/api/clips/track/{track}", headers=admin).status_code == 200  # from segments
        deleted = apply_retention(store, 1.0, None, now=time.time() + 100)
        assert deleted and not any(store.media.absolute(p).exists() for p in deleted)

        masked = client.get(url, headers=view)
        assert masked.status_code == 200, masked.text
        assert masked.headers["content-type"] == "video/webm"
        clear = webm_frames(client.get(url, headers=admin).content, tmp_path)
        masked_frames = webm_frames(masked.content, tmp_path)
        length = stored["end_ts"] - stored["start_ts"]
        assert abs(len(clear) - (length * FPS + 1)) <= 2 and len(masked_frames) == len(clear)

        def difference(at: float) -> float:  # masked vs clear inside the person's box at wall time
            i = round((at - stored["start_ts"]) * FPS)
            x1, y1, x2, y2 = (int(v) for v in box)
            a, b = masked_frames[i][y1:y2, x1:x2], clear[i][y1:y2, x1:x2]
            return float(np.abs(a.astype(int) - b.astype(int)).mean())

        assert difference(now + 4.0) > 10  # pixelated while the person is there
        assert difference(now + 3.3) < 3 and difference(now + 4.8) < 3  # not before, not after

    with store.engine.connect() as conn:
        views = conn.execute(select(audit_log.c.user, audit_log.c.action).where(audit_log.c.target == f"event:{event_id}")).all()  # fmt: skip
    assert sorted(tuple(v) for v in views) == [("admin", "clip_view"), ("view", "clip_view")]

    # event retention: the closed event goes with its snapshot and clip file; a file event's
    # source footage and a path leaving the media folder are never deleted
    save_event(store.engine, store.media, Event("gate-live-1", "door", "intrusion", "gate", now + 4.0, now + 5.0, [1], {}), cam)  # fmt: skip
    outside = store.media.root.parent / "outside.mp4"
    outside.write_bytes(b"not media")
    odd = save_event(store.engine, store.media, Event("odd", "door", "intrusion", "gate", now, now, [3], {}), cam)  # fmt: skip
    set_event_clip(
        store.engine, odd, {"media": "../outside.mp4", "start_ts": now, "end_ts": now, "ready": True}
    )
    file_clip = {"path": str(clip), "start_s": 1.0, "end_s": 3.0}
    save_event(store.engine, store.media, Event("f", "door", "intrusion", "gate", now, now, [4], {}), cam, None, file_clip)  # fmt: skip
    clip_file = store.media.absolute(stored["media"])
    assert clip_file.is_file() and any(store.media.absolute("cache/clips").iterdir())
    done = retention.enforce(store, retention.RetentionSettings(events_days=1), now=now + 3 * 86400)
    assert done["events"] == 4 and done["clip_cache"] >= 2
    assert not clip_file.exists() and outside.exists() and clip.exists()
    assert not any(store.media.absolute("cache/clips").iterdir())


def test_camera_with_record_false_gets_no_segments(store, clip):
    from sqlalchemy import select

    from scenewatch.config import CameraConfig
    from scenewatch.recording.recorder import LiveRecording, is_recorded
    from scenewatch.store.schema import recording_segments

    reason = gst_rtsp_missing()
    if reason:
        pytest.skip(reason)
    on, off = RecordingConfig(segment_s=1.0), RecordingConfig(enabled=False)
    live = SourceConfig(url="rtsp://127.0.0.1:9/x")
    assert is_recorded(CameraConfig(name="a", source=live), on)
    assert not is_recorded(CameraConfig(name="a", source=live, record=False), on)
    assert is_recorded(CameraConfig(name="a", source=live, record=True), off)  # its own choice wins
    assert not is_recorded(CameraConfig(name="a", source=live), off)
    assert not is_recorded(CameraConfig(name="a", source=SourceConfig(url=str(clip)), record=True), on)
    with RtspServer(clip) as server:
        source = SourceConfig(url=server.url, open_timeout_s=5, read_timeout_s=5)
        cameras = [CameraConfig(name="road", source=source), CameraConfig(name="yard", source=source, record=False)]  # fmt: skip
        recording = LiveRecording(store, on, cameras).start()
        try:
            assert recording.for_camera("yard") is None
            road = recording.for_camera("road")
            assert road is not None
            deadline = time.monotonic() + 15
            while not road.recorder.segments and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            recording.stop()
    assert road.recorder.segments, road.recorder.last_error
    with store.engine.connect() as conn:
        recorded = set(conn.scalars(select(recording_segments.c.camera_id)))
    assert recorded == {repo.camera_id(store.engine, "road")}
    with pytest.raises(repo.NotFound):
        repo.camera_id(store.engine, "yard")
    assert not store.media.absolute("recordings/yard").exists()
