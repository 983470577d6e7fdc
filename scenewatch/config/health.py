"""Camera health checks: how often to look, what counts as a fault, how long before raising it.

Absolute thresholds catch what is bad on any camera (a black or green picture, a blown-out view);
relative thresholds compare with the camera's own learned baseline, so a camera that is always dim
at night is learned as such and not reported as "too dark" forever.
"""

from pydantic import Field, model_validator

from scenewatch.config.base import Section


class HealthConfig(Section):
    # When to look.
    sample_interval_s: float = Field(
        0.5, gt=0.0, le=60.0, description="Analyse at most one frame per this many seconds of frame time."
    )
    analysis_width: int = Field(
        320, ge=64, le=1920, description="Frames are downscaled to this width before measuring."
    )
    moved_interval_s: float = Field(
        2.0,
        gt=0.0,
        description="Compare features with the reference view at most this often (the dearest check: "
        "about 10 ms of CPU a match; a moved view still raises within moved_after_s plus this).",
    )
    # Liveness.
    offline_timeout_s: float = Field(
        3.0,
        gt=0.0,
        description="The source delivering no frame for this long raises 'offline' (backdated to its last frame).",
    )
    lagging_after_s: float = Field(
        3.0,
        gt=0.0,
        description="Analysis this many seconds behind a source that still delivers raises 'lagging' (a warning).",
    )
    lagging_clear_s: float = Field(
        1.0, ge=0.0, description="'lagging' clears once the lag stays below this (less than lagging_after_s)."
    )
    clock_jump_s: float = Field(
        2.0,
        gt=0.0,
        description="A wall-clock step this much larger or smaller than the stream's own pts step is a clock jump.",
    )
    online_window_s: float = Field(
        86400.0, gt=0.0, description="Default window for the online rate in status()."
    )
    # Learning.
    learning_period_s: float = Field(
        20.0,
        ge=0.0,
        description="Frame time spent learning a new camera's baseline before relative checks run.",
    )
    baseline_min_samples: int = Field(
        30, ge=3, description="Samples a baseline (global or time-of-day bucket) needs before it is used."
    )
    baseline_samples: int = Field(
        360, ge=10, description="Samples kept per baseline bucket (a ring: old samples give way to new)."
    )
    baseline_update_interval_s: float = Field(
        5.0, ge=0.0, description="Once learned, keep at most one fault-free sample per this many seconds."
    )
    time_of_day_buckets: int = Field(
        6, ge=1, le=24, description="Day split into this many local-time buckets, each with its own baseline."
    )
    # Hysteresis.
    raise_after_s: float = Field(1.5, ge=0.0, description="A condition must hold this long to raise a fault.")
    clear_after_s: float = Field(
        3.0, ge=0.0, description="A fault clears after its condition is gone this long."
    )
    frozen_after_s: float = Field(2.0, ge=0.0, description="Identical pictures for this long raise 'frozen'.")
    moved_after_s: float = Field(2.0, ge=0.0, description="The view must mismatch the reference this long.")
    # Exposure and colour.
    dark_floor: float = Field(
        10.0, ge=0.0, le=255.0, description="Mean grey below this is too dark on any camera."
    )
    dark_ratio: float = Field(
        0.45, gt=0.0, lt=1.0, description="Mean grey below this fraction of the baseline is too dark."
    )
    overexposed_fraction: float = Field(
        0.10,
        gt=0.0,
        le=1.0,
        description="Share of saturated pixels (>= 250) that makes a bright view overexposed.",
    )
    overexposed_min_brightness: float = Field(
        140.0, ge=0.0, le=255.0, description="Mean grey the view must also exceed to count as overexposed."
    )
    low_contrast_ratio: float = Field(
        0.45,
        gt=0.0,
        lt=1.0,
        description="Contrast (std/mean) below this fraction of the baseline is low contrast.",
    )
    low_contrast_floor: float = Field(
        4.0, ge=0.0, description="Grey std below this is low contrast on any camera."
    )
    colour_cast_delta: float = Field(
        0.06,
        gt=0.0,
        description="Shift of the colour-opponent means from the baseline that is a colour cast.",
    )
    colour_cast_absolute: float = Field(
        0.25,
        gt=0.0,
        description="Colour-opponent magnitude that is a cast on any camera (no baseline needed).",
    )
    # Sharpness, noise, signal.
    blur_ratio: float = Field(
        0.55, gt=0.0, lt=1.0, description="Sharpness below this fraction of the baseline is blurred."
    )
    noise_ratio: float = Field(
        2.5, gt=1.0, description="Noise above this multiple of the baseline is 'noise'."
    )
    noise_min_increase: float = Field(
        2.0, ge=0.0, description="...and at least this many grey levels above it."
    )
    signal_loss_std: float = Field(
        1.5,
        ge=0.0,
        description="A picture flatter than this grey std (or a decoder-green one) is signal loss.",
    )
    frozen_diff: float = Field(
        0.1, ge=0.0, description="Mean grey change between analysed frames at or below this is 'no change'."
    )
    frozen_min_activity: float = Field(
        0.3,
        ge=0.0,
        description="Frozen is only raised on cameras whose baseline change exceeds this (sensor noise).",
    )
    # Tamper.
    covered_fraction: float = Field(
        0.08,
        gt=0.0,
        le=1.0,
        description="Share of the view's tiles lost (turned smooth or changed to something smooth).",
    )
    moved_shift: float = Field(
        0.02,
        gt=0.0,
        description="Reference-view displacement (share of the width, at the corners) that is a move.",
    )
    moved_min_matches: int = Field(
        8,
        ge=4,
        description="Fewer geometric feature matches with the reference than this: view not recognised.",
    )
    fixed_view: bool = Field(
        True, description="The camera should always show the same view; false turns the 'moved' check off."
    )
    scene_cut_similarity: float = Field(
        0.3,
        ge=-1.0,
        le=1.0,
        description="Structure correlation between analysed frames below this is a scene cut.",
    )
    unstable_view_cuts: int = Field(
        3, ge=1, description="This many scene cuts within unstable_view_window_s suspend the 'moved' check."
    )
    unstable_view_window_s: float = Field(60.0, gt=0.0, description="Window for counting scene cuts.")
    moved_relearn_after_s: float = Field(
        3600.0, gt=0.0, description="A view that has stayed moved this long becomes the new reference."
    )
    snapshot_width: int = Field(
        640, ge=0, description="Width of snapshots attached to events (0: full size)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> "HealthConfig":
        if self.offline_timeout_s <= self.sample_interval_s:
            raise ValueError("offline_timeout_s must be longer than sample_interval_s")
        if self.lagging_clear_s >= self.lagging_after_s:
            raise ValueError("lagging_clear_s must be below lagging_after_s (the lag must fall to clear)")
        return self
