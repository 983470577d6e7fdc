"""Media files beside the database: thumbnails now, snapshots and clips later.

Paths stored in the database are relative to the media folder, so a data folder can move.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import cv2
import numpy as np


class MediaStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def thumbnail_path(self, camera: str, run_id: int, tracker_id: int) -> str:
        """Known before the track has a database id, so the file can land before the row."""
        return f"thumbnails/{camera}/run{run_id}/{tracker_id // 1000:04d}/{tracker_id}.jpg"

    def absolute(self, relative: str) -> Path:
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"media path {relative!r} leaves the media folder")
        return path

    def write_jpeg(self, relative: str, image: np.ndarray, quality: int = 88) -> Path:
        """Write atomically: a reader never sees half a file, a crash leaves the old one."""
        path = self.absolute(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise ValueError(f"cannot encode {relative} as JPEG")
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(encoded.tobytes())
        os.replace(tmp, path)
        return path
