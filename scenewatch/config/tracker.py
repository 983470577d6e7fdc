"""How detections become tracks: association thresholds, motion noise, birth, death, finishing.

Times are in seconds, not frames, so the same values hold when only every Nth frame is detected.
The defaults were tuned with ``bench/tracking.py`` on TUD-Stadtmitte and TUD-Campus (centernet).
"""

from pydantic import Field, field_validator, model_validator

from scenewatch.config.base import Section
from scenewatch.vision.labels import class_id

# Classes the detector confuses with each other; a track may switch among them but never leave its group.
DEFAULT_CLASS_GROUPS = [["person"], ["bicycle", "motorcycle"], ["car", "bus", "truck", "train"]]
# Evidence and static background defaults, chosen on the dev clips (bench/tracking.py says which).
STATIC_MOTION = 0.10
# MoveNet's person score on the crop of a detection: 0.00-0.09 for vtest.avi's stone, a bollard and a
# van's corner, 0.25-0.65 for visible people (vtest.avi and TUD-Campus, the dev clips).
STATIC_POSE_SCORE = 0.2
# Appearance cue defaults, chosen on TUD-Campus (dev) at full rate and at 5 detections a second.
APPEARANCE_WEIGHT = 0.5
JOIN_SIMILARITY = 0.7
JOIN_SPEED = 1.0
# Below this colour similarity a box is another person, not a look that changed: chosen on the dev
# clips (vtest.avi's switch behind a passer-by at 0.46; no running match on TUD-Campus or the
# concourse under 0.6).
SWITCH_SIMILARITY = 0.5
# Sparse detection defaults, chosen on the dev clips (TUD-Campus, vtest.avi) at 3-5 detections a second.
MATCH_COST_PER_S = 0.5
MATCH_COST_S = 0.4
JOIN_WINDOW_S = 1.0
# Chosen on TUD-Campus (dev) at 3-5 detections a second from 0.15, 0.3, 0.5, 1 and none.
SIZE_MEMORY_S = 0.3
# Chosen on TUD-Campus (dev, 5 detections a second, 8 start frames) from 0.2-0.8 (alike), 1.5 and none.
TENTATIVE_LOST_S = 0.5


