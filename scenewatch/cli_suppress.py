"""`scenewatch suppress add|list|remove`: operators' "not a <class>" marks from the command line,
audited as the OS user like the other commands. A running server re-reads them within
``scenewatch.flow.suppress.RELOAD_S`` seconds."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import UTC, datetime

from scenewatch.errors import SceneWatchError


def add_suppress_command(
    commands: argparse._SubParsersAction,
    open_store: Callable[..., object],
    audited: Callable[[object, str, str, dict], None],
) -> None:
    suppress = commands.add_parser(
        "suppress", help='mark a tracked object "not a person" (or its class) on its camera'
    )
    actions = suppress.add_subparsers(title="suppress commands", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="suppress what a track is: its class, in its median box")
    add.add_argument("--camera", required=True, help="camera name")
    add.add_argument("--track", type=int, required=True, help="track id (`scenewatch tracks list`)")
    add.add_argument("--reason", help="why, for the audit log")
    add.add_argument("--json", action="store_true", help="print JSON")
    listing = actions.add_parser("list", help="list suppressions")
    listing.add_argument("--camera", help="only this camera")
    listing.add_argument("--json", action="store_true", help="print JSON")
    remove = actions.add_parser("remove", help="undo a suppression")
    remove.add_argument("id", type=int, help="suppression id (`scenewatch suppress list`)")

    def run_add(args: argparse.Namespace) -> int:
        from scenewatch.api import audit
        from scenewatch.store import suppressions as stored

        store = open_store(args, create=False)
        engine = store.engine  # type: ignore[attr-defined]
        made = stored.add_from_track(engine, args.camera, args.track, audit.os_actor(), args.reason)
        try:
            audited(store, "suppression_add", f"camera:{made.camera}", made.audit_detail())
        except SceneWatchError:
            stored.remove(engine, made.id)  # no record, no action
            raise
        if args.json:
            print(json.dumps(made.as_dict(), indent=2))
        else:
            print(f"suppression {made.id}: {_line(made)}")
        return 0

    def run_list(args: argparse.Namespace) -> int:
        from scenewatch.store import repo
        from scenewatch.store import suppressions as stored

        store = open_store(args, create=False)
        engine = store.engine  # type: ignore[attr-defined]
        if args.camera is not None:
            repo.camera_id(engine, args.camera)  # an unknown camera is an error, not an empty list
        rows = stored.list_for(engine, args.camera)
        if args.json:
            print(json.dumps([r.as_dict() for r in rows], indent=2))
            return 0
        for row in rows:
            print(f"{row.id:>5}  {_line(row)}")
        if not rows:
            print("no suppressions")
        return 0

    def run_remove(args: argparse.Namespace) -> int:
        from scenewatch.store import suppressions as stored

        store = open_store(args, create=False)
        engine = store.engine  # type: ignore[attr-defined]
        found = stored.get(engine, args.id)
        if found is None:
            raise SceneWatchError(
                f"no suppression with id {args.id}", "list them with `scenewatch suppress list`"
            )
        audited(store, "suppression_remove", f"camera:{found.camera}", found.audit_detail())
        stored.remove(engine, args.id)
        print(f"removed suppression {args.id} ({found.class_name} on {found.camera})")
        return 0

    add.set_defaults(handler=run_add)
    listing.set_defaults(handler=run_list)
    remove.set_defaults(handler=run_remove)


def _line(entry) -> str:
    x1, y1, x2, y2 = entry.box
    made = datetime.fromtimestamp(entry.created_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
    why = f", {entry.reason}" if entry.reason else ""
    return (
        f"not a {entry.class_name} on {entry.camera} at ({x1:.0f}, {y1:.0f})-({x2:.0f}, {y2:.0f}), "
        f"from track {entry.track_id}, by {entry.created_by} {made} UTC{why}"
    )
