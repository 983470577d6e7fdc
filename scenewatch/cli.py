"""`scenewatch ...`: the command line. Each command is a thin shell over a Python API, built in the
``cli_*`` module named for what it works on."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from scenewatch import __version__
from scenewatch.cli_audit import add_audit_command
from scenewatch.cli_cameras import add_index_command, add_run_command, add_serve_command
from scenewatch.cli_common import DEFAULT_DATA, audited, open_store
from scenewatch.cli_events import add_events_command, add_rules_command
from scenewatch.cli_health import add_health_command
from scenewatch.cli_models import add_models_command
from scenewatch.cli_search import add_search_command
from scenewatch.cli_tracks import add_export_command, add_tracks_command
from scenewatch.cli_users import add_users_command
from scenewatch.errors import SceneWatchError

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
    # the order of the help's command list
    add_models_command(commands)
    add_index_command(commands)
    add_run_command(commands)
    add_tracks_command(commands)
    add_events_command(commands)
    add_health_command(commands)
    add_export_command(commands)
    add_serve_command(commands)
    from scenewatch.central.cli import add_edges_command
    from scenewatch.cli_suppress import add_suppress_command

    add_edges_command(commands, open_store)
    add_suppress_command(commands, open_store, audited)  # suppress add|list|remove
    add_users_command(commands)
    add_search_command(commands)
    add_audit_command(commands)
    add_rules_command(commands)
    return parser


if __name__ == "__main__":
    sys.exit(main())
