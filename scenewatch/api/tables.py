"""The tables the server's response caches read, named once: the server counts its own writes to
them, and the pipeline process reports its writes to them (``TableVersions``)."""

SEARCH_TABLES = ("tracks", "track_terms", "search_zones", "cameras")  # what a search reads
EVENT_TABLES = ("events",)  # with cameras: what the event list reads
CACHED_TABLES = SEARCH_TABLES + EVENT_TABLES
