"""`scenewatch ...`: the command line. Each command is a thin shell over a Python API."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from scenewatch import __version__
from scenewatch.errors import SceneWatchError

DEFAULT_DATA = "data"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    try:
        return args.handler(args) or 0
    except SceneWatchError as exc:
        print(f"scenewatch: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("scenewatch: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scenewatch", description=__doc__)
    parser.add_argument("--version", action="version", version=f"scenewatch {__version__}")
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help=f"data folder for the database and media (default: $SCENEWATCH_DATA or ./{DEFAULT_DATA})",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    models = commands.add_parser("models", help="fetch and check the detector and pose models")
    models_commands = models.add_subparsers(title="models commands", metavar="ACTION", required=True)
    fetch = models_commands.add_parser("fetch", help="put the models into the model cache and verify them")
    fetch.add_argument("--mirror", type=Path, help="a local folder holding the model files")
    fetch.add_argument("--force", action="store_true", help="fetch again even if the cache has them")
    fetch.set_defaults(handler=cmd_models_fetch)
    models_list = models_commands.add_parser("list", help="show the cached models")
    models_list.set_defaults(handler=cmd_models_list)

    index = commands.add_parser("index", help="analyse a video file as fast as the machine allows")
    index.add_argument("video", help="the video file, or a stream URL to read until it ends")
    index.add_argument("--camera", required=True, help="camera name to file the results under")
    index.add_argument("--config", type=Path, help="YAML config (detector, tracker settings)")
    index.add_argument("--detect-fps", type=float, help="run the detector at most N times a second")
    index.add_argument("--json", action="store_true", help="print the summary as JSON")
    index.set_defaults(handler=cmd_index)

    run = commands.add_parser("run", help="watch the configured cameras continuously")
    run.add_argument("--config", type=Path, help="YAML config (default: the sample footage as a camera)")
    run.add_argument("--duration", type=float, help="stop after this many seconds")
    run.set_defaults(handler=cmd_run)

    tracks = commands.add_parser("tracks", help="list or show tracked objects")
    tracks_commands = tracks.add_subparsers(title="tracks commands", metavar="ACTION", required=True)
    tracks_list = tracks_commands.add_parser("list", help="list tracks")
    tracks_list.add_argument("--camera", help="only this camera")
    tracks_list.add_argument("--class", dest="class_name", help="only this class, e.g. person")
    tracks_list.add_argument("--limit", type=int, default=50, help="at most N tracks (default 50)")
    tracks_list.add_argument("--json", action="store_true", help="print JSON")
    tracks_list.set_defaults(handler=cmd_tracks_list)
    tracks_show = tracks_commands.add_parser("show", help="show one track with its boxes")
    tracks_show.add_argument("id", type=int, help="track id")
    tracks_show.add_argument("--json", action="store_true", help="print JSON")
    tracks_show.set_defaults(handler=cmd_tracks_show)

    health = commands.add_parser("health", help="camera health: status, faults and online rates")
    health.add_argument("--window", type=float, default=24.0, help="online-rate window in hours (default 24)")
    health.add_argument("--json", action="store_true", help="print JSON")
    health.set_defaults(handler=cmd_health)

    export = commands.add_parser("export", help="export results")
    export_commands = export.add_subparsers(title="export formats", metavar="FORMAT", required=True)
    mot = export_commands.add_parser(
        "mot", help="MOTChallenge rows frame,id,left,top,width,height,score,-1,-1,-1"
    )
    mot.add_argument("--camera", required=True, help="camera name")
    mot.add_argument("--class", dest="class_name", default="person", help="object class (default person)")
    mot.add_argument("--run", type=int, help="run id (default: the camera's latest)")
    mot.add_argument("-o", "--output", type=Path, required=True, help="output file ('-' for stdout)")
    mot.set_defaults(handler=cmd_export_mot)
    return parser


def data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data or os.environ.get("SCENEWATCH_DATA") or DEFAULT_DATA)


def open_store(args: argparse.Namespace, create: bool = True):
    from scenewatch.store.data import DataStore

    return DataStore.open(data_dir(args), create=create)


def cmd_models_fetch(args: argparse.Namespace) -> int:
    from scenewatch.models import ModelStore

    ModelStore().fetch(mirror=args.mirror, force=args.force, progress=print)
    return 0


def cmd_models_list(args: argparse.Namespace) -> int:
    from scenewatch.models import MODEL_NAMES, ModelStore

    store = ModelStore()
    missing = 0
    for name in MODEL_NAMES:
        path = store.cache_dir / name
        missing += not path.is_file()
        print(f"{name:26s} {path if path.is_file() else 'missing: run `scenewatch models fetch`'}")
    return 1 if missing else 0


def load_settings(path: Path | None):
    from scenewatch.config import AppConfig, load_config

    return load_config(path) if path else AppConfig()


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
        progress=None if args.json else _progress_printer(),
    )
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print(result.describe())
    return 1 if result.status == "truncated" else 0


def cmd_run(args: argparse.Namespace) -> int:
    from scenewatch.pipeline import default_config, run_cameras

    settings = load_settings(args.config) if args.config else default_config()
    store = open_store(args)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    names = ", ".join(c.name for c in settings.cameras)
    print(f"watching {len(settings.cameras)} camera(s): {names}; data in {store.root}; Ctrl-C stops")
    results = run_cameras(store, settings, stop, duration=args.duration, progress=_progress_printer())
    for result in results:
        print(result.describe())
    return 0


def cmd_tracks_list(args: argparse.Namespace) -> int:
    from scenewatch.store import repo

    store = open_store(args, create=False)
    rows = repo.list_tracks(store.engine, camera=args.camera, class_name=args.class_name, limit=args.limit)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    print(f"{'id':>6} {'camera':12s} {'class':10s} {'start (UTC)':19s} {'secs':>6} {'boxes':>6}  thumbnail")
    for row in rows:
        duration = row["last_ts"] - row["first_ts"]
        print(
            f"{row['id']:>6} {row['camera'][:12]:12s} {row['class_name'][:10]:10s} "
            f"{_time(row['first_ts'])} {duration:6.1f} {row['detections']:>6}  {row['thumbnail'] or '-'}"
        )
    return 0


def cmd_tracks_show(args: argparse.Namespace) -> int:
    from scenewatch.store import repo

    store = open_store(args, create=False)
    track = repo.get_track(store.engine, args.id)
    if relative := track.get("thumbnail"):
        track["thumbnail_file"] = str(store.media.absolute(relative))
    if args.json:
        print(json.dumps(track, indent=2, default=str))
        return 0
    print(f"track {track['id']} on camera {track['camera']}: {track['class_name']}")
    print(
        f"  seen {_time(track['first_ts'])} .. {_time(track['last_ts'])} UTC, "
        f"frames {track['first_frame']}..{track['last_frame']}, {track['detections']} detections, "
        f"mean score {track['score']:.2f}"
    )
    print(f"  thumbnail: {track.get('thumbnail_file') or '-'}")
    path = track["path"] or []
    print(
        f"  path ({len(path)} points): "
        + " ".join(f"({p[1]:.0f},{p[2]:.0f})" for p in path[:12])
        + (" ..." if len(path) > 12 else "")
    )
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    from scenewatch.health.store import fleet_report

    store = open_store(args, create=False)
    report = fleet_report(store.engine, window_s=args.window * 3600)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return 0
    rate = report["site_online_rate"]
    print(f"site online rate over {args.window:g} h: {'-' if rate is None else f'{100 * rate:.1f} %'}")
    print(f"{'camera':20s} {'status':12s} {'online':7s} {'rate':>7s}  faults")
    for cam in report["cameras"]:
        online = "-" if cam["online"] is None else ("yes" if cam["online"] else "NO")
        cam_rate = "-" if cam["online_rate"] is None else f"{100 * cam['online_rate']:.1f}%"
        faults = ", ".join(f"{f['fault']} since {_time(f['since'])}" for f in cam["faults"]) or "-"
        print(f"{cam['camera'][:20]:20s} {cam['status']:12s} {online:7s} {cam_rate:>7s}  {faults}")
    return 0


def cmd_export_mot(args: argparse.Namespace) -> int:
    from scenewatch.store import repo

    store = open_store(args, create=False)
    rows = repo.mot_rows(store.engine, args.camera, args.class_name, run=args.run)
    lines = (f"{f},{i},{x:.2f},{y:.2f},{w:.2f},{h:.2f},{s:.4f},-1,-1,-1\n" for f, i, x, y, w, h, s in rows)
    if str(args.output) == "-":
        count = sum(sys.stdout.write(line) > 0 for line in lines)
    else:
        tmp = args.output.with_name(args.output.name + ".tmp")
        with open(tmp, "w") as handle:
            count = sum(handle.write(line) > 0 for line in lines)
        tmp.replace(args.output)
        print(f"wrote {count} rows to {args.output}", file=sys.stderr)
    return 0


def _time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _progress_printer() -> Callable[[str], None]:
    def show(line: str) -> None:
        print(line, flush=True)

    return show


if __name__ == "__main__":
    sys.exit(main())
