"""Real-time capacity: motion gating, adaptive detection rates, the shared detector pool, decoding.

Off by default, so indexing and existing set-ups behave as before. ``enabled: true`` switches
``scenewatch run`` to the capacity path: motion on a small grey frame gates the detector, each
camera's detection rate follows what it sees, and one pool of detector workers serves all cameras.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from scenewatch.config.base import Section


class CapacityConfig(Section):
    enabled: bool = Field(
        False, description="Use the capacity path (motion gate, adaptive rates, detector pool) in `run`."
    )
    motion_gate: bool = Field(
        True, description="Skip the detector where nothing moves; detect only around motion when it is small."
    )
    motion_width: int = Field(
        160, ge=32, le=640, description="Width in pixels of the grey frame motion is computed on."
    )
    motion_threshold: int = Field(
        18, ge=1, le=255, description="Grey-level difference from the background that counts as motion."
    )
    motion_min_area: float = Field(
        0.0004,
        ge=0.0,
        le=1.0,
        description="Smallest moving blob, as a fraction of the frame area; smaller ones are noise.",
    )
    background_s: float = Field(
        2.0,
        gt=0.0,
        description="Time constant of the background model, seconds: an object that stops is absorbed "
        "into the background after a few of these.",
    )
    crop: bool = Field(
        True,
        description="When motion covers little of the frame, detect on a crop around it (sharper: "
        "the crop is enlarged less) and keep the last detections elsewhere.",
    )
    crop_max_fraction: float = Field(
        0.35,
        gt=0.0,
        le=1.0,
        description="Use the whole frame when the motion crop would exceed this fraction of its area.",
    )
    regions: bool = Field(
        True,
        description="Detect around motion and moving tracks as one mosaic of crops at the detector's input "
        "size (small far objects get more pixels); false: one crop around the motion, as before.",
    )
    region_max_scale: float = Field(
        2.0,
        ge=1.0,
        le=4.0,
        description="Most a region is enlarged in the mosaic (detector pixels a frame pixel).",
    )
    trim_canvas: bool = Field(
        True,
        description="Detect a mosaic on a canvas cut to its tiles (same scale, fewer pixels) where the "
        "detector takes inputs of other sizes (centernet, not under TensorRT); false: always the full input.",
    )
    carry_s: float = Field(
        1.0,
        ge=0.0,
        le=10.0,
        description="Between detections, move the tracks detected within this many seconds along their "
        "motion, so every frame has their positions (tracks, rules, exports); 0: frames between "
        "detections are not tracked.",
    )
    refresh_s: float = Field(
        2.0,
        gt=0.0,
        description="Detect on the whole frame at least this often while objects are tracked and something "
        "moves, so objects outside the regions are found and those that stopped keep their tracks "
        "(keep it below the tracker's lost_timeout).",
    )
    idle_refresh_s: float = Field(
        10.0,
        gt=0.0,
        description="Whole-frame detection at least this often in a still scene, empty or not (the "
        "last detections hold while nothing moves).",
    )
    min_detect_fps: float = Field(
        1.0, gt=0.0, le=60.0, description="Detection rate of an empty scene (motion raises it at once)."
    )
    present_detect_fps: float = Field(
        5.0, gt=0.0, le=60.0, description="Detection rate while objects are present and moving slowly."
    )
    max_detect_fps: float = Field(
        8.0, gt=0.0, le=60.0, description="Detection rate ceiling, reached by fast-moving objects."
    )
    fast_speed: float = Field(
        1.0,
        gt=0.0,
        description="Object speed, in own box heights per second, at which the rate doubles above "
        "present_detect_fps (capped at max_detect_fps).",
    )
    hold_s: float = Field(
        2.0, ge=0.0, description="Seconds the rate stays up after the last object or motion."
    )
    pool_workers: int = Field(
        2,
        ge=1,
        le=16,
        description="Detector worker threads shared by all cameras of this node. On CPU, one "
        "single-threaded session per core gives more detections a second than one session using "
        "all cores (and suffers less when other processes compete for the cores).",
    )
    worker_threads: int = Field(
        0,
        ge=0,
        le=64,
        description="Inference threads per worker; 0 splits the detector's threads among the workers.",
    )
    share_mosaics: bool = Field(
        True,
        description="Detect the waiting region mosaics of several cameras in one inference where their "
        "tiles fit side by side on the detector's input (never below the scale the whole frame gives).",
    )
    # Two: a camera thread briefly busy (tracks ending together) can hand over two frames at once
    # without the first being dropped; lag stays well under a second.
    queue_depth: int = Field(
        2,
        ge=1,
        le=8,
        description="Frames a camera may have waiting for the detector; a newer frame replaces the "
        "oldest (counted as dropped), so a lagging camera stays current.",
    )
    decode_width: int | None = Field(
        None,
        ge=64,
        le=8192,
        description="Decode cameras without their own `width` at most this wide (FFmpeg scales).",
    )
    decode_threads: int = Field(
        1,
        ge=0,
        le=64,
        description="Decoder threads for cameras without their own `threads`; with many cameras one "
        "each is cheapest (0: FFmpeg's automatic choice).",
    )
    health_only: list[str] = Field(
        default_factory=list,
        description="Cameras that only need health checks: no detection; decoders skip non-key frames.",
    )
    report_s: float = Field(
        5.0, gt=0.0, description="Print per-camera metrics this often in `scenewatch run`."
    )

    @model_validator(mode="after")
    def _ordered_rates(self) -> CapacityConfig:
        if not self.min_detect_fps <= self.present_detect_fps <= self.max_detect_fps:
            raise ValueError("need min_detect_fps <= present_detect_fps <= max_detect_fps")
        return self
