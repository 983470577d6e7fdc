"""Many edge nodes, one central: edges analyse and keep media; the central serves one API.

- ``edges.py``: the central's edge registry (per-edge tokens, last contact, backlog, version);
- ``outbox.py`` and ``sync.py``: the edge's durable outbox and the thread that ships it;
- ``ingest.py``: the central's side of a shipment, filed in one transaction; ``upsert.py``: its
  idempotent upserts keyed by (edge, row id on the edge); ``event_tracks.py``: an event's
  tracker ids mapped to central track ids;
- ``media.py``: the edge's signed media endpoint and the central's fetch from the owning edge;
- ``routes.py`` and ``server.py``: the central's HTTP routes and ``scenewatch serve --central``;
- ``pg.py``: a throw-away PostgreSQL cluster for tests and benchmarks.
"""
