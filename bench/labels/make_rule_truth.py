"""Rule truths for the walkway clip from its hand-made MOT ground truth (bench/labels/walkway/gt.txt).

Run: ``.venv/bin/python bench/labels/make_rule_truth.py`` writes ``bench/labels/walkway.json``, the
clip label ``bench/rules.py --walkway`` reads, and prints the rule engine's result on the
ground-truth tracks (a sanity check: it must be perfect).

The zones, lines and crowd area below were drawn from the ground truth alone (where people walk,
how long they stay, how many are on the walkway at once) before the clip first ran through the
pipeline; every rule is a test rule, never tuned on. The expected events come from the same code
that derives the MOTChallenge scenes' truths in ``bench/rules.py`` (OpenCV point tests and
per-track loops, independent of the rule engine): entries into each zone, loitering over the time
below, crossings of each line with their direction, and the crowd count held for 1 s.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import rules as bench  # noqa: E402

from scenewatch.config.camera import CameraConfig  # noqa: E402

KEYFRAMES = HERE / "walkway_keyframes.json"
OUT = HERE / "walkway.json"

# The walkway runs from the top right (far) to the bottom left (near). Zones: three bands across it
# by height on screen; lines: two verticals every walk crosses; crowd: the whole walkway.
SPEC = {
    "zones": [
        {"name": "far", "polygon": [[250, 0], [640, 0], [640, 110], [250, 110]], "inertia": bench.INERTIA},
        {
            "name": "middle",
            "polygon": [[120, 110], [640, 110], [640, 210], [120, 210]],
            "inertia": bench.INERTIA,
        },
        {"name": "near", "polygon": [[0, 210], [640, 210], [640, 360], [0, 360]], "inertia": bench.INERTIA},
    ],
    "lines": bench.walls([200, 330], 0, 360),
    "loiter_s": 3.2,
    "crowd": [bench.crowd_zone("walkway", 0, 640, 0, 360, [4, 5])],
}
HOW = (
    "Events derived by bench/labels/make_rule_truth.py from the hand-made MOT ground truth "
    "(walkway/gt.txt, made from walkway_keyframes.json) with bench/rules.py's truth code: zone "
    "entries (feet inside, 3-frame inertia), loitering over {loiter}s, crossings of the vertical "
    "lines with direction (2-frame inertia), crowd counts {counts} held 1 s."
)


def clip_label() -> tuple[dict, list[dict], CameraConfig, dict]:
    """(the clip label bench/rules.py reads, the expected events as derived, the camera config,
    the ground-truth tracks) from walkway/gt.txt and ``SPEC``."""
    keyframes = json.loads(KEYFRAMES.read_text())
    bench.FPS = float(keyframes["fps"])  # the truth code and engine_on_gt step in this clip's frames
    tracks = bench.load_gt(HERE / keyframes["sequence"] / "gt.txt")
    truth = bench.expected_events(tracks, SPEC)
    config = bench.camera_config("walkway", SPEC, bench.DATA / keyframes["clip"])
    rules = [
        r.model_dump(mode="json", exclude_defaults=True) | {"name": r.name, "type": r.type}
        for r in config.rules
    ]
    events = []
    for t in sorted(truth, key=lambda t: (t["rule"], t["start"])):
        event = {"rule": t["rule"], "time": round(float(t["start"]), 3), "end": round(float(t["end"]), 3)}
        if t.get("at") is not None:
            event["at"] = [round(float(v), 1) for v in t["at"]]
        if t.get("direction"):
            event["direction"] = t["direction"]
        events.append(event)
    label = {
        "clip": keyframes["clip"],
        "size": keyframes["size"],
        "how": HOW.format(loiter=SPEC["loiter_s"], counts=SPEC["crowd"][0]["counts"]),
        "zones": SPEC["zones"] + [c["zone"] for c in SPEC["crowd"]],
        "lines": SPEC["lines"],
        "rules": [],
        "test_rules": rules,
        "test_how": "drawn from the ground truth alone before the clip first ran through the pipeline; never tuned on",
        "events": events,
    }
    return label, truth, config, tracks


def main() -> None:
    label, truth, config, tracks = clip_label()
    found = bench.engine_on_gt(config, tracks, tuple(label["size"]))
    on_gt = bench.match(truth, [bench.as_found(e) for e in found])
    bench.report("walkway: rule engine on the ground-truth tracks (sanity, must be perfect)", on_gt)
    OUT.write_text(json.dumps(label, indent=1) + "\n")
    families: dict[str, int] = {}
    for e in label["events"]:
        families[e["rule"].split("-")[0]] = families.get(e["rule"].split("-")[0], 0) + 1
    print(f"\n{len(label['events'])} expected events {families} -> {OUT}")


if __name__ == "__main__":
    main()
