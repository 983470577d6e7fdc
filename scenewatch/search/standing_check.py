"""A standing search's query must ask for something: checked when the config is loaded or
edited (handed to the config with ``scenewatch.config.query_hook.set_query_check``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from scenewatch.search.query import parse_query


def check_standing_query(rule: str, text: str, camera: str, zones: Sequence[str]) -> None:
    """Raises ValueError when ``text`` names no object, colour, zone or time on ``camera``."""
    query = parse_query(text, datetime.now(), [camera], list(zones))
    if not query.usable:
        ignored = f" (ignored: {', '.join(query.ignored)})" if query.ignored else ""
        raise ValueError(
            f"rule {rule!r}: the query {text!r} asks for nothing that can be searched{ignored}; "
            "name an object, colour, zone or time, e.g. 'a person in a red top in zone gate'"
        )
