"""`scenewatch ...`: the command line. Each command is a thin shell over a Python API."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from scenewatch import __version__
from scenewatch.errors import SceneWatchError

if TYPE_CHECKING:
    from scenewatch.runtime.metrics import MetricsRegistry

DEFAULT_DATA = "data"
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    configure_logging(args.log_level or args.default_log_level)
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


def configure_logging(level: str) -> None:
    """The one logging setup of the process: servers log at info, one-shot commands only warn."""
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT)
    # each migration step is a line at info: only worth reading when asked for with debug
    if level.lower() != "debug":
        logging.getLogger("alembic").setLevel(logging.WARNING)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scenewatch",
        description="SceneWatch: find footage in plain language, raise behaviour alerts, watch camera health.",
    )
    parser.add_argument("--version", action="version", version=f"scenewatch {__version__}")
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help=f"data folder for the database and media (default: $SCENEWATCH_DATA or ./{DEFAULT_DATA})",
    )
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        help="what the log shows on stderr (default: info for serve, warning for the other commands)",
    )
    parser.set_defaults(default_log_level="warning")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    models = commands.add_parser("models", help="fetch and check the detector and pose models")
    models_commands = models.add_subparsers(title="models commands", metavar="ACTION", required=True)
    fetch = models_commands.add_parser("fetch", help="put the models into the model cache and verify them")
    fetch.add_argument("--mirror", type=Path, help="a local folder holding the model files")
    fetch.add_argument("--force", action="store_true", help="fetch again even if the cache has them")
    fetch.add_argument(
        "--keep-converter",
        action="store_true",
        help="keep the npm model converter (about 1.5 GB) after converting, for a later conversion "
        "(also KEEP_CONVERTER=1); by default it is removed once the models are in place",
    )
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
    _add_metrics_port(run)
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

    events = commands.add_parser("events", help="list, show, acknowledge or resolve rule events")
    events_commands = events.add_subparsers(title="events commands", metavar="ACTION", required=True)
    events_list = events_commands.add_parser("list", help="list events, newest first")
    events_list.add_argument("--camera", help="only this camera")
    events_list.add_argument("--rule", help="only this rule name or rule type, e.g. loitering")
    events_list.add_argument("--state", help="only this state: new, acknowledged, resolved")
    events_list.add_argument("--limit", type=int, default=50, help="at most N events (default 50)")
    events_list.add_argument("--json", action="store_true", help="print JSON")
    events_list.set_defaults(handler=cmd_events_list)
    events_show = events_commands.add_parser("show", help="show one event")
    events_show.add_argument("id", type=int, help="event id")
    events_show.add_argument("--json", action="store_true", help="print JSON")
    events_show.set_defaults(handler=cmd_events_show)
    for action, state in (("ack", "acknowledged"), ("resolve", "resolved")):
        change = events_commands.add_parser(action, help=f"mark an event {state}")
        change.add_argument("id", type=int, help="event id")
        change.set_defaults(handler=cmd_events_state, state=state)

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
    from scenewatch.central.cli import add_edges_command, add_serve_options

    add_serve_options(serve)  # --central, --database-url, --tls-cert/--tls-key
    add_edges_command(commands, open_store)
    from scenewatch.cli_suppress import add_suppress_command

    add_suppress_command(commands, open_store, _audited)  # suppress add|list|remove

    users = commands.add_parser("users", help="web UI / API users: add, change password, list")
    users_commands = users.add_subparsers(title="users commands", metavar="ACTION", required=True)
    users_add = users_commands.add_parser(
        "add", help="add a user (the password is asked for, or read from stdin)"
    )
    users_add.add_argument("name", help="user name")
    users_add.add_argument("--role", choices=["admin", "operator", "viewer"], default="viewer")
    users_add.add_argument(
        "--camera", action="append", help="a camera the user may see (repeatable; default all)"
    )
    users_add.add_argument("--unmasked", action="store_true", help="the user sees people unpixelated")
    users_add.set_defaults(handler=cmd_users_add)
    users_passwd = users_commands.add_parser(
        "passwd", help="set a user's password (asked for, or read from stdin)"
    )
    users_passwd.add_argument("name", help="user name")
    users_passwd.set_defaults(handler=cmd_users_passwd)
    users_list = users_commands.add_parser("list", help="list users")
    users_list.add_argument("--json", action="store_true", help="print JSON")
    users_list.set_defaults(handler=cmd_users_list)

    search = commands.add_parser("search", help="find tracks by a plain-language query (English or Chinese)")
    search.add_argument("query", nargs="?", help='e.g. "person in a red top yesterday", "穿红色上衣的人"')
    search.add_argument("--like", type=int, metavar="TRACK_ID", help="tracks that look like this track")
    search.add_argument("--camera", action="append", help="only this camera (repeatable)")
    search.add_argument("--limit", type=int, default=20, help="at most N results (default 20)")
    search.add_argument("--json", action="store_true", help="print JSON: understood, ignored, notes, results")
    search.add_argument(
        "--config", type=Path, help="config with an embeddings section (default: the server's saved one)"
    )
    search.set_defaults(handler=cmd_search)

    audit = commands.add_parser("audit", help="the audit log of searches, views, exports and changes")
    audit_commands = audit.add_subparsers(title="audit commands", metavar="ACTION", required=True)
    verify = audit_commands.add_parser(
        "verify", help="check the hash chain, each row's MAC and the checkpoints (exit 1 on a failure)"
    )
    verify.add_argument("--json", action="store_true", help="print JSON")
    verify.set_defaults(handler=cmd_audit_verify)

    rules = commands.add_parser("rules", help="try a camera's rule on its stored tracks")
    rules_commands = rules.add_subparsers(title="rules commands", metavar="ACTION", required=True)
    rules_test = rules_commands.add_parser(
        "test", help="what RULE would have raised over the camera's stored tracks (nothing is stored)"
    )
    rules_test.add_argument("rule", help="the rule's name, as in the config (e.g. intrusion-yard)")
    rules_test.add_argument("--camera", required=True, help="the camera the rule belongs to")
    rules_test.add_argument("--since", default="7d", help="how far back: 90s, 30m, 12h, 7d, 2w (default 7d)")
    rules_test.add_argument("--config", type=Path, help="config file (default: the server's)")
    rules_test.add_argument("--json", action="store_true", help="print JSON: count, events")
    rules_test.set_defaults(handler=cmd_rules_test)
    return parser


def data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data or os.environ.get("SCENEWATCH_DATA") or DEFAULT_DATA)


def open_store(args: argparse.Namespace, create: bool = True):
    from scenewatch.store.data import DataStore

    return DataStore.open(data_dir(args), create=create)


def cmd_models_fetch(args: argparse.Namespace) -> int:
    from scenewatch.models import ModelStore

    keep = True if args.keep_converter else None  # None: as $KEEP_CONVERTER says
    ModelStore().fetch(
        mirror=args.mirror, force=args.force, progress=_progress_printer(), keep_converter=keep
    )
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
            store, settings, stop, duration=args.duration, progress=_progress_printer(), metrics=metrics
        )
    finally:
        if edge is not None:
            edge.stop()
    for result in results:
        print(result.describe())
    return 0


def cmd_tracks_list(args: argparse.Namespace) -> int:
    from scenewatch.store import repo

    store = open_store(args, create=False)
    query = {"camera": args.camera, "class": args.class_name, "limit": args.limit}
    _audited(store, "track_view", "tracks", query)
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
    _audited(store, "track_view", f"track:{args.id}", {})
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


def cmd_events_list(args: argparse.Namespace) -> int:
    from scenewatch.rules.store import list_events

    store = open_store(args, create=False)
    rows = list_events(store.engine, camera=args.camera, rule=args.rule, state=args.state, limit=args.limit)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    print(f"{'id':>6} {'camera':12s} {'rule':22s} {'start (UTC)':19s} {'secs':>6} {'state':12s} tracks")
    for row in rows:
        secs = f"{row['end_ts'] - row['start_ts']:6.1f}" if row["end_ts"] is not None else "  open"
        print(
            f"{row['id']:>6} {row['camera'][:12]:12s} {row['rule'][:22]:22s} {_time(row['start_ts'])} "
            f"{secs} {row['state']:12s} {','.join(map(str, row['stored_track_ids']))}"
        )
    return 0


def cmd_events_show(args: argparse.Namespace) -> int:
    from scenewatch.rules.store import describe_clip, get_event

    store = open_store(args, create=False)
    event = get_event(store.engine, args.id)
    if relative := event.get("snapshot"):
        event["snapshot_file"] = str(store.media.absolute(relative))
    if args.json:
        print(json.dumps(event, indent=2, default=str))
        return 0
    end = _time(event["end_ts"]) if event["end_ts"] is not None else "(still open)"
    print(
        f"event {event['id']} on camera {event['camera']}: {event['rule']} ({event['rule_type']}), {event['state']}"
    )
    print(f"  {_time(event['start_ts'])} .. {end} UTC, tracks {event['stored_track_ids']}")
    print(f"  detail: {json.dumps(event['detail'])}")
    print(f"  snapshot: {event.get('snapshot_file') or '-'}")
    print(f"  clip: {describe_clip(event.get('clip'), store.media)}")
    return 0


def cmd_events_state(args: argparse.Namespace) -> int:
    from scenewatch.rules.store import set_event_state

    store = open_store(args, create=False)
    event = set_event_state(store.engine, args.id, args.state)
    print(f"event {event['id']} ({event['rule']}) is now {event['state']}")
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
        faults = ", ".join(
            f"{f['fault']} since {_time(f['since'])}"
            + (f" ({cam['lag_s'] or 0:.1f} s behind)" if f["fault"] == "lagging" else "")
            for f in cam["faults"]
        )
        if cam["capped"]:
            faults += ("; " if faults else "") + "capped to its share of the detector"
        print(f"{cam['camera'][:20]:20s} {cam['status']:12s} {online:7s} {cam_rate:>7s}  {faults or '-'}")
    return 0


def cmd_export_mot(args: argparse.Namespace) -> int:
    from scenewatch.store import repo

    store = open_store(args, create=False)
    detail = {"format": "mot", "class": args.class_name, "run": args.run, "output": str(args.output)}
    _audited(store, "export", f"camera:{args.camera}", detail)
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


def cmd_rules_test(args: argparse.Namespace) -> int:
    from scenewatch.api.serve import resolve_config
    from scenewatch.rules.replay import configured_camera, describe, parse_since, replay

    since = parse_since(args.since, "--since")
    settings, _ = resolve_config(args.config, data_dir(args))
    camera = configured_camera(settings, args.camera, "--camera")
    store = open_store(args, create=False)
    _audited(store, "search", f"camera:{args.camera}", {"rule_test": args.rule, "since": args.since})
    start = datetime.now(UTC).timestamp() - since
    result = replay(store.engine, camera, args.rule, start, tracker=camera.tracker_settings(settings.tracker))
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
        return 0
    for line in describe(result, store.media.absolute):
        print(line)
    return 0


def _search_vectors(args: argparse.Namespace):
    """Image-text similarity for the search when the config (--config, else the server's saved
    one) has an embeddings section."""
    from scenewatch.api.serve import SERVER_CONFIG
    from scenewatch.search.vectors import vector_ranker

    path = args.config or data_dir(args) / SERVER_CONFIG
    if args.config is None and not path.is_file():
        return None
    return vector_ranker(load_settings(path).embeddings)


def cmd_search(args: argparse.Namespace) -> int:
    from scenewatch.search.engine import more_like, search

    if args.query is None and args.like is None:
        raise SceneWatchError("give a query or --like TRACK_ID", 'e.g. scenewatch search "person in red"')
    if args.like is None and not args.query.strip():
        from scenewatch.api.routes.search import EMPTY_HINT, EMPTY_QUERY  # the API's words

        raise SceneWatchError(EMPTY_QUERY, EMPTY_HINT)
    store = open_store(args, create=False)
    if args.like is not None:
        _audited(store, "search", f"track:{args.like}", {"like": args.like, "cameras": args.camera})
    else:
        _audited(store, "search", "search", {"text": args.query, "cameras": args.camera})
    if args.like is not None:
        result = more_like(store, args.like, limit=args.limit, cameras=args.camera)
    else:
        vectors = _search_vectors(args)
        result = search(store, args.query, cameras=args.camera, limit=args.limit, vectors=vectors)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False, default=str))
        return 0
    understood = result.understood
    if args.like is not None:
        print(f"tracks like {args.like} ({understood.get('class', '?')})")
    else:
        objects = "; ".join(_describe_clause(o) for o in understood["objects"]) or "any object"
        window = understood.get("time") or {}
        print(f"understood: {objects}")
        if window:
            print(f"  time: {window.get('start') or '...'} .. {window.get('end') or '...'}")
        for key in ("cameras", "zones"):
            if understood.get(key):
                print(f"  {key}: {', '.join(understood[key])}")
    if result.ignored:
        print(f"ignored: {', '.join(result.ignored)}")
    for note in result.notes:
        print(f"note: {note}")
    for rank, hit in enumerate(result.results, 1):
        print(
            f"{rank:>3}. track {hit.track_id} {hit.cls} on {hit.camera}, "
            f"{_time(hit.start)} .. {_time(hit.end)} UTC, score {hit.score:.2f}"
        )
        print(f"     {'; '.join(hit.reasons)}")
        print(f"     thumbnail: {hit.thumbnail or '-'}")
        if len(hit.members) > 1:  # one walk the tracker split: its tracks, in time order
            ids = ", ".join(str(m.track_id) for m in hit.members)
            print(f"     {len(hit.members)} fragments: tracks {ids}")
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


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from scenewatch.api import audit

    verdict = audit.verify(open_store(args, create=False))
    if args.json:
        print(json.dumps(verdict, indent=2))
        return 0 if verdict["ok"] else 1
    where = f" at row id {verdict['first_bad']}" if verdict["first_bad"] is not None else ""
    if verdict["ok"]:
        print(f"audit log ok: {verdict['rows']} rows, head {verdict['head']}")
    else:
        print(f"audit log FAILS{where} (after {verdict['rows']} rows): {verdict['reason']}")
    if point := verdict["checkpoint"]:
        print(f"  newest checkpoint: {point['rows']} rows up to id {point['id']}, {_time(point['ts'])} UTC")
    if verdict["unanchored_before"] is not None:
        print(f"  rows before id {verdict['unanchored_before']} predate signing: linked but not signed")
    return 0 if verdict["ok"] else 1


def _audited(store, action: str, target: str, detail: dict) -> None:
    """Record what a command shows before it shows it, with the OS user as the actor (nothing is
    shown when the record cannot be written)."""
    from scenewatch.api import audit

    try:
        audit.append(store, audit.os_actor(), action, target, detail)
    except audit.AuditUnavailable as exc:
        raise SceneWatchError(f"{exc.message} ({exc.cause})", exc.hint) from None


def _read_password() -> str:
    import getpass

    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise SceneWatchError("the two passwords differ")
    return first


def cmd_users_add(args: argparse.Namespace) -> int:
    from scenewatch.api import auth

    store = open_store(args)
    user = auth.create_user(store.engine, args.name, _read_password(), args.role, args.camera, args.unmasked)
    print(f"added user {user['name']} ({user['role']})")
    return 0


def cmd_users_passwd(args: argparse.Namespace) -> int:
    from scenewatch.api import auth

    store = open_store(args, create=False)
    user = auth.find_user(store.engine, args.name)
    if user is None:
        raise SceneWatchError(f"no user named {args.name!r}", "list them with `scenewatch users list`")
    auth.set_password(store.engine, user["id"], _read_password())
    print(f"password of {args.name} changed; their sessions have ended")
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    from scenewatch.api import auth

    store = open_store(args, create=False)
    rows = auth.list_users(store.engine)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    for row in rows:
        cams = "all cameras" if row["cameras"] is None else ", ".join(row["cameras"]) or "no cameras"
        flags = " unmasked" if row["unmasked"] else ""
        flags += " DISABLED" if row["disabled"] else ""
        print(f"{row['name']:20s} {row['role']:9s} {cams}{flags}")
    return 0


def _describe_clause(clause: dict) -> str:
    words = [clause["class"] or "any object"]
    if clause["vehicle_type"]:
        words[0] = clause["vehicle_type"]
    shaded = [
        (part, [f"{c['shade']} {c['term']}" if c["shade"] else c["term"] for c in cs])
        for part, cs in clause["colours"].items()
    ]
    words += [f"{part} {'/'.join(terms)}" for part, terms in shaded]
    words += [f"wearing a {g}" for g in clause["garments"] if g in ("hood", "hat", "cap", "helmet")]
    words += [f"carrying {c['item']}" for c in clause["carried"]]
    words += [clause["posture"]] if clause["posture"] else []
    words += [v for v in clause["motion"].values() if v]
    return ", ".join(words)


def _time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _progress_printer() -> Callable[[str], None]:
    def show(line: str) -> None:
        print(line, flush=True)

    return show


if __name__ == "__main__":
    sys.exit(main())
