"""`scenewatch tracks list|show` and `scenewatch export mot`: the tracked objects, as the store
holds them. What they show is audited as the OS user."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from scenewatch.cli_common import audited, open_store, utc_time


def add_tracks_command(commands: argparse._SubParsersAction) -> None:
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


def add_export_command(commands: argparse._SubParsersAction) -> None:
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


def cmd_tracks_list(args: argparse.Namespace) -> int:
    from scenewatch.store import repo

    store = open_store(args, create=False)
    query = {"camera": args.camera, "class": args.class_name, "limit": args.limit}
    audited(store, "track_view", "tracks", query)
    rows = repo.list_tracks(store.engine, camera=args.camera, class_name=args.class_name, limit=args.limit)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    print(f"{'id':>6} {'camera':12s} {'class':10s} {'start (UTC)':19s} {'secs':>6} {'boxes':>6}  thumbnail")
    for row in rows:
        duration = row["last_ts"] - row["first_ts"]
        print(
            f"{row['id']:>6} {row['camera'][:12]:12s} {row['class_name'][:10]:10s} "
            f"{utc_time(row['first_ts'])} {duration:6.1f} {row['detections']:>6}  {row['thumbnail'] or '-'}"
        )
    return 0


def cmd_tracks_show(args: argparse.Namespace) -> int:
    from scenewatch.store import repo

    store = open_store(args, create=False)
    audited(store, "track_view", f"track:{args.id}", {})
    track = repo.get_track(store.engine, args.id)
    if relative := track.get("thumbnail"):
        track["thumbnail_file"] = str(store.media.absolute(relative))
    if args.json:
        print(json.dumps(track, indent=2, default=str))
        return 0
    print(f"track {track['id']} on camera {track['camera']}: {track['class_name']}")
    print(
        f"  seen {utc_time(track['first_ts'])} .. {utc_time(track['last_ts'])} UTC, "
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


def cmd_export_mot(args: argparse.Namespace) -> int:
    from scenewatch.store import repo

    store = open_store(args, create=False)
    detail = {"format": "mot", "class": args.class_name, "run": args.run, "output": str(args.output)}
    audited(store, "export", f"camera:{args.camera}", detail)
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
