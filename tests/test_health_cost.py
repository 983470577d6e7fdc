"""The health checks' dear parts run at a bounded rate and on a cheap downscale, without losing faults."""

from __future__ import annotations

from functools import lru_cache

import av
import cv2
import numpy as np
import pytest
from conftest import VTEST, needs_samples
from test_health import INJECTED, config, feed, raised

from scenewatch.health import CameraHealthMonitor
from scenewatch.health.measures import analysis_image, measure
from scenewatch.health.reference import ReferenceView

pytestmark = needs_samples


def test_the_view_is_matched_at_most_every_two_seconds_yet_a_moved_view_still_raises(monkeypatch):
    match = ReferenceView.match
    calls: list[int] = []

    def counted(self, grey):
        calls.append(1)
        return match(self, grey)

    monkeypatch.setattr(ReferenceView, "match", counted)
    monitor = CameraHealthMonitor("cam", config())
    events = feed(monitor, 40.0, fault=INJECTED["moved"], window=(18.0, 28.0))
    # the reference is learned at about 10 s: some 30 s of matching at one match per 2 s
    assert 5 <= len(calls) <= 30 / 2 + 1
    hits = raised(events, "moved")
    assert hits and 18.0 <= hits[0][0] <= 24.0


@lru_cache(maxsize=1)
def full_frames() -> tuple[np.ndarray, ...]:
    """Three full-size (768x576) frames of vtest.avi, 30 s apart."""
    out = []
    with av.open(str(VTEST)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i % 300 == 0:
                out.append(frame.to_ndarray(format="bgr24"))
            if len(out) == 3:
                break
    return tuple(out)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_the_cheaper_downscale_measures_like_a_colour_area_downscale(index):
    """The grey is area-averaged on its own and the colour copy is cheaper: every measure stays
    what a full colour area downscale gives (detail and noise shift by a quarter with other
    cheap downscales, such as 2x2 means then area)."""
    image = full_frames()[index]
    small, grey = analysis_image(image, 320)
    direct = cv2.resize(image, small.shape[1::-1], interpolation=cv2.INTER_AREA)
    assert small.shape == (240, 320, 3)
    assert np.abs(small.astype(np.float32) - direct).mean() < 3.0
    ours = measure(small, grey, None)
    theirs = measure(direct, cv2.cvtColor(direct, cv2.COLOR_BGR2GRAY).astype(np.float32), None)
    assert ours.brightness == pytest.approx(theirs.brightness, abs=0.5)
    assert ours.contrast == pytest.approx(theirs.contrast, rel=0.01)
    assert ours.sharpness == pytest.approx(theirs.sharpness, rel=0.02)
    assert ours.noise == pytest.approx(theirs.noise, rel=0.03)
    assert (ours.rg, ours.by) == pytest.approx((theirs.rg, theirs.by), abs=0.002)
    np.testing.assert_allclose(ours.tile_detail, theirs.tile_detail, rtol=0.05, atol=0.02)
