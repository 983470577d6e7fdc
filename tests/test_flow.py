"""The flow's structure and its parts alone: layers point down, functions stay small, plain
``detect_fps`` sampling is a plan like the capacity path's, and a run ends its row whatever happens."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import TREE, needs_models, needs_samples
from sqlalchemy import select

from scenewatch.flow.detect import FixedRatePlanner
from scenewatch.types import Frame

PACKAGE = Path(__file__).resolve().parent.parent / "scenewatch"


def _imports(path: Path) -> set[str]:
    """The scenewatch modules ``path`` imports, at any depth of its code."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("scenewatch"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("scenewatch"))
    return found


def _module(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)


# a lower layer never imports these higher ones
FORBIDDEN = {
    "scenewatch.store.writer": ("scenewatch.search", "scenewatch.runtime", "scenewatch.flow"),
    "scenewatch.vision": ("scenewatch.store", "scenewatch.search", "scenewatch.flow", "scenewatch.runtime"),
    "scenewatch.tracking": (
        "scenewatch.store",
        "scenewatch.search",
        "scenewatch.flow",
        "scenewatch.vision.attributes",
    ),
    "scenewatch.runtime": ("scenewatch.flow", "scenewatch.pipeline", "scenewatch.store.writer"),
    "scenewatch.search": ("scenewatch.flow", "scenewatch.pipeline", "scenewatch.store.writer"),
    "scenewatch.rules": ("scenewatch.flow", "scenewatch.pipeline", "scenewatch.store.writer"),
}


def test_layers_point_down():
    """A frame's walk and a finished track's walk to its search index never come back up."""
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module(path)
        for lower, higher in FORBIDDEN.items():
            if module == lower or module.startswith(lower + "."):
                wrong += [f"{module} -> {i}" for i in _imports(path) if i.startswith(higher)]
    assert wrong == []


def test_flow_modules_and_functions_stay_small():
    """No module of the flow over 400 lines, no function in it over 60."""
    paths = [*(PACKAGE / "flow").glob("*.py"), PACKAGE / "pipeline.py", PACKAGE / "store" / "writer.py"]
    too_long = []
    for path in paths:
        text = path.read_text()
        if text.count("\n") > 400:
            too_long.append(f"{path.name}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > 60:
                    too_long.append(f"{path.name}:{node.name}: {lines} lines")
    assert too_long == []


def _frame(i: int, pts: float) -> Frame:
    return Frame(np.zeros((4, 4, 3), np.uint8), "cam", i, 1000.0 + pts, pts)


@pytest.mark.parametrize("source_fps, detect_fps", [(25.0, 5.0), (10.0, 3.0), (30.0, 7.5), (10.0, None)])
def test_fixed_rate_detects_the_first_frame_of_each_slot(source_fps, detect_fps):
    planner = FixedRatePlanner(detect_fps)
    times = [i / source_fps for i in range(100)]
    kinds = [planner.plan(_frame(i, t)).kind for i, t in enumerate(times)]
    assert set(kinds) <= {"full", "skip"}
    detected = [t for t, kind in zip(times, kinds, strict=True) if kind == "full"]
    if detect_fps is None:
        assert len(detected) == len(times)
        return
    slots = [math.floor(t * detect_fps + 1e-6) for t in detected]
    assert slots == sorted(set(slots))  # one detection a slot, never two
    assert len(detected) == len({math.floor(t * detect_fps + 1e-6) for t in times})  # every slot


def test_fixed_rate_ignores_a_jitter_back_and_restarts_on_a_loop():
    planner = FixedRatePlanner(5.0)
    assert planner.plan(_frame(0, 1.0)).kind == "full"
    assert planner.plan(_frame(1, 0.95)).kind == "skip"  # a timestamp one slot back: jitter
    assert planner.plan(_frame(2, 1.2)).kind == "full"
    assert planner.plan(_frame(3, 0.0)).kind == "full"  # the file looped: time went far back


class FailingAfter:
    """The real detector, until the ``n``-th frame: then it fails as a broken session would."""

    def __init__(self, detector, n: int):
        self.detector, self.n, self.calls = detector, n, 0

    def detect_one(self, image):
        self.calls += 1
        if self.calls > self.n:
            raise RuntimeError("session lost")
        return self.detector.detect_one(image)


@needs_samples
@needs_models
def test_a_failing_detector_ends_the_run_as_failed_and_keeps_the_tracks(tmp_path):
    from scenewatch.config import AppConfig
    from scenewatch.pipeline import build_detector, index_file
    from scenewatch.store.data import DataStore
    from scenewatch.store.schema import runs, tracks

    settings = AppConfig.model_validate({"detector": {"type": "nanodet", "classes": ["person"]}})
    store = DataStore.open(tmp_path / "data")
    detector = FailingAfter(build_detector(settings), 40)
    with pytest.raises(RuntimeError, match="session lost"):
        index_file(store, settings, TREE, "window", detector=detector)
    with store.engine.connect() as conn:
        run = conn.execute(select(runs.c.status, runs.c.frames_decoded, runs.c.note)).one()
        open_tracks = conn.execute(select(tracks.c.id).where(tracks.c.finished.is_(False))).all()
    assert run.status == "failed" and run.note == "RuntimeError: session lost"
    assert run.frames_decoded == 41  # the frame that failed counts as decoded
    assert open_tracks == []  # every track was finished when the run ended
