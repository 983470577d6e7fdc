"""Per-track attributes for search: colours per body part, carried items, posture, vehicle type,
motion and zones, computed once per track from its best crops (see ``describer``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from scenewatch.config.attributes import AttributesConfig
from scenewatch.models import ModelStore
from scenewatch.vision.attributes.describer import AttributeDescriber, Polygon


def camera_zones(camera: object | None) -> dict[str, Polygon]:
    """Zones of a camera config as name -> polygon, whatever shape the config gives them:
    a mapping of polygons, or a list of zone objects with a name and points/coordinates."""
    zones = getattr(camera, "zones", None) if camera is not None else None
    if not zones:
        return {}
    items: Iterable[tuple[str, Any]]
    if isinstance(zones, Mapping):
        items = zones.items()
    else:
        items = ((getattr(z, "name", str(i)), z) for i, z in enumerate(zones))
    out: dict[str, Polygon] = {}
    for name, zone in items:
        polygon = zone
        for attr in ("points", "coordinates", "polygon"):
            if hasattr(zone, attr):
                polygon = getattr(zone, attr)
                break
        if isinstance(polygon, Mapping):
            polygon = polygon.get("points") or polygon.get("coordinates") or polygon.get("polygon") or []
        out[str(name)] = [tuple(p) for p in polygon]
    return out


def build_describer(
    settings: object, camera: object | None, models: ModelStore | None = None
) -> AttributeDescriber | None:
    """The configured describer for one camera, or None when attributes are switched off."""
    config = getattr(settings, "attributes", None) or AttributesConfig()
    if not config.enabled:
        return None
    return AttributeDescriber(
        models,
        camera_zones(camera),
        crops=config.crops,
        crop_gap_s=config.crop_gap_s,
        use_pose=config.pose,
        pose_size=config.pose_size,
        item_score=config.item_score,
        item_report_score=config.item_report_score,
        encoders=_encoders(settings),
    )


def _encoders(settings: object):
    """The shared CLIP-style encoders when the config has an ``embeddings`` section."""
    embeddings = getattr(settings, "embeddings", None)
    if embeddings is None:
        return None
    from scenewatch.vision.clip_encoder import open_encoders

    return open_encoders(embeddings)


__all__ = ["AttributeDescriber", "AttributesConfig", "build_describer", "camera_zones"]
