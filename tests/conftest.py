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

needs_shared_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"team footage not found at {DATA}")


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
