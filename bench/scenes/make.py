"""Write a composite scene: the real clip, live, with real objects held where they were (a car
that stops, a person who falls and lies), and the truth beside it (``truth.json``).

Deterministic: the same scene (spec, seed, source file) gives the same frames and truth; scenes are
cached under ``$SCENEWATCH_SCENES`` (default: the system temp folder), never in the repository.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from scenes.compose import background, cut, paste
from scenes.spec import HOLDS, VIDEO, Act, Scene

VERSION = 1  # bump when the compositing changes: cached scenes are made again
PLATE_FRAMES = 45  # frames the background plate's median is taken over
STAND_S = 1.0  # a person stands still this long before the fall
FALL_ANGLES = (30.0, 60.0)  # one frame each: the fall itself
FADE = (0.66, 0.33)  # the held object goes in two frames


def cache_root() -> Path:
    return Path(os.environ.get("SCENEWATCH_SCENES", Path(tempfile.gettempdir()) / "scenewatch-scenes"))


def source_path(scene: Scene) -> Path:
    path = VIDEO / scene.clip
    if not path.is_file():
        raise FileNotFoundError(f"scene {scene.name}: source clip {path} not found (set up ../shared/data)")
    return path


def key(scene: Scene) -> str:
    source = source_path(scene)
    text = json.dumps([VERSION, asdict(scene), source.name, source.stat().st_size], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def generate(scene: Scene, root: Path | None = None) -> Path:
    """The scene's folder (``video.mp4``, ``truth.json``), made unless already there."""
    folder = (root or cache_root()) / f"{scene.name}-{key(scene)}"
    if (folder / "truth.json").is_file():
        return folder
    frames, rate = read(scene)
    plate = background(frames[:: max(1, len(frames) // PLATE_FRAMES)])
    fps = float(rate)
    timelines = [timeline(scene, act, hold, fps) for act, hold in zip(scene.acts, scene.holds(), strict=True)]
    check_apart(scene, timelines, frames[0].shape)
    truth = []
    for act, hold, steps in zip(scene.acts, scene.holds(), timelines, strict=True):
        k0 = (act.frame - scene.start) // scene.step
        pixels, mask, region = cut(frames[k0], plate, act.box)
        foot = ((act.box[0] + act.box[2]) / 2 - region[0], act.box[3] - region[1])
        shown = []
        for k, pose in steps.items():
            shown.append(paste(frames[k], pixels, mask, foot, **pose))
        truth.append(describe(scene, act, hold, steps, shown, fps))
    folder.mkdir(parents=True, exist_ok=True)
    write(folder / "video.mp4", frames, rate)
    (folder / "truth.json").write_text(json.dumps({"scene": scene.name, "fps": fps, "acts": truth}, indent=1))
    return folder


def read(scene: Scene) -> tuple[list[np.ndarray], Fraction]:
    """The kept source frames (BGR) and the scene's frame rate."""
    frames = []
    with av.open(str(source_path(scene))) as container:
        stream = container.streams.video[0]
        rate = Fraction(stream.average_rate or stream.guessed_rate or 25) / scene.step
        for index, frame in enumerate(container.decode(stream)):
            if index >= scene.end:
                break
            if index >= scene.start and (index - scene.start) % scene.step == 0:
                frames.append(frame.to_ndarray(format="bgr24"))
    for act in scene.acts:
        if (act.frame - scene.start) % scene.step or not scene.start <= act.frame < scene.end:
            raise ValueError(f"scene {scene.name}: act at source frame {act.frame} is not a kept frame")
    return frames, rate


def timeline(scene: Scene, act: Act, hold: float, fps: float) -> dict[int, dict]:
    """Output frame -> how the object is pasted there (``paste`` keywords besides the pixels)."""
    k0 = (act.frame - scene.start) // scene.step
    last = (scene.end - scene.start - 1) // scene.step
    x0, y0, x1, y1 = act.box
    fx, fy = (x0 + x1) / 2, float(y1)
    half = (x1 - x0) / 2  # a lying body rests on the ground: its centre line half a width above it
    poses: list[dict] = []
    if act.family == "stopped_vehicle" or act.kind == "stand":
        poses += [{}] * round(hold * fps)
    else:
        poses += [{}] * round(STAND_S * fps)
        if act.kind == "squat":
            poses += [{"squash": 0.8}] + [{"squash": 0.6}] * round(hold * fps)
        else:
            for angle in FALL_ANGLES:
                turn = np.radians(angle)
                poses.append({"angle": act.side * angle, "to": (fx, fy - half * np.sin(turn))})
            poses += [{"angle": act.side * 90.0, "to": (fx, fy - half)}] * round(hold * fps)
    poses += [dict(p, alpha=a) for p, a in zip([poses[-1]] * len(FADE), FADE, strict=True)]
    steps = {}
    for i, pose in enumerate(poses):
        if k0 + i > last:
            break
        steps[k0 + i] = {"to": (fx, fy), **pose}
    return steps


def check_apart(scene: Scene, timelines: list[dict[int, dict]], shape: tuple[int, ...]) -> None:
    """No two held objects may cover each other: each would hide what the other shows."""
    reach = [reach_box(act) for act in scene.acts]
    for i, a in enumerate(timelines):
        for j in range(i + 1, len(timelines)):
            if set(a) & set(timelines[j]) and overlap(reach[i], reach[j]):
                raise ValueError(f"scene {scene.name}: acts {i} and {j} overlap in place and time")


def reach_box(act: Act) -> tuple[float, float, float, float]:
    """Everything the act may cover: the standing box and, for a fall, the lying body beside it."""
    x0, y0, x1, y1 = act.box
    if act.kind not in ("down", "stumble"):
        return x0, y0, x1, y1
    fx, h = (x0 + x1) / 2, y1 - y0
    return min(x0, fx + min(act.side, 0) * h), y0, max(x1, fx + max(act.side, 0) * h), y1


def overlap(a: tuple, b: tuple) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def describe(scene: Scene, act: Act, hold: float, steps: dict[int, dict], shown: list, fps: float) -> dict:
    """The act's truth: when the event begins (the stop, the start of the fall), where the object
    stands when the rule can fire, and whether an event is expected at all."""
    expected = HOLDS[act.kind][0]
    ks = sorted(steps)
    begin = ks[0] + (0 if act.family == "stopped_vehicle" or act.kind == "stand" else round(STAND_S * fps))
    settled = shown[min(begin - ks[0] + len(FALL_ANGLES), len(shown) - 1)]
    feet = [((b[0] + b[2]) / 2, b[3]) for b in (shown[0], settled)]
    return {
        "rule": act.family,
        "kind": act.kind,
        "expected": expected,
        "split": scene.split,
        "source_frame": act.frame,
        "source_box": list(act.box),
        "hold_s": hold,
        "start": round(begin / fps, 3),
        "end": round(ks[-1] / fps, 3),
        "at": [round(v, 1) for v in feet[-1]],
        "path": [[round(v, 1) for v in f] for f in feet],
    }


def write(path: Path, frames: list[np.ndarray], rate: Fraction) -> None:
    """H.264 at the scene's rate, one encoder thread so the bytes do not depend on scheduling."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast", "threads": "1"}
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
