"""Behaviour of the camera health checks on real footage with injected faults."""

from __future__ import annotations

from functools import lru_cache

import av
import cv2
import numpy as np
import pytest
from conftest import VTEST, needs_samples

from scenewatch.config.health import HealthConfig
from scenewatch.health import CameraHealthMonitor, HealthEvent
from scenewatch.types import Frame

T0 = 1_700_000_000.0
FPS = 10.0
pytestmark = needs_samples


@lru_cache(maxsize=1)
def clip() -> tuple[np.ndarray, ...]:
    """300 frames of vtest.avi at half size (the checks downscale anyway; this keeps tests quick)."""
    out = []
    with av.open(str(VTEST)) as container:
        for frame in container.decode(video=0):
            out.append(cv2.resize(frame.to_ndarray(format="bgr24"), (384, 288), interpolation=cv2.INTER_AREA))
            if len(out) == 300:
                break
    return tuple(out)


def config(**overrides) -> HealthConfig:
    return HealthConfig(learning_period_s=10.0, baseline_min_samples=15, **overrides)


def feed(monitor, seconds, start=0.0, fault=None, window=(1e9, 1e9), skip=(1e9, 1e9), clock=None):
    """Play the clip (looped, 10 fps) from ``start`` for ``seconds``; ``fault`` transforms frames
    inside ``window``, frames inside ``skip`` are not sent. Returns (time, event) pairs."""
    events: list[tuple[float, HealthEvent]] = []
    frames = clip()
    for i in range(int(start * FPS), int((start + seconds) * FPS)):
        rel = i / FPS
        t = T0 + rel if clock is None else clock(rel)
        if skip[0] <= rel < skip[1]:
            events += [(rel, e) for e in monitor.tick(T0 + rel)]
            continue
        image = frames[i % len(frames)]
        if fault is not None and window[0] <= rel < window[1]:
            image = fault(image, i)
        events += [(rel, e) for e in monitor.observe(Frame(image, monitor.camera, i, t, rel))]
        events += [(rel, e) for e in monitor.tick(t)]
    return events


def raised(events, fault=None):
    return [(t, e) for t, e in events if e.state == "raised" and (fault is None or e.fault == fault)]


def cleared(events, fault):
    return [(t, e) for t, e in events if e.state == "cleared" and e.fault == fault]


_RNG = np.random.default_rng(1)
_FROZEN: dict[str, np.ndarray] = {}


def _freeze(img, i):
    return _FROZEN.setdefault("f", img)


def _cover(img, i):
    """A soft dark blob over the lower left, like a hand close to the lens."""
    h, w = img.shape[:2]
    mask = np.zeros((h, w), np.float32)
    cv2.ellipse(mask, (int(w * 0.2), int(h * 0.9)), (int(w * 0.4), int(h * 0.5)), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), w / 40)[..., None]
    return (img * (1 - mask) + np.float32([60, 70, 80]) * mask).astype(np.uint8)


INJECTED = {
    "blurred": lambda img, i: cv2.GaussianBlur(img, (0, 0), 1.5),
    "too_dark": lambda img, i: cv2.convertScaleAbs(img, alpha=0.25),
    "overexposed": lambda img, i: cv2.convertScaleAbs(img, alpha=2.2, beta=60),
    "frozen": _freeze,
    "covered": _cover,
    "moved": lambda img, i: np.roll(img, (12, 25), axis=(0, 1)),
    "noise": lambda img, i: np.clip(img + _RNG.normal(0, 30, img.shape), 0, 255).astype(np.uint8),
    "colour_cast": lambda img, i: np.clip(img * np.float32([0.55, 0.95, 1.35]), 0, 255).astype(np.uint8),
    "signal_loss": lambda img, i: np.full_like(img, 128),
}


@pytest.mark.parametrize("fault", sorted(INJECTED))
def test_injected_fault_is_raised_then_cleared(fault):
    _FROZEN.clear()
    monitor = CameraHealthMonitor("cam", config())
    events = feed(monitor, 40.0, fault=INJECTED[fault], window=(18.0, 28.0))
    hits = raised(events, fault)
    assert hits, f"{fault} not raised; got {[(t, e.fault) for t, e in raised(events)]}"
    assert 18.0 <= hits[0][0] <= 24.0, "raised too late or before the fault"
    assert cleared(events, fault), f"{fault} never cleared"
    assert monitor.status().faults == []
    assert not raised([(t, e) for t, e in events if t < 18.0]), "false alarm before the fault"
    if fault == "moved":
        assert hits[0][1].reference is not None and hits[0][1].snapshot is not None


