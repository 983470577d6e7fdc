"""The fault rules: conditions on one analysed frame, and hysteresis over time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scenewatch.config.health import HealthConfig
from scenewatch.health.measures import SCALARS, TILE_COLS, TILE_ROWS, Measures

_I = {name: i for i, name in enumerate(SCALARS)}
_N_TILES = TILE_ROWS * TILE_COLS
_TILE_MEAN = slice(len(SCALARS), len(SCALARS) + _N_TILES)
_TILE_DETAIL = slice(len(SCALARS) + _N_TILES, len(SCALARS) + 2 * _N_TILES)


def lost_tiles(m: Measures, ref: np.ndarray, defocused: bool) -> np.ndarray:
    """Tiles whose view is lost: detail gone, or changed to something smooth (an out-of-focus object
    close to the lens: a hand, a bag, paint). Both figures are normalised by the frame's own
    brightness and contrast, so a global exposure change loses no tiles. When the whole view is
    ``defocused`` lost detail says nothing about a cover; only changed tiles count."""
    base_mean, base_detail = ref[_TILE_MEAN], ref[_TILE_DETAIL]
    ratio = m.tile_detail / np.maximum(base_detail, 1e-3)
    textured = base_detail > 0.5
    # Relative to the typical tile: a defocus softens every tile alike, a cover only some.
    typical = float(np.median(ratio[textured])) if textured.any() else 1.0
    detail_gone = textured & (ratio < 0.35) & (ratio < 0.4 * typical) & (not defocused)
    smooth_change = (np.abs(m.tile_mean - base_mean) > 0.15) & (
        m.tile_detail < np.maximum(0.6 * base_detail, 0.9)
    )
    return detail_gone | smooth_change


def conditions(
    m: Measures, ref: np.ndarray | None, own_bucket: bool, cfg: HealthConfig
) -> dict[str, tuple[bool, dict]]:
    """Which image faults this frame shows, each with the figures that decided it.

    ``ref`` is the learned baseline row (None while learning): without it only the absolute rules
    run. ``own_bucket`` says the baseline is this time of day's own; exposure and colour are only
    compared with that, since night differs from day.
    """
    out: dict[str, tuple[bool, dict]] = {}
    loss = m.green or m.contrast < cfg.signal_loss_std
    out["signal_loss"] = (loss, {"std": round(m.contrast, 2), "green": m.green})
    if loss:
        # Nothing else can be judged on a blank picture; it is one fault, not six.
        return out
    exposure_ref = ref if own_bucket else None

    def base(name: str) -> float:
        """The reference's value of ``name`` (only called once a reference is known)."""
        assert exposure_ref is not None
        return float(exposure_ref[_I[name]])

    b = base("brightness") if exposure_ref is not None else None
    dark = m.brightness < cfg.dark_floor or (b is not None and m.brightness < cfg.dark_ratio * b)
    out["too_dark"] = (dark, {"brightness": round(m.brightness, 1), "baseline": b})

    over = m.sat_frac >= cfg.overexposed_fraction and m.brightness >= cfg.overexposed_min_brightness
    if b is not None and not over:
        # Relative: much brighter than usual with a clearly larger blown-out share.
        over = m.brightness > b + 60 and m.sat_frac > base("sat_frac") + cfg.overexposed_fraction
    out["overexposed"] = (over, {"saturated": round(m.sat_frac, 3), "brightness": round(m.brightness, 1)})

    # Contrast relative to brightness (coefficient of variation): fog lowers it, darkening does not.
    cv = m.contrast / (m.brightness + 10.0)
    low = m.contrast < cfg.low_contrast_floor
    if b is not None:
        base_cv = base("contrast") / (b + 10.0)
        low = low or cv < cfg.low_contrast_ratio * base_cv
    out["low_contrast"] = (low and not over, {"cv": round(cv, 3), "std": round(m.contrast, 1)})

    cast_abs = float(np.hypot(m.rg, m.by))
    cast = cast_abs > cfg.colour_cast_absolute
    shift = None
    if exposure_ref is not None:
        shift = float(np.hypot(m.rg - base("rg"), m.by - base("by")))
        cast = cast or shift > cfg.colour_cast_delta
    out["colour_cast"] = (cast, {"rg": round(m.rg, 3), "by": round(m.by, 3), "shift": shift})

    if ref is None:
        return out
    # Exposure that changed from the learned normal hides detail; a camera that is always bright
    # (a window view) keeps its other checks.
    exposure_bad = dark or (over and m.brightness > float(ref[_I["brightness"]]) + 25.0)

    noise_base = float(ref[_I["noise"]])
    noisy = m.noise > max(cfg.noise_ratio * noise_base, noise_base + cfg.noise_min_increase)
    out["noise"] = (noisy, {"noise": round(m.noise, 2), "baseline": round(noise_base, 2)})

    sharp_base = float(ref[_I["sharpness"]])
    soft = m.sharpness < cfg.blur_ratio * sharp_base
    lost = lost_tiles(m, ref, defocused=soft)
    frac = float(lost.mean())
    # A cover leaves the rest of the view sharp; a view soft all over is blurred, not covered.
    covered = frac >= cfg.covered_fraction and not exposure_bad and not soft
    out["covered"] = (covered, {"fraction": round(frac, 3), "tiles": np.flatnonzero(lost).tolist()})

    # Noise adds false detail and bad exposure removes real detail: neither is a focus problem.
    blurred = soft and not (noisy or exposure_bad or covered)
    out["blurred"] = (blurred, {"sharpness": round(m.sharpness, 3), "baseline": round(sharp_base, 3)})
    return out


