"""`scenewatch users add|passwd|list`: the web UI's and API's users, their roles and cameras."""

from __future__ import annotations

import argparse
import json
import sys

from scenewatch.cli_common import open_store
from scenewatch.errors import SceneWatchError


def add_users_command(commands: argparse._SubParsersAction) -> None:
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
