"""The hand-made MOT ground truth in bench/labels: gt.txt is what its key-frame file gives, it is
well formed (ids continuous, boxes inside the picture, one box per id and frame), and the walkway's
rule truths (walkway.json) are what that ground truth implies."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
LABELS = ROOT / "bench" / "labels"
sys.path.insert(0, str(LABELS))
from make_mot import ground_truth, problems  # noqa: E402

KEYFRAMES = sorted(LABELS.glob("*_keyframes.json"))


def test_there_is_a_hand_made_ground_truth() -> None:
    names = [p.name for p in KEYFRAMES]
    assert "walkway_keyframes.json" in names and "concourse_keyframes.json" in names


def test_concourse_is_a_crowd_of_small_people_keyed_often() -> None:
    """The concourse dev clip: its first 100 frames, a crowd from above with many people under 60 px
    tall, each walk keyed at least every 12 frames (people standing still may be keyed less often)."""
    label = json.loads((LABELS / "concourse_keyframes.json").read_text())
    assert label["frames"] == 100 and label["size"] == [960, 540]
    gt = ground_truth(label)
    scored = gt[gt[:, 6] == 1]
    assert len(np.unique(scored[:, 1])) >= 40
    small = np.unique(scored[scored[:, 5] < 60, 1])
    assert len(small) >= 15, "people far away (short boxes) are what this clip is for"
    assert (gt[:, 6] == 0).any() and (gt[gt[:, 5] < 15, 6] == 0).all()  # the tiny ones are ignore rows
    for track_id, track in label["tracks"].items():
        keys = np.array(track["keys"], dtype=np.float64)
        gaps = np.diff(keys[:, 0])
        moved = np.abs(np.diff(keys[:, 1:5], axis=0)).max(axis=1)
        assert ((gaps <= 12) | (moved <= 6)).all(), f"track {track_id}: a key frame gap over 12 frames"


def test_the_tracking_bench_scores_the_concourse_on_its_labelled_frames_only() -> None:
    """bench/tracking.py knows the clip as a dev sequence, and rows after the labelled 100 frames
    are not counted as false positives."""
    sys.path.insert(0, str(ROOT / "bench"))
    import tracking

    assert tracking.SEQUENCES["concourse"] == "dev"
    video, truth = tracking.sequence_files("concourse")
    assert video.name == "crowd_concourse.mp4" and truth == LABELS / "concourse" / "gt.txt"
    assert tracking.labelled_frames("concourse") == 100
    assert tracking.labelled_frames("walkway") == 312
    gt = np.loadtxt(truth, delimiter=",", ndmin=2)
    rows = gt[gt[:, 6] == 1][:, :7].copy()
    rows[:, 6] = 1.0
    later = rows[rows[:, 0] <= 20].copy()
    later[:, 0] += 200  # the same boxes long after the labelled part
    perfect = tracking.score_rows(gt[gt[:, 6] == 1][:, :7], rows)
    both = tracking.score_rows(gt[gt[:, 6] == 1][:, :7], np.vstack([rows, later[:, :7]]))
    assert perfect.mota == pytest.approx(1.0) and both.mota < 0.9  # unfiltered they would count
    scores, _ = tracking.score_sequence("concourse", np.vstack([rows, later]))
    assert scores.mota == pytest.approx(1.0) and scores.idf1 == pytest.approx(1.0)


@pytest.mark.parametrize("path", KEYFRAMES, ids=lambda p: p.stem)
def test_gt_txt_is_what_the_key_frames_give_and_well_formed(path: Path) -> None:
    label = json.loads(path.read_text())
    written = np.loadtxt(LABELS / label["sequence"] / "gt.txt", delimiter=",", ndmin=2)
    assert written.shape[1] == 9
    assert problems(written, tuple(label["size"]), label["frames"]) == []
    made = ground_truth(label)
    assert written.shape == made.shape
    np.testing.assert_allclose(written, made, atol=0.06)  # gt.txt keeps one decimal
    info = (LABELS / label["sequence"] / "seqinfo.ini").read_text()
    assert f"seqLength={label['frames']}" in info and f"imWidth={label['size'][0]}" in info


@pytest.mark.parametrize("path", KEYFRAMES, ids=lambda p: p.stem)
def test_every_key_frame_is_inside_the_clip_and_keys_are_in_order(path: Path) -> None:
    label = json.loads(path.read_text())
    for track_id, track in label["tracks"].items():
        frames = [k[0] for k in track["keys"]]
        assert frames == sorted(set(frames)), f"track {track_id}: key frames repeated or out of order"
        assert frames[0] >= 1 and frames[-1] <= label["frames"], f"track {track_id}"
        assert all(len(k) == 6 and 0 <= k[5] <= 1 for k in track["keys"]), f"track {track_id}"
        assert track["class"] in (1, 2, 8), f"track {track_id}: class {track['class']}"


def test_the_checks_catch_a_broken_label_file() -> None:
    gt = np.array(
        [
            [1, 1, 10, 10, 20, 40, 1, 1, 1.0],
            [2, 1, 12, 10, 20, 40, 1, 1, 1.0],
            [4, 1, 14, 10, 20, 40, 1, 1, 1.0],  # id 1 skips frame 3
            [2, 2, 630, 10, 20, 40, 1, 1, 1.0],  # leaves a 640-wide picture
            [2, 3, 50, 50, 20, 40, 1, 1, 1.0],
            [2, 3, 55, 50, 20, 40, 1, 1, 1.0],  # id 3 twice in frame 2
            [9, 4, 50, 50, 20, 40, 1, 1, 1.5],  # frame past the end, visibility above 1
        ]
    )
    found = problems(gt, (640, 360), 8)
    assert any("id 1 has gaps" in p for p in found)
    assert any("id 2" in p and "not inside 640x360" in p for p in found)
    assert any("id 3 appears more than once in frame 2" in p for p in found)
    assert any("frame 9 outside 1-8" in p for p in found)
    assert any("visibility 1.5" in p for p in found)
    assert problems(gt[:2], (640, 360), 8) == []


def test_walkway_rule_truths_are_what_the_ground_truth_implies(monkeypatch: pytest.MonkeyPatch) -> None:
    """walkway.json (read by bench/rules.py --walkway) is derived from gt.txt, not edited apart,
    and the rule engine fed the ground-truth tracks raises exactly those events."""
    sys.path.insert(0, str(ROOT / "bench"))
    import make_rule_truth
    import rules as bench_rules

    monkeypatch.setattr(bench_rules, "FPS", bench_rules.FPS)  # clip_label sets the clip's rate
    label, truth, config, tracks = make_rule_truth.clip_label()
    assert label == json.loads((LABELS / "walkway.json").read_text())
    families = {e["rule"].split("-")[0] for e in label["events"]}
    assert families == {"intrusion", "loitering", "line_crossing", "crowd"}
    found = bench_rules.engine_on_gt(config, tracks, tuple(label["size"]))
    matched = bench_rules.match(truth, [bench_rules.as_found(e) for e in found])
    for name, family in matched.items():
        assert family["hit"] == family["truth"] == family["found"], name
