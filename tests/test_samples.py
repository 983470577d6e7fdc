"""Where the sample footage is found: the team folder when there is one, else opencv-doc's copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenewatch import models, samples


@pytest.fixture
def places(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """A team folder and an opencv-doc folder of our own, each holding its own vtest.avi."""
    team, debian = tmp_path / "team", tmp_path / "debian"
    (team / "data" / "video").mkdir(parents=True)
    (team / "data" / "video" / "vtest.avi").write_bytes(b"team copy")
    debian.mkdir()
    (debian / "vtest.avi").write_bytes(b"opencv-doc copy")
    (debian / "tree.avi").write_bytes(b"opencv-doc tree")
    monkeypatch.delenv("SCENEWATCH_SAMPLES", raising=False)
    monkeypatch.delenv("SCENEWATCH_MODEL_MIRROR", raising=False)
    monkeypatch.setattr(samples, "DEBIAN_EXAMPLES", debian)
    return team, debian


def test_team_folder_from_the_environment_comes_first(places, monkeypatch):
    team, debian = places
    monkeypatch.setenv("SCENEWATCH_SHARED", str(team))
    assert samples.find_sample("vtest.avi") == (team / "data" / "video" / "vtest.avi").resolve()
    assert samples.find_sample("tree.avi") == debian / "tree.avi"  # not in the team folder


def test_without_the_team_folder_the_installed_footage_is_used(places, monkeypatch, tmp_path):
    """Pointing SCENEWATCH_SHARED at a missing folder shows what a machine without ../shared sees:
    neither the footage nor the model mirror of a ../shared beside the checkout is used."""
    _, debian = places
    monkeypatch.setenv("SCENEWATCH_SHARED", str(tmp_path / "nowhere"))
    assert samples.shared_dirs("data", "video") == []
    assert models.default_mirrors() == []
    assert samples.find_sample("vtest.avi") == debian / "vtest.avi"
    assert samples.find_sample("Megamind.avi") is None
    with pytest.raises(samples.SourceError, match="sample video Megamind.avi not found") as caught:
        samples.sample_video("Megamind.avi")
    assert "apt-get install opencv-doc" in caught.value.hint
