"""Shared fixtures: where the footage (the project's own, the team's) and models are, and a CLI
runner."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scenewatch.models import FETCH_HINT, default_cache_dir
from scenewatch.samples import DEBIAN_EXAMPLES, INSTALL_HINT, find_sample

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SCENEWATCH_SHARED", ROOT.parent / "shared"))
DATA = SHARED / "data"
VIDEO = DATA / "video"
MOT = DATA / "mot"
IMAGES = DATA / "images"
# CI must have every component and the team data: there a skip is a failure (see the hooks below).
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _sample(name: str) -> Path:
    """A clip the project installs itself (opencv-doc), where it would be when missing."""
    return find_sample(name) or DEBIAN_EXAMPLES / name


# Footage every `make test` machine has (scripts/install-system-deps.sh installs opencv-doc), so
# the tests that need just some real video run without the team folder.
VTEST = _sample("vtest.avi")  # 768x576, 795 frames at 10 fps: people crossing a campus road
TREE = _sample("tree.avi")  # 320x240, 68 frames: a window view, a hand covers the lens at the end
MEGAMIND = _sample("Megamind.avi")  # 720x528, 270 frames at ~24 fps, with sound: a film trailer
# The detector and pose models, where `make test` fetches them (`scenewatch models fetch`).
MODELS = default_cache_dir()

needs_samples = pytest.mark.skipif(
    not all(clip.is_file() for clip in (VTEST, TREE, MEGAMIND)),
    reason=f"sample footage (vtest.avi, tree.avi, Megamind.avi) not found: {INSTALL_HINT}",
)
needs_models = pytest.mark.skipif(
    not (MODELS / "nanodet.onnx").is_file(), reason=f"models not found in {MODELS}: {FETCH_HINT}"
)
# The MOTChallenge sequences are judged against their ground truth (or their known content): team
# data the project does not install.
needs_mot = pytest.mark.skipif(
    not MOT.is_dir(),
    reason=f"needs the team's MOTChallenge sequences and ground truth (TUD-Campus, TUD-Stadtmitte, "
    f"gt.txt) at {MOT}: set SCENEWATCH_SHARED to the team folder",
)


def needs(path: Path) -> pytest.MarkDecorator:
    """Skip when a file or folder of the team data is missing (set SCENEWATCH_SHARED)."""
    return pytest.mark.skipif(
        not path.exists(), reason=f"team data not found: {path} (set SCENEWATCH_SHARED)"
    )


@pytest.fixture(scope="session")
def mp4_index_at_end(tmp_path_factory) -> Path:
    """tree.avi re-encoded as an H.264 MP4 whose index (moov) comes after the frames, as FFmpeg
    writes it by default: cut short, such a file has no index at all."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not found (Debian package ffmpeg)")
    if not TREE.is_file():
        pytest.skip(f"sample footage tree.avi not found: {INSTALL_HINT}")
    path = tmp_path_factory.mktemp("made") / "tree.mp4"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(TREE), "-an", "-c:v", "libx264",
         "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )  # fmt: skip
    return path


def cli_path() -> str:
    return str(Path(sys.executable).parent / "scenewatch")


@pytest.fixture
def run_cli(tmp_path):
    """Run the real `scenewatch` command with a throw-away data folder; returns CompletedProcess."""
    data = tmp_path / "data"

    def run(*args: str, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [cli_path(), "--data", str(data), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
        )

    def start(*args: str) -> subprocess.Popen:
        """The same command left running (``scenewatch run`` and the like); the test stops it."""
        return subprocess.Popen(
            [cli_path(), "--data", str(data), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    run.data = data  # type: ignore[attr-defined]
    run.start = start  # type: ignore[attr-defined]
    return run


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests leave files for people to look at (screenshots, overlays); CI prints it."""
    folder = Path(os.environ.get("SCENEWATCH_TEST_ARTIFACTS", ROOT / "test-artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _ci_failure(report, when: str) -> None:
    """Turn a skip into a failure that says what was missing."""
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = f"skipped in CI ({when}): {reason}\nCI must have every component and the team data."


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):  # an expected failure stays one
        _ci_failure(report, report.when)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    report = yield
    if IN_CI and report.skipped:  # a whole module skipped (importorskip, allow_module_level)
        _ci_failure(report, "collection")
    return report


def pytest_collection_modifyitems(config, items):
    """Doctests whose every example is marked +SKIP are illustrations: they test nothing, so
    they are not collected rather than reported as skipped."""
    import doctest

    from _pytest.doctest import DoctestItem

    skip = doctest.OPTIONFLAGS_BY_NAME["SKIP"]
    illustrations = [
        item
        for item in items
        if isinstance(item, DoctestItem)
        and item.dtest is not None
        and all(example.options.get(skip) for example in item.dtest.examples)
    ]
    if illustrations:
        config.hook.pytest_deselected(items=illustrations)
        items[:] = [item for item in items if item not in illustrations]
