"""``GET /metrics`` in Prometheus text format on its own port, bound to 127.0.0.1 by default:
``scenewatch run --metrics-port 9108`` and ``scenewatch serve --metrics-port 9108``.

A port of its own rather than a route of the API: a scraper has no user session to sign in with,
and the figures name every camera, which the API shows only to users granted them.
"""

from __future__ import annotations

from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server

from scenewatch.runtime.metrics import MetricsRegistry


def serve_metrics(metrics: MetricsRegistry, port: int, host: str = "127.0.0.1") -> WSGIServer:
    """Start serving ``metrics`` in a daemon thread; port 0 picks a free one (``server_port``).
    Call ``shutdown()`` on the returned server to stop."""
    server, _thread = start_http_server(port, host, registry=metrics.prometheus)
    return server