def test_clean_footage_raises_nothing():
    monitor = CameraHealthMonitor("cam", config())
    events = feed(monitor, 60.0)
    assert raised(events) == []
    assert not monitor.learning
    status = monitor.status()
    assert status.severity == "ok" and status.online and status.online_rate == pytest.approx(1.0)


def test_dim_steady_camera_is_learned_as_normal():
    def dim(img, i):
        return cv2.convertScaleAbs(img, alpha=0.3)

    monitor = CameraHealthMonitor("night", config())
    events = feed(monitor, 40.0, fault=dim, window=(0.0, 1e9))
    assert raised(events) == []
    # ...but the same camera going darker than its own normal is still too dark.
    darker = feed(
        monitor,
        15.0,
        start=40.0,
        fault=lambda img, i: cv2.convertScaleAbs(img, alpha=0.08),
        window=(0.0, 1e9),
    )
    assert [e.fault for _, e in raised(darker)] == ["too_dark"]


def test_offline_via_tick_then_back_online_and_rate():
    monitor = CameraHealthMonitor("cam", config())
    events = feed(monitor, 40.0, skip=(20.0, 30.0))
    offline = raised(events, "offline")
    assert len(offline) == 1
    t, event = offline[0]
    assert 22.9 <= t <= 23.6 and event.start == pytest.approx(T0 + 19.9)
    back = cleared(events, "offline")
    assert len(back) == 1 and back[0][1].end == pytest.approx(T0 + 30.0)
    # 10.1 s of 39.9 s without frames; and over a window inside the gap, nothing.
    assert monitor.online_rate() == pytest.approx(1 - 10.1 / 39.9, abs=1e-3)
    assert monitor.online_rate(T0 + 21.0, T0 + 29.0) == pytest.approx(0.0)
    assert monitor.online_rate(T0 + 0.0, T0 + 10.0) == pytest.approx(1.0)
    assert raised(events, "frozen") == []


def test_resolution_change_is_recorded_without_false_faults():
    def bigger(img, i):
        return cv2.resize(img, (640, 480))

    monitor = CameraHealthMonitor("cam", config())
    events = feed(monitor, 45.0, fault=bigger, window=(20.0, 1e9))
    infos = [e for _, e in events if e.fault == "resolution_change"]
    assert len(infos) == 1 and infos[0].detail["to"] == [480, 640]
    assert raised(events) == []
    assert not monitor.learning  # learned again at the new resolution


def test_clock_jump_is_recorded_without_false_faults():
    def clock(rel):  # the wall clock jumps back an hour at 20 s and forward 2 h at 30 s
        return T0 + rel - (3600.0 if rel >= 20.0 else 0.0) + (7200.0 if rel >= 30.0 else 0.0)

    monitor = CameraHealthMonitor("cam", config())
    events = feed(monitor, 45.0, clock=clock)
    jumps = [e for _, e in events if e.fault == "clock_jump"]
    assert [round(e.detail["jump_s"]) for e in jumps] == [-3600, 7200]
    assert raised(events) == []
    assert monitor.counters["clock_jumps"] == 2


def test_corrupt_frames_do_not_crash_or_raise():
    rng = np.random.default_rng(0)

    def corrupt(img, i):
        kind = i % 3
        if kind == 0:
            return rng.integers(0, 256, img.shape, dtype=np.uint8)  # random bytes
        if kind == 1:
            out = np.zeros_like(img)
            out[..., 1] = 135  # decoder green
            return out
        return img[:5]  # a truncated buffer

    monitor = CameraHealthMonitor("cam", config())
    events = feed(monitor, 40.0, fault=corrupt, window=(20.0, 20.4))
    monitor.observe(Frame(None, "cam", 0, T0 + 40.1, 40.1))  # type: ignore[arg-type]
    monitor.observe(Frame(np.zeros((4, 4), np.float64), "cam", 0, T0 + 40.2, 40.2))
    events += [(41.0, e) for e in monitor.observe(Frame(clip()[0], "cam", 0, T0 + 40.3, 40.3))]
    assert raised(events) == []
    assert monitor.counters["corrupt_frames"] >= 3
    assert any(e.fault == "corrupt_frames" for _, e in events)


