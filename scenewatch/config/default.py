"""The config ``serve`` and ``run`` use when none is given: the sample footage as a camera.

Kept apart from ``scenewatch.pipeline`` so that the server can build it without importing the
analysis stack (decoding, ONNX Runtime, the tracker): its pipeline runs in a process of its own.
"""

from __future__ import annotations

from scenewatch.config import AppConfig, CameraConfig
from scenewatch.config.source import SourceConfig


def default_config() -> AppConfig:
    """The embedded default: the sample footage played as a live camera at its own frame rate,
    looped (a sample that played once would leave the demo a still picture after 80 s), with one
    demo rule so that Alerts shows something: people on the campus road (the lower half of
    vtest.avi's 768x576 picture, where they walk across)."""
    from scenewatch.samples import sample_video

    video = sample_video()
    source = SourceConfig(url=str(video), realtime=True, loop=True)
    crossing = {"name": "crossing", "polygon": [[0, 300], [767, 300], [767, 575], [0, 575]]}
    demo = {"type": "intrusion", "zone": "crossing", "classes": ["person"]}
    camera = CameraConfig.model_validate(
        {"name": "sample", "source": source, "zones": [crossing], "rules": [demo]}
    )
    return AppConfig(cameras=[camera])
