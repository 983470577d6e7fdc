"""The data folder: the embedded SQLite database and the media files, opened together."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from scenewatch.errors import SceneWatchError
from scenewatch.store.db import open_engine, sqlite_url
from scenewatch.store.media import MediaStore


@dataclass
class DataStore:
    root: Path
    engine: Engine
    media: MediaStore

    @classmethod
    def open(cls, root: Path, create: bool = True, database_url: str | None = None) -> DataStore:
        """Open (and with ``create``, make) the data folder; the schema is migrated to this version."""
        root = Path(root)
        database_url = database_url or os.environ.get("SCENEWATCH_DATABASE_URL")
        if database_url is None and not (root / "scenewatch.db").exists() and not create:
            raise SceneWatchError(
                f"no SceneWatch database in {root}",
                "index a video or run cameras first, or pick the folder with --data",
            )
        if create:  # with PostgreSQL too: the folder holds the media, the secret key and checkpoints
            try:
                root.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise SceneWatchError(f"cannot create data folder {root}: {exc.strerror}") from None
        database_url = database_url or sqlite_url(root)
        return cls(root=root, engine=open_engine(database_url), media=MediaStore(root / "media"))
