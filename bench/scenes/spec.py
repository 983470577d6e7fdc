"""The composite scenes: which real clip, which real object (source frame and box: a detector box on
that frame with no other object in it, scenes looked at by eye on rendered frames), what it is made
to do and for how long. Durations are drawn from each scene's seed, far from the rule's threshold either way.

Split written down before any scene ran through the pipeline: dev = highway-a, highway-b, vtest-a
(vtest.avi 0-40 s); test = highway-c (the freeway's second half: other cars, other places) and
vtest-b (vtest.avi 40-79 s) and walkway (another clip, another camera). Nothing is tuned on test.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

BENCH = Path(__file__).resolve().parent.parent
VIDEO = Path(os.environ.get("SCENEWATCH_SHARED", BENCH.parent.parent / "shared")) / "data" / "video"

STOP_S = 5.0  # the stopped-vehicle rule's time_s on these scenes
DOWN_S = 3.0  # the person-down rule's time_s here (default 5 s): the walkway clip is 13 s long
# kind -> (an event expected, shortest, longest): how long the object is held, seconds, drawn per
# scene seed.
HOLDS = {
    "stop": (True, STOP_S + 2.0, STOP_S + 4.0),  # stopped well past the rule's time
    "pause": (False, 1.5, STOP_S - 2.0),  # a short stop: no event
    "down": (True, DOWN_S + 2.0, DOWN_S + 4.0),  # falls and stays down
    "stumble": (False, 1.0, DOWN_S - 1.5),  # falls and is gone soon (removed, not seen getting up)
    "squat": (False, DOWN_S + 2.0, DOWN_S + 4.0),  # drops low fast, torso upright: crouching
    "stand": (False, DOWN_S + 2.0, DOWN_S + 4.0),  # stops and stands still
}
FAMILY = {"stop": "stopped_vehicle", "pause": "stopped_vehicle"}


@dataclass(frozen=True)
class Act:
    """One real object made to do something from source frame ``frame`` (where it is in ``box``)."""

    kind: str
    frame: int
    box: tuple[int, int, int, int]
    side: int = 1  # a fall lays the head to the right (1) or the left (-1)

    @property
    def family(self) -> str:
        return FAMILY.get(self.kind, "person_down")


@dataclass(frozen=True)
class Scene:
    name: str
    split: str
    clip: str
    start: int  # first source frame used
    end: int  # one past the last
    step: int  # every step-th source frame is kept
    seed: int
    acts: tuple[Act, ...]
    zone: list[list[int]] | None = None  # the no-stopping zone, None for person scenes
    camera: dict = field(default_factory=dict)  # detector/tracker settings the view needs

    def holds(self) -> list[float]:
        """Seconds each act is held, drawn from the scene's seed."""
        rng = np.random.default_rng(self.seed)
        return [round(float(rng.uniform(*HOLDS[a.kind][1:])), 2) for a in self.acts]


def _highway() -> dict[str, Any]:
    label = json.loads((BENCH / "labels" / "traffic_highway_twoway.json").read_text())
    zone = next(z["polygon"] for z in label["zones"] if z["name"] == "near_carriageway")
    return {"clip": "traffic_highway_twoway.mp4", "step": 3, "zone": zone, "camera": label["camera"]}


HIGHWAY = _highway()
VTEST: dict[str, Any] = {"clip": "vtest.avi", "step": 1}
WALKWAY: dict[str, Any] = {"clip": "pedestrians_walkway_elevated.mp4", "step": 2}

SCENES = [
    Scene("highway-a", "dev", start=0, end=540, seed=1, **HIGHWAY, acts=(
        Act("stop", 60, (426, 182, 502, 253)),
        Act("stop", 105, (319, 119, 366, 164)),
        Act("pause", 120, (312, 205, 371, 275)),
        Act("stop", 240, (247, 100, 286, 138)),
        Act("pause", 285, (403, 108, 454, 161)),
    )),
    Scene("highway-b", "dev", start=0, end=540, seed=2, **HIGHWAY, acts=(
        Act("stop", 60, (320, 133, 364, 175)),
        Act("pause", 90, (326, 51, 349, 69)),  # short, and beyond the zone's far end
        Act("stop", 210, (231, 161, 283, 217)),
        Act("stop", 285, (403, 108, 454, 161)),
    )),
    Scene("highway-c", "test", start=495, end=984, seed=3, **HIGHWAY, acts=(
        Act("stop", 525, (389, 96, 427, 129)),
        Act("stop", 645, (219, 149, 274, 197)),
        Act("pause", 675, (414, 153, 482, 214)),
        Act("stop", 705, (246, 106, 287, 146)),
        Act("stop", 765, (403, 158, 464, 214)),
        Act("pause", 855, (85, 179, 180, 250)),
    )),
    Scene("vtest-a", "dev", start=0, end=400, seed=4, **VTEST, acts=(
        Act("down", 20, (441, 233, 476, 315)),
        Act("squat", 60, (613, 230, 652, 343)),
        Act("down", 110, (616, 141, 647, 215)),
        Act("stand", 140, (511, 194, 554, 268)),
        Act("down", 190, (277, 204, 312, 283)),
        Act("stumble", 250, (376, 231, 421, 325)),
        Act("down", 300, (312, 215, 346, 293)),
    )),
    Scene("vtest-b", "test", start=400, end=795, seed=5, **VTEST, acts=(
        Act("down", 400, (691, 302, 738, 406), side=-1),
        Act("down", 440, (299, 210, 320, 289), side=-1),
        Act("stand", 490, (357, 195, 386, 271)),
        Act("down", 590, (342, 319, 386, 436)),
        Act("down", 680, (151, 331, 202, 449)),
        Act("stumble", 720, (130, 181, 160, 256)),
        Act("squat", 760, (240, 240, 274, 327)),
    )),
    Scene("walkway", "test", start=0, end=312, seed=6, **WALKWAY, acts=(
        Act("down", 72, (42, 267, 93, 359)),
        Act("stumble", 108, (330, 29, 364, 102)),
        Act("down", 132, (250, 183, 294, 259)),
    )),
]  # fmt: skip
