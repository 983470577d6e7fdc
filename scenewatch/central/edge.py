"""An edge node's extras beside the pipeline: the sync thread and the media server."""

from __future__ import annotations

from collections.abc import Callable

from scenewatch.central.media import EdgeMediaServer
from scenewatch.central.sync import EdgeSync
from scenewatch.config.central import CentralConfig
from scenewatch.errors import SceneWatchError
from scenewatch.store.data import DataStore


class EdgeNode:
    """``start()`` before the cameras, ``stop()`` after them; analysis never waits on either."""

    def __init__(self, store: DataStore, config: CentralConfig, say: Callable[[str], None] = print):
        if store.engine.dialect.name != "sqlite":
            raise SceneWatchError(
                "an edge keeps its own SQLite database", "unset SCENEWATCH_DATABASE_URL on the edge"
            )
        self.config = config
        self.say = say
        self.sync = EdgeSync(store, config)
        try:
            self.media = EdgeMediaServer(store, config)
        except OSError as exc:
            raise SceneWatchError(
                f"edge media server cannot listen on {config.media_listen}: {exc.strerror}",
                "pick a free host:port for central.media_listen",
            ) from None

    def start(self) -> EdgeNode:
        self.media.start()
        self.sync.start()
        self.say(
            f"edge {self.config.edge_id} (site {self.config.site}) ships to {self.config.central_url}; "
            f"media at {self.config.public_media_url()}"
        )
        return self

    def stop(self) -> None:
        self.sync.stop()
        self.media.shutdown()
