"""Reading a config file with its ``central:`` section (the node's role)."""

from __future__ import annotations

from pathlib import Path

from scenewatch.config import AppConfig, load_config
from scenewatch.config.central import CentralConfig
from scenewatch.config.query_hook import set_query_check
from scenewatch.search.standing_check import check_standing_query
from scenewatch.store.db import normalize_url

__all__ = ["load_with_central", "normalize_url"]


def load_with_central(path: Path | None) -> tuple[AppConfig | None, CentralConfig]:
    """(settings, central section) of the config at ``path``; (None, standalone) without one."""
    if path is None:
        return None, CentralConfig()
    set_query_check(check_standing_query)
    settings = load_config(path)
    return settings, settings.central
