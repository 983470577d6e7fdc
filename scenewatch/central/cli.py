"""The central commands: ``scenewatch edges`` and the pieces of ``run`` / ``serve --central``."""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from scenewatch.errors import SceneWatchError

MEDIA_URL_HELP = (
    "where the central fetches the edge's thumbnails and snapshots: http(s)://HOST:PORT of the "
    "edge's central.media_listen (the central uses only this URL, never one an edge sends)"
)


def add_edges_command(commands, open_store) -> None:
    """``scenewatch edges [add NAME --site S [--media-url URL] | set NAME --media-url URL |
    rotate NAME] [--json]`` on the central."""
    edges = commands.add_parser(
        "edges",
        help="central: list edges (last contact, backlog, version); add an edge; set its media URL; "
        "rotate its token",
    )
    edges.add_argument("--json", action="store_true", help="print JSON")
    edges.set_defaults(handler=lambda args: cmd_edges_list(args, open_store))
    actions = edges.add_subparsers(title="edges commands", metavar="ACTION")
    add = actions.add_parser("add", help="register an edge and print its token (shown once)")
    add.add_argument("name", help="edge name, unique across the installation")
    add.add_argument("--site", required=True, help="the edge's site; its cameras become SITE/CAMERA")
    add.add_argument("--media-url", help=MEDIA_URL_HELP)
    add.set_defaults(handler=lambda args: cmd_edges_add(args, open_store))
    change = actions.add_parser("set", help="change an edge's settings on the central")
    change.add_argument("name", help="edge name")
    change.add_argument("--media-url", required=True, help=MEDIA_URL_HELP)
    change.set_defaults(handler=lambda args: cmd_edges_set(args, open_store))
    rotate = actions.add_parser("rotate", help="give an edge a new token; the old one stops working")
    rotate.add_argument("name", help="edge name")
    rotate.set_defaults(handler=lambda args: cmd_edges_rotate(args, open_store))


def cmd_edges_list(args: argparse.Namespace, open_store) -> int:
    from scenewatch.central.edges import list_edges

    rows = list_edges(open_store(args, create=False).engine)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    if not rows:
        print("no edges yet: register one with `scenewatch edges add NAME --site SITE`")
        return 0
    print(
        f"{'edge':16s} {'site':12s} {'last contact (UTC)':19s} {'ago':>8s} {'backlog':>8s} {'cams':>4s} {'tracks':>9s}  version/schema"
    )
    for r in rows:
        last = (
            datetime.fromtimestamp(r["last_contact"], UTC).strftime("%Y-%m-%d %H:%M:%S")
            if r["last_contact"]
            else "never"
        )
        ago = f"{r['seconds_since_contact']:.0f}s" if r["seconds_since_contact"] is not None else "-"
        backlog = "-" if r["backlog"] is None else str(r["backlog"])
        print(
            f"{r['name'][:16]:16s} {r['site'][:12]:12s} {last:19s} {ago:>8s} {backlog:>8s} {r['cameras']:>4d} "
            f"{r['tracks']:>9d}  {r['version'] or '-'}/{r['schema_revision'] or '-'}"
        )
    return 0


def cmd_edges_add(args: argparse.Namespace, open_store) -> int:
    from scenewatch.central.edges import add_edge

    token = add_edge(open_store(args), args.name, args.site, args.media_url)
    print(f"added edge {args.name} in site {args.site}")
    print(f"  token: {token}")
    print("  (shown once: put it in the edge config as central.token or in central.token_file)")
    if args.media_url is None:
        print(f"  media: none yet; set with `scenewatch edges set {args.name} --media-url URL`")
    return 0


def cmd_edges_set(args: argparse.Namespace, open_store) -> int:
    from scenewatch.central.edges import set_media_url

    url = set_media_url(open_store(args, create=False).engine, args.name, args.media_url)
    print(f"edge {args.name}: media fetched from {url}")
    return 0


def cmd_edges_rotate(args: argparse.Namespace, open_store) -> int:
    from scenewatch.central.edges import rotate_token

    token = rotate_token(open_store(args, create=False), args.name)
    print(f"new token for edge {args.name} (the old one no longer works):")
    print(f"  token: {token}")
    return 0


def add_serve_options(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--central", action="store_true", help="serve every edge's results from the central database"
    )
    serve.add_argument(
        "--database-url",
        help="central database, e.g. postgresql+psycopg://user:pass@host/db (default $SCENEWATCH_DATABASE_URL)",
    )
    serve.add_argument("--tls-cert", type=Path, help="serve HTTPS with this certificate (with --tls-key)")
    serve.add_argument("--tls-key", type=Path, help="private key for --tls-cert")


def cmd_serve_central(args: argparse.Namespace, data_dir: Path) -> int:
    from scenewatch.central.server import serve_central
    from scenewatch.central.settings import load_with_central, normalize_url
    from scenewatch.config import AppConfig
    from scenewatch.store.data import DataStore

    settings, central = load_with_central(args.config)
    url = normalize_url(
        args.database_url or central.database_url or os.environ.get("SCENEWATCH_DATABASE_URL")
    )
    store = DataStore.open(data_dir, database_url=url)
    if (args.tls_cert is None) != (args.tls_key is None):
        raise SceneWatchError("give both --tls-cert and --tls-key, or neither")
    tls = (args.tls_cert, args.tls_key) if args.tls_cert else None
    serve_central(store, settings or AppConfig(), args.host, args.port, args.secure_cookies, tls=tls)
    return 0
