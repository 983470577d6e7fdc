"""What every command shares: the data folder and its store, the config, the audit record of what
a command shows, and how times and progress are printed."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from scenewatch.errors import SceneWatchError

if TYPE_CHECKING:
    from scenewatch.config import AppConfig
    from scenewatch.store.data import DataStore

DEFAULT_DATA = "data"


def data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data or os.environ.get("SCENEWATCH_DATA") or DEFAULT_DATA)


def open_store(args: argparse.Namespace, create: bool = True) -> DataStore:
    from scenewatch.store.data import DataStore

    return DataStore.open(data_dir(args), create=create)


def load_settings(path: Path | None) -> AppConfig:
    from scenewatch.config import AppConfig, load_config
    from scenewatch.config.query_hook import set_query_check
    from scenewatch.search.standing_check import check_standing_query

    set_query_check(check_standing_query)
    return load_config(path) if path else AppConfig()


def audited(store, action: str, target: str, detail: dict) -> None:
    """Record what a command shows before it shows it, with the OS user as the actor (nothing is
    shown when the record cannot be written)."""
    from scenewatch.api import audit

    try:
        audit.append(store, audit.os_actor(), action, target, detail)
    except audit.AuditUnavailable as exc:
        raise SceneWatchError(f"{exc.message} ({exc.cause})", exc.hint) from None


def utc_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def progress_printer() -> Callable[[str], None]:
    def show(line: str) -> None:
        print(line, flush=True)

    return show
