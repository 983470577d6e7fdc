"""A real uvicorn server for a bench, on a free local port, in a thread of the bench's process."""

from __future__ import annotations

import threading
import time


def serve(app):
    """(server, thread, base URL) of ``app`` served on 127.0.0.1; stops the bench if it does not
    start within 60 s. Stop it with ``server.should_exit = True`` and ``thread.join()``."""
    import uvicorn

    from scenewatch.central.pg import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        raise SystemExit("the server did not start within 60 s")
    return server, thread, f"http://127.0.0.1:{port}"
