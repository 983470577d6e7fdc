"""Per-track attributes for search: colours per body part, carried items, posture, motion, zones."""

from pydantic import Field, field_validator

from scenewatch.config.base import Section


class AttributesConfig(Section):
    enabled: bool = Field(True, description="Describe each finished track (colours, items, posture, motion).")
    crops: int = Field(
        3, ge=1, le=8, description="Best views kept per track; pose runs on each of them once."
    )
    crop_gap_s: float = Field(
        1.0, ge=0.0, description="Kept views are at least this many seconds apart, so they differ."
    )
    pose: bool = Field(True, description="Locate body parts with the pose model; off: box proportions only.")
    pose_size: int = Field(
        192, ge=64, le=512, description="Pose model input side in pixels (multiple of 32)."
    )
    item_score: float = Field(
        0.15, ge=0.0, le=1.0, description="Least detector score for a bag/umbrella sighting to count."
    )
    item_report_score: float = Field(
        0.3, ge=0.0, le=1.0, description="A carried item is reported only if some sighting scored this much."
    )

    @field_validator("pose_size")
    @classmethod
    def _multiple_of_32(cls, value: int) -> int:
        if value % 32:
            raise ValueError("pose_size must be a multiple of 32")
        return value
