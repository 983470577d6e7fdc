"""Shared fixtures: where the team's real footage and models are, and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SCENEWATCH_SHARED", ROOT.parent / "shared"))
DATA = SHARED / "data"
VIDEO = DATA / "video"
MOT = DATA / "mot"
IMAGES = DATA / "images"
# CI must have every component and the team data: there a skip is a failure (see the hooks below).
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

needs_shared_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"team footage not found at {DATA}")


def needs(path: Path) -> pytest.MarkDecorator:
    """Skip when a file or folder of the team data is missing (set SCENEWATCH_SHARED)."""
    return pytest.mark.skipif(
        not path.exists(), reason=f"team data not found: {path} (set SCENEWATCH_SHARED)"
    )


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
