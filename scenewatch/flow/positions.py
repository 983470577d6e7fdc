"""Where each file camera got to: the last analysed frame (index, position in the file) with the
file it belongs to, kept in the store's site settings so that a restarted camera, or the next
process, goes on from there instead of analysing the file again."""

from __future__ import annotations

import threading

from sqlalchemy import Engine

from scenewatch.store import repo

KEY = "file_positions"
_lock = threading.Lock()  # the cameras' threads update one row

Resume = tuple[str, tuple[int, float]]  # a file camera's url, and its last analysed frame


def load(engine: Engine) -> dict[str, Resume]:
    """Every file camera's last position: name -> (url, (index, seconds into the file))."""
    stored = repo.get_setting(engine, KEY, {})
    return {name: (p["url"], (int(p["index"]), float(p["position"]))) for name, p in stored.items()}


def save(engine: Engine, camera: str, resume: Resume) -> None:
    """Keep ``camera``'s position (replacing the one it had)."""
    url, (index, position) = resume
    with _lock:
        stored = repo.get_setting(engine, KEY, {})
        value = {**stored, camera: {"url": url, "index": index, "position": round(position, 6)}}
        repo.set_setting(engine, KEY, value, "pipeline")