class TrackerConfig(Section):
    high_score: float = Field(
        0.35,
        ge=0.0,
        le=1.0,
        description="Detections at or above this score take part in the first association.",
    )
    low_score: float = Field(
        0.3,
        ge=0.0,
        le=1.0,
        description="Detections between this and high_score only extend tracks already running (ByteTrack's "
        "second stage); below it they are ignored.",
    )
    new_track_score: float = Field(
        0.4, ge=0.0, le=1.0, description="Minimum score of an unmatched detection to start a new track."
    )
    match_cost: float = Field(
        0.9,
        gt=0.0,
        description="Largest cost (1 - IoU + centre-distance term) accepted in the first association.",
    )
    low_match_cost: float = Field(
        0.5, gt=0.0, description="Largest cost accepted when matching low-score detections."
    )
    tentative_match_cost: float = Field(
        1.2,
        gt=0.0,
        description="Largest cost accepted when matching tracks not yet confirmed; loose because a "
        "newborn track has no velocity yet and a fast object sampled sparsely barely overlaps itself.",
    )
    centre_weight: float = Field(
        1.0,
        ge=0.0,
        description="Weight of the squared centre distance (over the enclosing box diagonal) added to "
        "1 - IoU, so near misses of fast or lost objects still match (DIoU).",
    )
    max_size_ratio: float = Field(
        1.8,
        gt=1.0,
        description="A detection whose height differs from the track's by more than this factor never "
        "matches it; scale-free, so it holds for any camera.",
    )
    lost_max_growth: float = Field(
        1.3,
        gt=1.0,
        description="A lost person may be found again in a smaller box (legs hidden behind someone) but "
        "never in one taller than their last box by more than this factor, which is someone else, nearer "
        "the camera or walking in beside where they were lost: neither by a join with a new track nor, "
        "once lost over a second, by matching. Scale-free. People only: a car on a road nears the camera "
        "fast (joins allow it twice its height; matching, max_size_ratio).",
    )
    min_hits: int = Field(
        2, ge=1, description="Matched detections before a new track takes part in full association."
    )
    confirm_detections: int = Field(
        5,
        ge=1,
        description="Evidence: a track counts (is reported, stored, judged by rules) once the median score "
        "of its last this-many detections (at least min_hits of them) reaches its class's confirm_score.",
    )
    confirm_score: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Median detection score a track of a class not in class_confirm_score needs to count "
        "(Frigate's threshold, where new_track_score is its min_score); empty: high_score, so a camera "
        "that lowers high_score for weak but real objects lowers this too. On the dev clips real people "
        "score 0.33-0.45, as weak as a stone, so by default it only demands that a track's evidence is "
        "not mostly second-stage matches.",
    )
    class_confirm_score: dict[str, float] = Field(
        default_factory=dict,
        description="confirm_score per class name, for classes that need more or less evidence, "
        "e.g. {person: 0.5, car: 0.4}.",
    )
    static_classes: list[str] = Field(
        default_factory=lambda: ["person"],
        description="Classes whose tracks are checked for static background (a stone, bin or poster "
        "detected as a person): a track whose box has not moved or "
        "changed shape since it was born is not reported until it does, or, for people, until its crop "
        "shows a person's skeleton (static_pose_score).",
    )
    static_pose_score: float = Field(
        STATIC_POSE_SCORE,
        ge=0.0,
        le=1.0,
        description="Static background: a held person track whose crop shows a person's skeleton with at "
        "least this pose score (MoveNet) counts at once, so someone already standing when first seen is "
        "not held until they shift; 0 turns the pose check off. Checked again at growing intervals "
        "(up to a minute) while the track is held.",
    )
    static_motion: float = Field(
        STATIC_MOTION,
        gt=0.0,
        description="Static background: largest change of a box (centre shift, width or height change) "
        "over the box height that still counts as not moving; a person standing still breathes, sways and "
        "turns, which changes the box by more.",
    )
    lost_timeout: float = Field(
        3.0, gt=0.0, description="Seconds a track survives unmatched (occlusion) before it is finished."
    )
    # Sparse detection (a live camera's few detections a second): chosen with bench/tracking.py's
    # paced mode on the dev clips TUD-Campus (ground truth) and vtest.avi (its full-rate tracks as
    # reference identities), at 3, 4 and 5 detections a second.
    match_cost_per_s: float = Field(
        MATCH_COST_PER_S,
        ge=0.0,
        description="Association: the largest cost a track matched by the previous update accepts grows by "
        "this much per second since that update (up to match_cost_s), for a detection that has no other "
        "candidate track and is the track's only candidate; scale-free (a cost, not pixels), so at a few "
        "detections a second a person who turns or speeds up keeps the track, while in a group, and for "
        "lost tracks, the strict costs hold.",
    )
    tentative_lost_s: float = Field(
        TENTATIVE_LOST_S,
        ge=0.0,
        description="Sparse detection (updates more than 0.15 s apart): seconds a track not yet "
        "established survives without a match, so a person half hidden for one update 0.2 s after "
        "being first seen keeps the track; it is established only by min_hits matches as usual. "
        "Frame by frame a tentative track dies on its first miss. 0: always on the first miss.",
    )
    match_cost_s: float = Field(
        MATCH_COST_S, ge=0.0, description="Association: the most seconds match_cost_per_s counts."
    )
    join_window_s: float = Field(
        JOIN_WINDOW_S,
        ge=0.0,
        description="A newly confirmed track takes over the id of a confirmed track lost at most this many "
        "seconds before it was born when that track is the only one it is within reach of (join_speed), "
        "so one walk stays one track when a few detections in a row missed it; 0 turns it off. Joins "
        "happen before the new track's id is ever reported. With appearance on, joins go by look instead. "
        "Never to a clearly different look with look_veto on.",
    )
    look_veto: bool = Field(
        False,
        description="Colours are read (with the appearance cue off too) to forbid a lost track a box of a "
        "clearly different look (similarity under 0.6), by matching or by a motion join; the box is not "
        "handed to another track. Off by default: measured on 7 Dec 2026 it gave dev TUD-Campus fewer ids "
        "per person at 4 and 5 detections/s but more in live mode (1.38 to 1.75), and TUD-Stadtmitte's "
        "live ids per person did not fall (1.50 to 1.50-1.60).",
    )
    switch_similarity: float = Field(
        SWITCH_SIMILARITY,
        ge=0.0,
        le=1.0,
        description="Colours are read (with the appearance cue off too) so that a confirmed track whose look "
        "is known (3 clean boxes), running or lost, never takes a clean box (confident, no other box over "
        "it) whose look is less alike its own than this, by matching or by a motion join (a join, a guess "
        "from motion alone, as soon as both tracks have one clean box): a person hidden "
        "behind another does not hand their track over. The box is not handed to another track; a look "
        "that changes at once (a jacket taken off) starts a new id. 0 turns it off.",
    )
    # Appearance: motion stays the primary cue; colours only decide where motion cannot (two
    # candidates about as close) and re-join a track lost within lost_timeout, so a person who turns
    # around or walks into shade is never split by them. Defaults chosen on the dev clip TUD-Campus.
    # Off by default: on vtest.avi it put two more pairs of labelled people in one track (4 tracks
    # holding two people, against 2 without) while the labelled TUD and walkway clips did not change.
    appearance: bool = Field(
        False,
        description="Use the colours of each person's upper and lower body (computed on detected frames) "
        "to keep identities through crossings and to re-join a track lost behind an obstacle.",
    )
    appearance_weight: float = Field(
        APPEARANCE_WEIGHT,
        ge=0.0,
        description="Appearance: cost added per unit of colour dissimilarity (1 - Bhattacharyya "
        "coefficient) to the pairs of a track or detection that has more than one candidate within "
        "match_cost; a track with one candidate is matched on motion alone.",
    )
    join_similarity: float = Field(
        JOIN_SIMILARITY,
        ge=0.0,
        le=1.0,
        description="Appearance: a new track takes over the id of a track lost within lost_timeout when "
        "their colours are at least this similar (Bhattacharyya coefficient) and its first box is "
        "within reach of where the lost one went; 1 turns the joins off.",
    )
    join_speed: float = Field(
        JOIN_SPEED,
        gt=0.0,
        description="Joins: the farthest a lost track may have moved off its predicted path, "
        "in its own box heights per second of the gap (plus half a height); bounds the joins to "
        "someone who reappears where the lost person could be.",
    )
    position_noise: float = Field(
        0.1,
        gt=0.0,
        description="Kalman process noise of position, box size fractions per sqrt(second).",
    )
    velocity_noise: float = Field(
        0.3,
        gt=0.0,
        description="Kalman process noise of velocity, box size fractions per second per sqrt(second).",
    )
    measurement_noise: float = Field(
        0.1, gt=0.0, description="Kalman measurement noise, as a fraction of the box size."
    )
    size_memory_s: float = Field(
        SIZE_MEMORY_S,
        ge=0.0,
        description="Sparse detection (updates more than 0.15 s apart): seconds over which a track's "
        "predicted growth or shrinking fades (a box changes size by pose, occlusion and the picture's "
        "edge, which do not go on); at a constant rate a briefly lost box shrank to a sliver no "
        "detection overlapped. Frame by frame the rate is kept. 0: constant always.",
    )
    class_nms_iou: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Boxes of the same class group overlapping more than this are merged before tracking "
        "(the detector often reports a car also as a truck); 1 disables.",
    )
    part_updates: int = Field(
        3,
        ge=0,
        description="A new track whose box holds a running track's box as its nested part (an upper body: "
        "about the same top, most of the width, ending well above the bottom), or lies in one as such a "
        "part, is held back; nested for this many matched updates in a row, the two are one person: the "
        "whole body takes over the part's id, the part goes on silently, and the id passes to the part "
        "while the whole is lost (tracking.parts). 0: off.",
    )
    class_groups: list[list[str]] = Field(
        default_factory=lambda: [list(g) for g in DEFAULT_CLASS_GROUPS],
        description="Classes that may share a track; any class not listed forms a group of its own.",
    )
    max_gap: float = Field(
        1.0,
        ge=0.0,
        description="Finishing: gaps inside a finished track up to this many seconds are filled by "
        "linear interpolation.",
    )
    min_track_hits: int = Field(
        3, ge=1, description="Finishing: tracks with fewer matched detections than this are dropped."
    )

    @property
    def evidence_score(self) -> float:
        """The confirm score of classes without their own: ``confirm_score``, else ``high_score``."""
        return self.high_score if self.confirm_score is None else self.confirm_score

    @field_validator("class_groups")
    @classmethod
    def _known_classes(cls, value: list[list[str]]) -> list[list[str]]:
        seen: set[str] = set()
        for group in value:
            for name in group:
                class_id(name)
                if name in seen:
                    raise ValueError(f"class {name} is in more than one group")
                seen.add(name)
        return value

    @field_validator("class_confirm_score")
    @classmethod
    def _scores_per_known_class(cls, value: dict[str, float]) -> dict[str, float]:
        for name, score in value.items():
            class_id(name)
            if not 0.0 <= score <= 1.0:
                raise ValueError(f"confirm score of {name} must be between 0 and 1; got {score}")
        return value

    @field_validator("static_classes")
    @classmethod
    def _known_static_classes(cls, value: list[str]) -> list[str]:
        for name in value:
            class_id(name)
        return value

    @model_validator(mode="after")
    def _ordered_scores(self) -> "TrackerConfig":
        if not self.low_score <= self.high_score:
            raise ValueError("low_score must not exceed high_score")
        return self