def frozen_condition(m: Measures, ref: np.ndarray | None, cfg: HealthConfig) -> tuple[bool, dict]:
    """No change at all between analysed frames on a camera whose picture normally changes."""
    if np.isnan(m.diff):
        return False, {}
    activity = None if ref is None else float(ref[_I["diff"]])
    should_change = activity is None or activity > cfg.frozen_min_activity
    return (m.diff <= cfg.frozen_diff and should_change), {"diff": round(m.diff, 3), "baseline": activity}


@dataclass(slots=True)
class Hysteresis:
    """Raise after a condition has held ``raise_after`` seconds, clear after it has been gone
    ``clear_after`` seconds. ``update`` returns 'raised', 'cleared' or None."""

    raise_after: float
    clear_after: float
    active: bool = False
    pending_since: float | None = None  # condition true since (not yet raised)
    absent_since: float | None = None  # condition false since (while raised)
    since: float | None = None  # start of the active fault

    def update(self, t: float, condition: bool) -> str | None:
        if not self.active:
            if not condition:
                self.pending_since = None
                return None
            if self.pending_since is None:
                self.pending_since = t
            if t - self.pending_since >= self.raise_after:
                self.active, self.since, self.absent_since = True, self.pending_since, None
                self.pending_since = None
                return "raised"
            return None
        if condition:
            self.absent_since = None
            return None
        if self.absent_since is None:
            self.absent_since = t
        if t - self.absent_since >= self.clear_after:
            self.active = False
            return "cleared"
        return None

    @property
    def started(self) -> float:
        """When the active fault began (read only once ``update`` said 'raised')."""
        assert self.since is not None, "no fault was raised"
        return self.since

    @property
    def ended(self) -> float:
        """When the condition went away (read only once ``update`` said 'cleared')."""
        assert self.absent_since is not None, "no fault was cleared"
        return self.absent_since

    @property
    def busy(self) -> bool:
        """Raised or about to be: such samples must not be learned as normal."""
        return self.active or self.pending_since is not None

    def shift(self, offset: float) -> None:
        """Move the stored times (after a clock jump the monitor re-bases its clock)."""
        for name in ("pending_since", "absent_since", "since"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, value + offset)
