"""``GET /metrics`` in Prometheus text format, served by the standard library on 127.0.0.1.

A stop-gap until the API server exists: ``scenewatch run --metrics-port 9108``.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from scenewatch.runtime.metrics import MetricsRegistry

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def serve_metrics(metrics: MetricsRegistry, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Start serving ``metrics`` in a daemon thread; port 0 picks a free one (``server_port``).
    Call ``shutdown()`` on the returned server to stop."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802  (http.server's naming)
            if self.path.split("?", 1)[0] != "/metrics":
                self.send_error(404, "only /metrics is served here")
                return
            body = metrics.render_prometheus().encode()
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # scrapes every few s: keep quiet
            return

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    return server
