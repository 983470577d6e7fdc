"""An ASGI app served by a real uvicorn on 127.0.0.1, in a thread, for in-process tests."""

from __future__ import annotations

import threading
import time

import uvicorn

from scenewatch.central.pg import free_port


class AppServer:
    """``with AppServer(app) as server:`` serves ``app`` (lifespan included) at ``server.url``."""

    def __init__(self, app, what: str = "the app"):
        self.what = what
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> AppServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, f"{self.what} did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *_exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