def test_persistent_green_is_signal_loss_not_frozen():
    def green(img, i):
        out = np.zeros_like(img)
        out[..., 1] = 135
        return out

    monitor = CameraHealthMonitor("cam", config())
    events = feed(monitor, 30.0, fault=green, window=(15.0, 1e9))
    assert [e.fault for _, e in raised(events)] == ["signal_loss"]


def test_fleet_site_online_rate_and_report():
    from scenewatch.health import FleetHealth, format_report

    fleet = FleetHealth(config())
    up, down = fleet.monitor("up"), fleet.monitor("down")
    feed(up, 20.0)
    feed(down, 20.0, skip=(10.0, 20.0))
    fleet.tick(T0 + 20.0)
    assert up.online_rate() == pytest.approx(1.0)
    assert down.online_rate() == pytest.approx(0.5, abs=0.01)
    assert fleet.online_rate() == pytest.approx(0.75, abs=0.01)
    report = fleet.report(window_s=3600)
    assert [c["camera"] for c in report["cameras"]] == ["down", "up"]
    assert report["cameras"][0]["faults"][0]["fault"] == "offline"
    assert "offline since" in format_report(report)


def test_late_analysis_is_lagging_with_hysteresis_and_never_offline():
    """The source keeps delivering while analysis falls 5 s behind and catches up again."""
    monitor = CameraHealthMonitor("cam", config(lagging_after_s=3.0, lagging_clear_s=1.0), T0)
    events = feed(monitor, 5.0)
    lags = [0.2] * 10 + [5.0] * 10 + [2.0] * 10 + [0.5] * 10  # one value a 0.5-s tick
    changes = []
    for i, lag in enumerate(lags):
        now = T0 + 5.0 + 0.5 * i
        changes += [(now - T0, e) for e in monitor.liveness(now, None, lag)]
    kinds = [(e.fault, e.state) for _, e in changes]
    assert kinds == [("lagging", "raised"), ("lagging", "cleared")], kinds
    assert not raised(events)
    (t_raised, up), (t_cleared, down) = changes
    assert 10.0 <= up.start - T0 <= 10.5 and up.severity == "warning"  # from when the lag began
    assert t_cleared >= 20.0 + monitor.config.clear_after_s  # 2 s lag is above the clear level
    assert down.detail["lag_s"] == 0.5
    assert monitor.status().online and monitor.status().online_rate == pytest.approx(1.0)


def test_a_silent_source_is_offline_and_clears_when_it_delivers_again():
    monitor = CameraHealthMonitor("cam", config(), T0)
    feed(monitor, 5.0)
    last = T0 + 4.9
    assert monitor.liveness(T0 + 6.0, last, 0.0) == []  # 1.1 s: not yet
    (up,) = monitor.liveness(T0 + 8.0, last, 0.0)
    assert (up.fault, up.state, up.start) == ("offline", "raised", last)
    assert not monitor.status().online
    assert monitor.liveness(T0 + 12.0, last, 9.0) == []  # no lagging while offline
    (down,) = monitor.liveness(T0 + 12.5, None, 0.0)  # frames come again
    assert (down.fault, down.state, down.end) == ("offline", "cleared", T0 + 12.5)
    assert monitor.online_rate(T0, T0 + 12.5) == pytest.approx(1 - 7.6 / 12.5)


def test_closing_a_camera_ends_its_open_faults():
    monitor = CameraHealthMonitor("cam", config(), T0)
    monitor.liveness(T0 + 10.0, T0, 0.0)
    (closed,) = monitor.close_all(T0 + 11.0, "not watched")
    assert (closed.fault, closed.state, closed.end, closed.detail["closed"]) == (
        "offline",
        "cleared",
        T0 + 11.0,
        "not watched",
    )
    assert monitor.status().faults == []
