"""`scenewatch audit verify`: check the audit log's hash chain, each row's MAC and checkpoints."""

from __future__ import annotations

import argparse
import json

from scenewatch.cli_common import open_store, utc_time


def add_audit_command(commands: argparse._SubParsersAction) -> None:
    audit = commands.add_parser("audit", help="the audit log of searches, views, exports and changes")
    audit_commands = audit.add_subparsers(title="audit commands", metavar="ACTION", required=True)
    verify = audit_commands.add_parser(
        "verify", help="check the hash chain, each row's MAC and the checkpoints (exit 1 on a failure)"
    )
    verify.add_argument("--json", action="store_true", help="print JSON")
    verify.set_defaults(handler=cmd_audit_verify)


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
        print(
            f"  newest checkpoint: {point['rows']} rows up to id {point['id']}, {utc_time(point['ts'])} UTC"
        )
    if verdict["unanchored_before"] is not None:
        print(f"  rows before id {verdict['unanchored_before']} predate signing: linked but not signed")
    return 0 if verdict["ok"] else 1
