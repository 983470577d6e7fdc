"""Every object detector a config may name, by its ``name``: the one list of detector plugins.

A new detector is a module with a :class:`~scenewatch.vision.detector.Detector` subclass (its
``name``, ``model_file`` and ``summary``) and its entry in ``PLUGINS``; the config's
``detector.type`` choices and their description are built from this list. The plugins need only
the foundation (frames, errors), so the config can read them and no detector reads the config.

>>> sorted(DETECTORS)
['centernet', 'nanodet']
>>> describe()
'centernet (more accurate) or nanodet (faster)'
"""

from __future__ import annotations

from scenewatch.vision.centernet import CenterNetDetector
from scenewatch.vision.detector import Detector
from scenewatch.vision.nanodet import NanoDetDetector

PLUGINS: tuple[type[Detector], ...] = (CenterNetDetector, NanoDetDetector)
DETECTORS: dict[str, type[Detector]] = {cls.name: cls for cls in PLUGINS}
DEFAULT = CenterNetDetector.name


def describe() -> str:
    """The choices in words, for the config's description."""
    return " or ".join(f"{cls.name} ({cls.summary})" for cls in PLUGINS)
