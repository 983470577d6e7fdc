"""The check a standing search's query gets when a config is validated.

Reading a query is the search package's work, and search sits above the config, so the config
holds only this hook: the layers that load and edit configs (the command line, the server, the
central) set the search package's check (``scenewatch.search.standing_check.check_standing_query``)
before they read a file. A config validated with no check set (a lower layer re-reading settings
that were checked when they were loaded) takes the query as written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

# (rule name, query text, camera name, the camera's zone names) -> None; raises ValueError
# saying what the query lacks, which the config reports with the rule's file and line
QueryCheck = Callable[[str, str, str, Sequence[str]], None]

_check: QueryCheck | None = None


def set_query_check(check: QueryCheck | None) -> None:
    """Make ``check`` the one every standing search's query goes through from now on."""
    global _check
    _check = check


def check_query(rule: str, text: str, camera: str, zones: Sequence[str]) -> None:
    """Run the check that was set, if any."""
    if _check is not None:
        _check(rule, text, camera, zones)
