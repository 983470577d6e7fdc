"""COCO-80 class names in the detectors' index order."""

from functools import cache
from importlib import resources

from scenewatch.errors import ConfigError


@cache
def coco_names() -> tuple[str, ...]:
    text = resources.files("scenewatch.vision").joinpath("coco80.txt").read_text()
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def class_id(name: str) -> int:
    """The COCO index of ``name``; a clear error lists what is allowed."""
    names = coco_names()
    try:
        return names.index(name)
    except ValueError:
        raise ConfigError(
            f"unknown object class {name!r}", f"use one of the COCO classes: {', '.join(names)}"
        ) from None


def class_name(index: int) -> str:
    return coco_names()[int(index)]
