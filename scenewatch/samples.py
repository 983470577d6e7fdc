"""Finds the sample footage that smoke checks, tests and demos run on.

Debian's ``opencv-doc`` package ships three clips, so any machine can get them with
``apt-get install opencv-doc`` (``make test`` does): ``vtest.avi`` (PETS 2009, people crossing a
campus road, 768x576, 795 frames), ``tree.avi`` (a window view a hand covers at the end, 320x240,
68 frames) and ``Megamind.avi`` (an animated film trailer with cuts, 720x528, 270 frames).
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from pathlib import Path

from scenewatch.errors import SourceError

DEBIAN_EXAMPLES = Path("/usr/share/doc/opencv-doc/examples/data")
INSTALL_HINT = "run `apt-get install opencv-doc`, or set SCENEWATCH_SAMPLES to a folder holding it"


def project_root() -> Path | None:
    """The source checkout holding this package (the folder with pyproject.toml), if any."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() else None


def shared_dirs(*parts: str) -> list[Path]:
    """``<shared>/<parts>`` for the team folder, if present: ``$SCENEWATCH_SHARED`` when set (so a
    machine without it can be tried out by pointing it elsewhere), else ``../shared`` beside the
    project root and beside the current directory."""
    if os.environ.get("SCENEWATCH_SHARED"):
        bases = [Path(os.environ["SCENEWATCH_SHARED"])]
    else:
        bases = [root.parent / "shared" for root in [project_root()] if root] + [Path.cwd().parent / "shared"]
    found: list[Path] = []
    for base in bases:
        folder = base.joinpath(*parts).resolve()
        if folder.is_dir() and folder not in found:
            found.append(folder)
    return found


def samples_cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "scenewatch" / "samples"


def candidate_dirs() -> list[Path]:
    """Folders searched in order: $SCENEWATCH_SAMPLES, ../shared/data/video, Debian's opencv-doc."""
    dirs = [Path(os.environ["SCENEWATCH_SAMPLES"])] if os.environ.get("SCENEWATCH_SAMPLES") else []
    return dirs + shared_dirs("data", "video") + [DEBIAN_EXAMPLES]


def _gunzip_cached(source: Path, name: str) -> Path:
    """Debian may compress large docs: unpack once into the cache (atomically)."""
    target = samples_cache_dir() / name
    if target.is_file() and target.stat().st_mtime >= source.stat().st_mtime:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{name}.", delete=False) as tmp:
        try:
            with gzip.open(source, "rb") as packed:
                shutil.copyfileobj(packed, tmp)
        except BaseException:
            Path(tmp.name).unlink(missing_ok=True)
            raise
    os.replace(tmp.name, target)
    return target


def find_sample(name: str) -> Path | None:
    """The path of a sample clip (unpacked if Debian compressed it), or None when absent.

    >>> find_sample("no-such-clip.avi") is None
    True
    """
    for folder in candidate_dirs():
        if (folder / name).is_file():
            return folder / name
        if (folder / f"{name}.gz").is_file():
            return _gunzip_cached(folder / f"{name}.gz", name)
    return None


def sample_video(name: str = "vtest.avi") -> Path:
    """The path of a sample clip; a one-line SourceError says how to install it when absent.

    >>> sample_video().name  # doctest: +SKIP
    'vtest.avi'
    """
    found = find_sample(name)
    if found is None:
        dirs = ", ".join(str(d) for d in candidate_dirs())
        raise SourceError(f"sample video {name} not found in {dirs}", INSTALL_HINT)
    return found
