"""``AttributeDescriber``: computes a track's attributes once (the finishing stage's ``TrackDescriber``).

Per frame it only keeps the best few crops of each track and counts carried items; when the
track ends it runs pose on those crops (at most ``crops`` per track, small input) and names
colours per body part, posture, vehicle type, motion and zones. The stored JSON::

    {"class": "person", "class_conf": 0.9,
     "colours": {"head": {...}, "upper": {...}, "lower": {...}},   # vehicles: {"body": {...}}
     "shades": {"upper": {"light": .., "dark": .., "blue:light": .., "blue:dark": ..}, ...},
     "headwear": {"covered": .., "hood": .., "hat": ..}, "bag_signs": {"hip": .., "strap": .., "place:back": ..},
     "carried": {"backpack": 0.7}, "bag_colours": {"black": 0.6},   # the boxed bag, else the hip patch
     "posture": {"standing": 0.9, "sitting": 0.05, "lying": 0.05},
     "facing": -0.4,                       # shoulder order where the pose allows: > 0 front, < 0 back
     "vehicle_type": {"car": 0.8, "van": 0.2},                        # vehicles only
     "motion": {"speed_px_s": .., "speed_h_s": .., "heading": "left", "moving_fraction": ..,
                "stopped_s": .., "dwell_s": .., "running": ..},
     "zones": ["gate"], "crops": 3}

Colour distributions map the basic colour terms to shares (3 decimals; terms under 0.001
left out). Camera, start and end are the track row's own columns.

Layers: attributes come after tracking in the flow (tracks -> attributes -> search index): this
module imports tracking's types and vision's tools, never the store or the search index;
``scenewatch.flow.finish`` calls it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from scenewatch.config.embeddings import VECTOR_KEY
from scenewatch.errors import SceneWatchError
from scenewatch.models import ModelStore
from scenewatch.tracking import FinishedTrack, TrackSummary
from scenewatch.types import Detections, Frame
from scenewatch.vision.attributes.bag_place import carry_signs
from scenewatch.vision.attributes.carried import BAGS, CarriedItems, bag_colours, bag_evidence
from scenewatch.vision.attributes.crops import Crop, CropBook
from scenewatch.vision.attributes.head import headwear
from scenewatch.vision.attributes.looks import View, look_groups, mean_looks, mix, shades, strongest
from scenewatch.vision.attributes.motion import describe_motion, facing
from scenewatch.vision.attributes.parts import box_masks, pose_masks, posture
from scenewatch.vision.attributes.vehicle import (
    TWO_WHEELERS,
    Provisional,
    VehicleSizes,
    body_colours,
    corrected_class,
    cut_off,
    vehicle_confidence,
    vehicle_type,
)
from scenewatch.vision.attributes.zones import zones_visited
from scenewatch.vision.clip_encoder import ClipEncoders
from scenewatch.vision.colours import ColourReading, describe_colours
from scenewatch.vision.constancy import WhiteBalance
from scenewatch.vision.labels import class_name
from scenewatch.vision.pose import PoseEstimator

VEHICLES = ("car", "bus", "truck", "motorcycle", "bicycle")
Polygon = Sequence[Sequence[float]]
STALE_S = 300.0  # tracks unseen this long are forgotten (e.g. dropped by the finisher)


def _box_iou(a: np.ndarray, b: np.ndarray) -> float:
    inter = np.prod(np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None))
    union = np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter
    return float(inter / union) if union > 0 else 0.0


class AttributeDescriber:
    """Attributes of each finished track from its best crops, its boxes and the raw detections.

    ``zones``: name -> polygon (pixel points) for the ``zones`` attribute. ``pose``: a ready
    estimator, else one is opened from ``models`` when ``use_pose``; without one (or if the model
    is missing) body parts come from box proportions.
    """

    def __init__(
        self,
        models: ModelStore | None = None,
        zones: Mapping[str, Polygon] | None = None,
        crops: int = 3,
        crop_gap_s: float = 1.0,
        use_pose: bool = True,
        pose_size: int = 192,
        item_score: float = 0.15,
        item_report_score: float = 0.3,
        pose: PoseEstimator | None = None,
        threads: int = 1,
        encoders: ClipEncoders | None = None,
    ):
        self.zones = dict(zones or {})
        self.encoders = encoders  # the user's CLIP-style image encoder: a vector per track
        self.crops = CropBook(crops, crop_gap_s)
        self.items = CarriedItems(item_score, item_report_score)
        self.balance = WhiteBalance()  # this camera's tint, learned from its frames
        self.pose = pose
        if self.pose is None and use_pose:
            try:
                path = (models or ModelStore()).path("movenet-multipose.onnx")
                self.pose = PoseEstimator(path, size=pose_size, threads=threads)
            except SceneWatchError:
                self.pose = None  # colours from box proportions rather than no attributes at all
        self.last_seen: dict[int, float] = {}
        self._frames = 0
        self.sizes = VehicleSizes()  # this camera's car sizes (from its finished tracks), for vehicle types
        self.provisional = Provisional(self.sizes)  # recent vehicles, typed again as it learns
        self.frame_size: tuple[int, int] | None = None

    # -- per frame -----------------------------------------------------------------------------

    def observe(self, frame: Frame, tracked: Detections, raw: Detections) -> None:
        self.crops.observe(frame, tracked)
        self.items.observe(tracked, raw)
        self.frame_size = frame.width, frame.height
        self.balance.observe(frame.image)
        for track_id in tracked.track_ids.tolist():
            self.last_seen[track_id] = frame.timestamp
        self._frames += 1
        if self._frames % 200 == 0:
            keep = {i for i, t in self.last_seen.items() if frame.timestamp - t < STALE_S}
            self.last_seen = {i: self.last_seen[i] for i in keep}
            self.crops.discard(keep)
            self.items.discard(keep)

    # -- per track -----------------------------------------------------------------------------

    def describe(self, track: FinishedTrack, summary: TrackSummary) -> dict | None:
        return self.detach(track, summary)()

    def detach(self, track: FinishedTrack, summary: TrackSummary) -> Description:
        """Take what describing ``track`` needs out of the per-frame state (cheap; in the camera's
        thread); the returned job computes the attributes later, in any thread."""
        crops = self.crops.pop(track.track_id)
        weak = self.items.weak(track.track_id)
        carried = self.items.pop(track.track_id)
        place = self.items.pop_place(track.track_id)
        self.last_seen.pop(track.track_id, None)
        voted = summary.class_id if summary.class_votes else track.class_id
        if self.frame_size is not None and class_name(voted) == "car":  # in the order tracks end
            self.sizes.add_track(track.xyxy, *self.frame_size, track.track_id)
        return Description(self, track, summary, crops, carried, place, weak)

    def retype(self, final: bool = False) -> dict[int, dict]:
        """Vehicles typed again against the camera's cars since seen (twice as many as when
        typed; all of them when ``final``): tracker id -> ``class`` and ``vehicle_type``."""
        if self.frame_size is None:
            return {}
        return self.provisional.retype(*self.frame_size, final)

    def attributes(
        self,
        track: FinishedTrack,
        summary: TrackSummary,
        crops: list[Crop],
        carried: dict,
        use_pose: bool = True,
        bag_place: np.ndarray | None = None,
        weak: dict[str, float] | None = None,
    ) -> dict:
        """The attributes JSON of ``track`` from its kept ``crops`` (best first) and carried items
        (``bag_place``: where its bags sat on the body, for their colour; ``weak``: items boxed
        only weakly, kept as bag signs ``box:<item>``)."""
        votes = summary.class_votes
        cls_id = summary.class_id if votes else track.class_id
        cls = class_name(cls_id)
        share = votes[cls_id] / max(sum(votes.values()), 1) if votes else 1.0
        feet = np.stack([(track.xyxy[:, 0] + track.xyxy[:, 2]) / 2, track.xyxy[:, 3]], axis=1)
        out: dict = {
            "class": cls,
            "class_conf": round(float(share * np.mean(track.scores)), 3),
            "colours": {},
            "carried": {},
            "posture": {},
            "motion": describe_motion(track.times, track.xyxy, person=cls == "person"),
            "zones": zones_visited(feet, self.zones),
            "crops": len(crops),
        }
        if cls == "person":
            out.update(self.person_looks(crops, use_pose))
            out["carried"] = carried
            out.update(self.bag_facts(crops, carried, weak or {}, bag_place, out.get("bag_signs", {})))
        elif cls in VEHICLES:
            relative = None
            if self.frame_size is not None and cls not in TWO_WHEELERS:
                relative = self.sizes.relative(track.xyxy, *self.frame_size, track.track_id)
                self.provisional.note(track.track_id, track.xyxy, cls)
            cls = out["class"] = corrected_class(cls, relative)
            if votes:
                share = sum(n for c, n in votes.items() if class_name(c) in VEHICLES) / max(
                    sum(votes.values()), 1
                )
            out["class_conf"] = vehicle_confidence(share, float(np.mean(track.scores)))
            out["colours"] = {"body": self.vehicle_colours(crops, cls)}
            if relative is not None:
                out["vehicle_type"] = vehicle_type(cls, track.xyxy[0], relative=relative)
            else:
                types = [vehicle_type(cls, c.box, cut_off(c.box, c.image.shape)) for c in crops]
                out["vehicle_type"] = mix(types, [1.0] * len(crops))
        if self.encoders is not None and crops:  # split off before storing (flow.finish)
            images, quality = [c.image for c in crops], [c.quality for c in crops]
            out[VECTOR_KEY] = self.encoders.track_vector(images, quality)
        return out

    def keypoints(self, crop: Crop) -> np.ndarray | None:
        """Keypoints of the pose that is this crop's person (best box overlap), or None."""
        if self.pose is None or min(crop.image.shape[:2]) < 8:
            return None
        poses = self.pose.estimate(crop.image, min_score=0.15)
        if not poses:
            return None
        overlaps = [_box_iou(p.box, crop.box) for p in poses]
        best = int(np.argmax(overlaps))
        return poses[best].keypoints if overlaps[best] >= 0.3 else None

    def person(self, crops: list[Crop], use_pose: bool = True) -> tuple[dict, dict]:
        """Colours per part and posture (see :meth:`person_looks`)."""
        looks = self.person_looks(crops, use_pose)
        return looks["colours"], looks["posture"]

    def person_looks(self, crops: list[Crop], use_pose: bool = True) -> dict:
        """Colours and shades per part, posture, headwear and bag signs (with the colour of a bag
        at the hip), averaged over the crops (weighted by view quality), on colours corrected by
        the camera's white balance. All but colours and posture need the pose.

        A tracker identity switch leaves one track whose best views show two people: averaged,
        they describe neither (a white hood at a third of its strength). Views whose clothes
        disagree on both parts are told apart as looks (:func:`look_groups`); each look is
        averaged on its own and the track keeps every fact at its strongest look, so a search
        finds either person in it."""
        views = [self.view(crop, use_pose) for crop in crops]
        groups = look_groups([v.colours for v in views])
        looks = [mean_looks([views[i] for i in group]) for group in groups]
        out = looks[0] if len(looks) == 1 else strongest(looks)
        out["posture"] = mix([v.posture for v in views], [v.weight for v in views])
        if faced := [(v.facing, v.weight) for v in views if v.facing is not None]:
            lead, weights = zip(*faced, strict=True)  # a heading cue: front or back to the camera
            out["facing"] = round(float(np.average(lead, weights=weights)), 3)
        return out

    def view(self, crop: Crop, use_pose: bool) -> View:
        """What one crop shows: colours, shades, headwear and bag signs (the last two need the pose)."""
        kp = self.keypoints(crop) if use_pose else None
        image = self.balance.apply(crop.image)
        shape = image.shape
        masks = pose_masks(shape, crop.box, kp) if kp is not None else box_masks(shape, crop.box)
        view = View(weight=max(crop.quality, 1e-6), posture=posture(crop.box, kp))
        readings: dict[str, ColourReading] = {}
        for part, mask in masks.items():
            n = int(mask.sum())
            if n:
                readings[part] = describe_colours(image, mask, crop.lightness)
                view.colours[part] = readings[part].shares
                view.shades[part] = shades(readings[part])
                view.part_weight[part] = crop.quality * np.sqrt(n)
        if kp is not None:
            upper = readings["upper"].shares if "upper" in readings else {}
            view.head = headwear(image, crop.box, kp, crop.lightness, upper)
            view.facing = facing(kp, crop.box)
            view.bags, view.bag_colours = bag_evidence(image, crop.box, kp, masks, crop.lightness)
        return view

    def bag_facts(
        self,
        crops: list[Crop],
        carried: dict,
        weak: dict[str, float],
        place: np.ndarray | None,
        signs: dict[str, float],
    ) -> dict:
        """``bag_signs`` (the looks' ``signs``, weakly boxed items as ``box:<item>`` and where the
        boxed bags sat, :func:`carry_signs`) and the boxed bag's ``bag_colours``."""
        out: dict = {}
        boxed = {**weak, **carried}
        signs = {**signs, **{f"box:{k}": v for k, v in weak.items()}}
        strength = max((v for k, v in boxed.items() if k in BAGS), default=0.0)
        if place is not None and strength > 0:
            signs.update(carry_signs(place, strength))
        if signs:
            out["bag_signs"] = signs
        if bags := self.bag_colours(crops, boxed, place):
            out["bag_colours"] = bags
        return out

    def bag_colours(self, crops: list[Crop], carried: dict, place: np.ndarray | None) -> dict[str, float]:
        """The colours of the track's boxed bag (``carried`` names one) where it sat on the body."""
        if place is None or not any(k in BAGS for k in carried):
            return {}
        found = [bag_colours(self.balance.apply(c.image), c.box, place, c.lightness) for c in crops]
        return mix(found, [max(c.quality, 1e-6) for c in crops])

    def vehicle_colours(self, crops: list[Crop], cls: str) -> dict[str, float]:
        dists = [body_colours(c.image, c.box, cls, c.lightness, self.balance) for c in crops]
        return mix(dists, [max(c.quality, 1e-6) for c in crops])


class Description:
    """One finished track's description, detached from the describer's per-frame state: safe to
    run in another thread (``scenewatch.runtime.describe``). ``lighten`` makes it cheap: the best few
    crops and body parts from box proportions (for an overflowing queue)."""

    __slots__ = ("bag_place", "carried", "crops", "describer", "summary", "track", "use_pose", "weak")

    def __init__(
        self,
        describer: AttributeDescriber,
        track: FinishedTrack,
        summary: TrackSummary,
        crops: list[Crop],
        carried: dict,
        bag_place: np.ndarray | None = None,
        weak: dict[str, float] | None = None,
    ):
        self.describer = describer
        self.bag_place, self.weak = bag_place, weak
        self.track = track
        self.summary = summary
        self.crops = crops
        self.carried = carried
        self.use_pose = True

    def lighten(self, crops: int = 1) -> None:
        self.crops = self.crops[:crops]
        self.use_pose = False

    def __call__(self) -> dict:
        return self.describer.attributes(
            self.track, self.summary, self.crops, self.carried, self.use_pose, self.bag_place, self.weak
        )
