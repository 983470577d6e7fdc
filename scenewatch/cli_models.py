"""`scenewatch models fetch|list`: the detector and pose models in the model cache."""

from __future__ import annotations

import argparse
from pathlib import Path

from scenewatch.cli_common import progress_printer


def add_models_command(commands: argparse._SubParsersAction) -> None:
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


def cmd_models_fetch(args: argparse.Namespace) -> int:
    from scenewatch.model_checks import smoke_check
    from scenewatch.models import ModelStore

    keep = True if args.keep_converter else None  # None: as $KEEP_CONVERTER says
    ModelStore(check=smoke_check).fetch(
        mirror=args.mirror, force=args.force, progress=progress_printer(), keep_converter=keep
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
