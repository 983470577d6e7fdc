"""Rules and detectors are plugins declared once: the config's choices are built from their lists,
a rule runs on its ``Context`` alone, and the layers point one way (config never imports rules;
``rules/`` has no import loop)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import scenewatch
from scenewatch.config import AppConfig, load_config
from scenewatch.config.camera import CameraConfig
from scenewatch.config.rules import RULE_CONFIGS, RULE_TYPES, IntrusionRule, rule_type
from scenewatch.errors import ConfigError
from scenewatch.rules.base import Context, Scene
from scenewatch.rules.engine import RULES
from scenewatch.rules.history import TrackHistory
from scenewatch.rules.zone_rules import Intrusion
from scenewatch.rules.zones import ZoneMembership
from scenewatch.types import Detections, Frame
from scenewatch.vision.detector_types import DETECTORS, PLUGINS

PACKAGE = Path(scenewatch.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` names in an import, also under ``TYPE_CHECKING`` or in a function:
    a loop through a type-only import is still two modules that each need the other."""
    found: set[str] = set()
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else module_name(path)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                ).strip(".")
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def find_loop(graph: dict[str, set[str]]) -> list[str] | None:
    """One import loop of ``graph`` as the modules along it, or None."""
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (loop := visit(nxt, [*path, nxt])):
                return loop
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state and (loop := visit(start, [start])):
            return loop
    return None


def test_config_imports_nothing_from_rules():
    for path in sorted((PACKAGE / "config").glob("*.py")):
        upward = sorted(m for m in imports_of(path) if m.startswith("scenewatch.rules"))
        assert not upward, f"{path.name} imports {upward}: config is below rules"


def test_rules_package_has_no_import_loop():
    modules = {module_name(p): p for p in (PACKAGE / "rules").glob("*.py")}
    graph = {name: imports_of(path) & set(modules) - {name} for name, path in modules.items()}
    assert find_loop(graph) is None, " -> ".join(find_loop(graph) or [])


def test_find_loop_finds_a_loop():
    assert find_loop({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_loop({"a": {"b"}, "b": set()}) is None


def test_each_module_imports_alone():
    """Each rules, config and detector module imported first in a fresh interpreter: a loop that
    only works in one import order fails here; the config lists detectors without loading ONNX."""
    names = sorted(
        module_name(p) for folder in ("rules", "config") for p in (PACKAGE / folder).glob("*.py")
    ) + ["scenewatch.geometry", "scenewatch.vision.detector_types"]
    script = (
        "import importlib, sys\n"
        "for name in sys.argv[1:]:\n"
        "    for loaded in [m for m in sys.modules if m.startswith('scenewatch')]:\n"
        "        del sys.modules[loaded]\n"
        "    importlib.import_module(name)\n"
        "for loaded in [m for m in sys.modules if m.startswith('scenewatch')]:\n"
        "    del sys.modules[loaded]\n"
        "importlib.import_module('scenewatch.config')\n"
        "assert 'onnxruntime' not in sys.modules, 'the config loaded ONNX Runtime'\n"
    )
    done = subprocess.run([sys.executable, "-c", script, *names], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_every_rule_type_is_declared_once_and_has_its_behaviour():
    assert tuple(rule_type(config) for config in RULE_CONFIGS) == RULE_TYPES
    assert len(set(RULE_TYPES)) == len(RULE_TYPES)
    # Every type but standing searches (which judge finished tracks) runs a frame rule.
    assert set(RULES) == set(RULE_TYPES) - {"search"}
    for name, behaviour in RULES.items():
        assert behaviour.config_type in RULE_CONFIGS and rule_type(behaviour.config_type) == name
    schema = CameraConfig.model_json_schema()
    mapping = schema["properties"]["rules"]["items"]["discriminator"]["mapping"]
    assert sorted(mapping) == sorted(RULE_TYPES)


def test_an_unknown_rule_type_names_every_choice_with_its_line(tmp_path):
    path = tmp_path / "cams.yaml"
    path.write_text(
        "cameras:\n  - name: gate\n    source: {url: gate.mp4}\n    rules:\n      - {type: tailgating}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert f"{path}:5: cameras[0].rules[0]: Input tag 'tailgating'" in message
    assert all(f"'{name}'" in message for name in RULE_TYPES)


def test_detector_choices_come_from_the_plugin_list(tmp_path):
    assert list(DETECTORS) == [cls.name for cls in PLUGINS]
    assert len({cls.model_file for cls in PLUGINS}) == len(PLUGINS)
    field = AppConfig.model_json_schema()["$defs"]["DetectorConfig"]["properties"]["type"]
    assert field["enum"] == list(DETECTORS)
    assert all(f"{cls.name} ({cls.summary})" in field["description"] for cls in PLUGINS)
    for name in DETECTORS:
        path = tmp_path / f"{name}.yaml"
        path.write_text(f"detector:\n  type: {name}\n")
        assert load_config(path).detector.type == name
    path = tmp_path / "bad.yaml"
    path.write_text("detector:\n  type: yolo\n")
    with pytest.raises(
        ConfigError, match=r"bad.yaml:2: detector.type: Input should be 'centernet' or 'nanodet'"
    ):
        load_config(path)


def test_a_rule_runs_on_its_context_without_an_engine():
    """The seam: a rule needs its config and each frame's ``Context`` (with the camera's ``Scene``)."""
    square = np.array([[0, 0], [100, 0], [100, 100], [0, 100]], dtype=float)
    zone = ZoneMembership(square, inertia=2)
    scene = Scene(camera="gate", zones={"yard": zone}, lines={}, directions={}, history=TrackHistory())
    rule = Intrusion(IntrusionRule.model_validate({"type": "intrusion", "zone": "yard", "cooldown_s": 0}))
    image = np.zeros((120, 120, 3), np.uint8)
    events = []
    for index, (box, finished) in enumerate(
        [([40, 20, 60, 50], {}), ([40, 20, 60, 50], {}), (None, {7: 2.0})]
    ):
        now = float(index)
        tracked = Detections(
            [box] if box else np.zeros((0, 4)), [0.9] * bool(box), [0] * bool(box), [7] * bool(box)
        )
        masks = {"yard": zone.trigger(tracked, now)}
        ctx = Context(
            Frame(image, "gate", index, now, now), tracked, masks, {"yard": {}}, {}, {}, scene, finished
        )
        events += rule.update(ctx)
    assert [(e.camera, e.rule, e.start, e.end) for e in events] == [
        ("gate", "intrusion-yard", 0.0, None),
        ("gate", "intrusion-yard", 0.0, 2.0),
    ]
    assert events[0].snapshot is not None and events[0].snapshot.shape == image.shape
