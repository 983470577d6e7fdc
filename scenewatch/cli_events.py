"""`scenewatch events list|show|ack|resolve` and `scenewatch rules test`: the events the rules
raised, and what a rule would have raised over the stored tracks."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

from scenewatch.cli_common import audited, data_dir, open_store, utc_time


def add_events_command(commands: argparse._SubParsersAction) -> None:
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


def add_rules_command(commands: argparse._SubParsersAction) -> None:
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
            f"{row['id']:>6} {row['camera'][:12]:12s} {row['rule'][:22]:22s} {utc_time(row['start_ts'])} "
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
    end = utc_time(event["end_ts"]) if event["end_ts"] is not None else "(still open)"
    print(
        f"event {event['id']} on camera {event['camera']}: {event['rule']} ({event['rule_type']}), {event['state']}"
    )
    print(f"  {utc_time(event['start_ts'])} .. {end} UTC, tracks {event['stored_track_ids']}")
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


def cmd_rules_test(args: argparse.Namespace) -> int:
    from scenewatch.api.serve import resolve_config
    from scenewatch.rules.replay import configured_camera, describe, parse_since, replay

    since = parse_since(args.since, "--since")
    settings, _ = resolve_config(args.config, data_dir(args))
    camera = configured_camera(settings, args.camera, "--camera")
    store = open_store(args, create=False)
    audited(store, "search", f"camera:{args.camera}", {"rule_test": args.rule, "since": args.since})
    start = datetime.now(UTC).timestamp() - since
    result = replay(store.engine, camera, args.rule, start, tracker=camera.tracker_settings(settings.tracker))
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
        return 0
    for line in describe(result, store.media.absolute):
        print(line)
    return 0
