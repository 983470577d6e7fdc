"""`scenewatch index|run|serve`: the commands that analyse footage, and the server beside them."""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from scenewatch.cli_common import data_dir, load_settings, open_store, progress_printer

if TYPE_CHECKING:
    from scenewatch.runtime.metrics import MetricsRegistry


def add_index_command(commands: argparse._SubParsersAction) -> None:
    index = commands.add_parser("index", help="analyse a video file as fast as the machine allows")
    index.add_argument("video", help="the video file, or a stream URL to read until it ends")
    index.add_argument("--camera", required=True, help="camera name to file the results under")
    index.add_argument("--config", type=Path, help="YAML config (detector, tracker settings)")
    index.add_argument("--detect-fps", type=float, help="run the detector at most N times a second")
    index.add_argument("--json", action="store_true", help="print the summary as JSON")
    index.set_defaults(handler=cmd_index)


def add_run_command(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser("run", help="watch the configured cameras continuously")
    run.add_argument("--config", type=Path, help="YAML config (default: the sample footage as a camera)")
    run.add_argument("--duration", type=float, help="stop after this many seconds")
    _add_metrics_port(run)
    run.set_defaults(handler=cmd_run)


def add_serve_command(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser("serve", help="run the cameras and the web UI / API server together")
    serve.add_argument(
        "--config", type=Path, help="YAML config (default: data/scenewatch.yaml, else the sample footage)"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    serve.add_argument("--no-pipeline", action="store_true", help="serve recorded data only; analyse nothing")
    serve.add_argument(
        "--pipeline-thread",
        action="store_true",
        help="run the cameras in threads of the server process rather than a process of their own "
        "(less memory; the API answers slower while they work)",
    )
    serve.add_argument(
        "--pipeline-nice",
        type=int,
        choices=range(20),  # lowering only: raising a priority needs privileges
        default=0,
        metavar="N",
        help="CPU niceness added to the cameras' process, as nice(1) (default 0): above 0 the API "
        "is served first and the cameras take the rest of the cores",
    )
    serve.add_argument("--secure-cookies", action="store_true", help="mark cookies Secure (behind TLS)")
    _add_metrics_port(serve)
    serve.set_defaults(handler=cmd_serve, default_log_level="info")
    from scenewatch.central.cli import add_serve_options

    add_serve_options(serve)  # --central, --database-url, --tls-cert/--tls-key


def cmd_index(args: argparse.Namespace) -> int:
    from scenewatch.pipeline import index_file

    settings = load_settings(args.config)
    store = open_store(args)
    result = index_file(
        store,
        settings,
        args.video,
        args.camera,
        detect_fps=args.detect_fps,
        progress=None if args.json else progress_printer(),
    )
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print(result.describe())
    return 1 if result.status == "truncated" else 0


def cmd_run(args: argparse.Namespace) -> int:
    from scenewatch.central.settings import load_with_central
    from scenewatch.pipeline import default_config, run_cameras

    settings, central = load_with_central(args.config)
    settings = settings or default_config()
    store = open_store(args)
    edge = None
    if central.role == "edge":  # ship results to the central; analysis never waits on it
        from scenewatch.central.edge import EdgeNode

        edge = EdgeNode(store, central).start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    names = ", ".join(c.name for c in settings.cameras)
    print(f"watching {len(settings.cameras)} camera(s): {names}; data in {store.root}; Ctrl-C stops")
    metrics = _start_metrics(args.metrics_port)
    try:
        results = run_cameras(
            store, settings, stop, duration=args.duration, progress=progress_printer(), metrics=metrics
        )
    finally:
        if edge is not None:
            edge.stop()
    for result in results:
        print(result.describe())
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from scenewatch.api.serve import resolve_config, serve

    if args.central:
        from scenewatch.central.cli import cmd_serve_central

        return cmd_serve_central(args, data_dir(args))
    settings, config_path = resolve_config(args.config, data_dir(args))
    store = open_store(args)
    metrics = _start_metrics(args.metrics_port)
    serve(
        store,
        settings,
        config_path,
        args.host,
        args.port,
        not args.no_pipeline,
        args.secure_cookies,
        metrics=metrics,
        pipeline_thread=args.pipeline_thread,
        pipeline_nice=args.pipeline_nice,
    )
    return 0


def _add_metrics_port(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--metrics-port",
        type=int,
        help="serve per-camera metrics at http://127.0.0.1:N/metrics (Prometheus; a port of its own: "
        "scrapers have no user session)",
    )


def _start_metrics(port: int | None) -> MetricsRegistry | None:
    """The per-camera figures, exported for Prometheus on ``port``; None without a port."""
    if port is None:
        return None
    from scenewatch.runtime.exporter import serve_metrics
    from scenewatch.runtime.metrics import MetricsRegistry

    metrics = MetricsRegistry()
    server = serve_metrics(metrics, port)
    print(f"metrics at http://127.0.0.1:{server.server_port}/metrics", flush=True)
    return metrics
