"""`scenewatch health`: the fleet's status, open faults and online rates."""

from __future__ import annotations

import argparse
import json

from scenewatch.cli_common import open_store, utc_time


def add_health_command(commands: argparse._SubParsersAction) -> None:
    health = commands.add_parser("health", help="camera health: status, faults and online rates")
    health.add_argument("--window", type=float, default=24.0, help="online-rate window in hours (default 24)")
    health.add_argument("--json", action="store_true", help="print JSON")
    health.set_defaults(handler=cmd_health)


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
            f"{f['fault']} since {utc_time(f['since'])}"
            + (f" ({cam['lag_s'] or 0:.1f} s behind)" if f["fault"] == "lagging" else "")
            for f in cam["faults"]
        )
        if cam["capped"]:
            faults += ("; " if faults else "") + "capped to its share of the detector"
        print(f"{cam['camera'][:20]:20s} {cam['status']:12s} {online:7s} {cam_rate:>7s}  {faults or '-'}")
    return 0
