"""The database tables, written once for SQLite and PostgreSQL alike.

Times are float seconds since the epoch (UTC): portable, cheap to index and to compare.
Migrations in ``migrations/versions`` create and change these tables; keep the two in step.
"""

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

cameras = Table(
    "cameras",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("source", Text, nullable=False),
    Column("width", Integer),
    Column("height", Integer),
    Column("fps", Float),
    Column("created_at", Float, nullable=False),
)

# One pass of analysis over a source: an `index` of a file or a live session of `run`.
runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("camera_id", Integer, ForeignKey("cameras.id", ondelete="CASCADE"), nullable=False),
    Column("source", Text, nullable=False),
    Column("mode", String(16), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("ended_at", Float),
    # running, done, truncated, failed, stopped, interrupted (the process died)
    Column("status", String(16), nullable=False),
    Column("frames_decoded", Integer, nullable=False, default=0),
    Column("frames_detected", Integer, nullable=False, default=0),
    Column("note", Text),
    Index(None, "camera_id", "started_at"),
)

# On PostgreSQL, migration 0008 partitions ``tracks`` and ``track_terms`` by day of ``first_ts``
# (``scenewatch/store/partitions.py``): their unique keys there also hold ``first_ts``, and the
# foreign keys to ``tracks`` below become a delete trigger. SQLite keeps the tables as declared.
tracks = Table(
    "tracks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("camera_id", Integer, ForeignKey("cameras.id", ondelete="CASCADE"), nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("tracker_id", Integer, nullable=False),
    Column("class_name", String(32), nullable=False),
    Column("first_ts", Float, nullable=False),
    Column("last_ts", Float, nullable=False),
    Column("first_frame", Integer, nullable=False),
    Column("last_frame", Integer, nullable=False),
    Column("detections", Integer, nullable=False),
    Column("score", Float, nullable=False),
    Column("path", JSON, nullable=False),
    Column("thumbnail", Text),
    Column("finished", Boolean, nullable=False, default=False),
    Column("attributes", JSON),
    Index(None, "camera_id", "first_ts"),
    Index(None, "camera_id", "last_ts"),
    Index(None, "run_id"),
)

boxes = Table(
    "boxes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("track_id", Integer, ForeignKey("tracks.id", ondelete="CASCADE"), nullable=False),
    Column("frame", Integer, nullable=False),
    Column("ts", Float, nullable=False),
    Column("x1", Float, nullable=False),
    Column("y1", Float, nullable=False),
    Column("x2", Float, nullable=False),
    Column("y2", Float, nullable=False),
    Column("score", Float, nullable=False),
    # Filled in between detections (sampled frames or short occlusions), not seen by the detector.
    Column("interpolated", Boolean, nullable=False, default=False),
    Index(None, "track_id", "frame"),
)

# Outages of a source: a live stream that dropped, a file that stopped early.
gaps = Table(
    "gaps",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("camera_id", Integer, ForeignKey("cameras.id", ondelete="CASCADE"), nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE")),
    Column("start_ts", Float, nullable=False),
    Column("end_ts", Float),
    Column("reason", Text, nullable=False),
    Index(None, "camera_id", "start_ts"),
)

# --- health ---------------------------------------------------------------------------------------

# Faults raised and cleared (one row per fault episode, ``end_ts`` set when cleared) and
# informational records (resolution change, clock jump, reconnect ...: ``state`` 'info').
health_events = Table(
    "health_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("camera_id", Integer, ForeignKey("cameras.id", ondelete="CASCADE"), nullable=False),
    Column("fault", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("start_ts", Float, nullable=False),
    Column("end_ts", Float),
    Column("detail", JSON, nullable=False),
    Column("snapshot", Text),
    Index(None, "camera_id", "start_ts"),
    Index(None, "state", "end_ts"),
)

# The latest health of each camera, written by the process watching it every few seconds.
camera_status = Table(
    "camera_status",
    metadata,
    Column("camera_id", Integer, ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True),
    Column("updated_at", Float, nullable=False),
    Column("online", Boolean, nullable=False),
    Column("severity", String(16), nullable=False),
    Column("status", JSON, nullable=False),
)

# ---------------------------------------------------------------- search
# The search index (``scenewatch/search/index.py``): one row per searchable fact of a finished
# track, e.g. term 'upper:red' with weight 0.82 (the share of red on the upper body). The time
# and camera are copied from the track so that a query reads one index range and no track row.

track_terms = Table(
    "track_terms",
    metadata,
    Column("track_id", Integer, ForeignKey("tracks.id", ondelete="CASCADE"), primary_key=True),
    Column("term", String(80), primary_key=True),
    Column("weight", Float, nullable=False),
    Column("camera_id", Integer, nullable=False),
    Column("first_ts", Float, nullable=False),
    Column("last_ts", Float, nullable=False),
    # a term within a time window, best first: the index holds all a candidate query reads
    Index(None, "term", "first_ts", "weight", "camera_id", "last_ts"),
    # a term at any time, best first: read in index order and stopped at the LIMIT
    Index(None, "term", "weight"),
    # SQLite: the table is its primary key (no rowid copy); ignored by PostgreSQL
    sqlite_with_rowid=False,
)

# Zone names seen per camera, so a query can tell a known zone from an unknown one cheaply.
search_zones = Table(
    "search_zones",
    metadata,
    Column("camera_id", Integer, ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(64), primary_key=True),
)

# A track's image embedding from the configured CLIP-style encoder (``search/vectors.py``,
# migration 0012): float32 little-endian, L2-normalised, ``dim`` values. PostgreSQL has no foreign
# key to the partitioned tracks: the delete trigger of migration 0008 cascades to it.
track_vectors = Table(
    "track_vectors",
    metadata,
    Column("track_id", Integer, ForeignKey("tracks.id", ondelete="CASCADE"), primary_key=True),
    Column("dim", Integer, nullable=False),
    Column("vector", LargeBinary, nullable=False),
)

# A finished track's live boxes in one value (``store/sightings.py``, migration 0013), so a rule
# replay reads a week of them without a row object per box. PostgreSQL: no foreign key to the
# partitioned tracks, the delete trigger cascades to it.
track_sightings = Table(
    "track_sightings",
    metadata,
    Column("track_id", Integer, ForeignKey("tracks.id", ondelete="CASCADE"), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("packed", LargeBinary, nullable=False),
    Column("path_packed", LargeBinary),  # the track's path as float64 rows (migration 0014)
)

# ---------------------------------------------------------------- delivery and recording
# The alert outbox (``scenewatch/notify/outbox.py``): one row per (alert, destination), written
# when the alert is submitted and updated by the delivery worker, so that an alert survives a
# crash or a dead receiver and is delivered after a restart. ``alert_key`` is the alert's
# idempotency key: the same alert submitted twice gets one row per destination.
alert_outbox = Table(
    "alert_outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("alert_key", String(200), nullable=False),
    Column("destination", String(120), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("camera", String(64), nullable=False),
    Column("body", JSON, nullable=False),
    # pending (waiting or backing off), delivered, failed (given up; kept for a look and re-queue)
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_try_at", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("last_error", Text),
    UniqueConstraint("alert_key", "destination"),
    Index(None, "destination", "state", "next_try_at"),
    Index(None, "state", "updated_at"),
)

# Recorded segment files of live cameras (``scenewatch/recording/segments.py``), wall-clock span
# of their packets; ``path`` is relative to the media folder.
recording_segments = Table(
    "recording_segments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("camera_id", Integer, ForeignKey("cameras.id", ondelete="CASCADE"), nullable=False),
    Column("path", Text, nullable=False),
    Column("start_ts", Float, nullable=False),
    Column("end_ts", Float, nullable=False),
    Column("bytes", Integer, nullable=False),
    Column("codec", String(32), nullable=False),
    Index(None, "camera_id", "start_ts"),
    Index(None, "start_ts"),
)

# -- events (behaviour rules) -------------------------------------------------------------------
# One row per rule event; written when it starts (end_ts empty) and completed when it ends.
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(32), nullable=False, unique=True),  # the engine's id across start and end
    Column("camera_id", Integer, ForeignKey("cameras.id", ondelete="CASCADE"), nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE")),
    Column("rule", String(64), nullable=False),
    Column("rule_type", String(32), nullable=False),
    Column("start_ts", Float, nullable=False),
    Column("end_ts", Float),
    Column("track_ids", JSON, nullable=False),  # tracker ids within the run
    Column("detail", JSON, nullable=False),
    Column("snapshot", Text),  # media-relative JPEG with the boxes and the zone or line drawn
    Column("clip", JSON),  # e.g. {"path": source file, "start_s": .., "end_s": ..}; recordings later
    Column("state", String(16), nullable=False),  # new, acknowledged, resolved
    Column("state_changed_at", Float),
    Column("created_at", Float, nullable=False),
    Index(None, "camera_id", "start_ts"),
    Index(None, "state", "start_ts"),
)

# ---------------------------------------------------------------- access and audit
# (``scenewatch/api/``) Users of the web UI and API, their login sessions, the append-only audit
# log and the server's own settings (privacy zones, retention), written by migration 0006.

# ``cameras`` is a JSON list of camera names the user may see; NULL means every camera.
# ``unmasked``: the user sees people unpixelated (privacy zones stay black for everyone).
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("role", String(16), nullable=False),  # admin, operator, viewer
    Column("cameras", JSON),
    Column("unmasked", Boolean, nullable=False, default=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    Column("password_changed_at", Float, nullable=False),
)

# The row id is sha256(session token): a leaked database does not hand out live sessions.
user_sessions = Table(
    "user_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("last_seen_at", Float, nullable=False),
    Index(None, "user_id"),
    Index(None, "expires_at"),
)

# Append-only and hash-chained: ``hash`` = sha256(prev_hash + canonical JSON of the row); the
# unique ``prev_hash`` makes two writers racing for the same tail fail instead of forking the chain.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ts", Float, nullable=False),
    Column("user", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("target", Text, nullable=False),
    Column("detail", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False, unique=True),
    Column("hash", String(64), nullable=False, unique=True),
    # HMAC(audit key from the data folder, "id:hash"); NULL on rows from before migration 0010
    Column("mac", String(64)),
    Index(None, "ts"),
    Index(None, "action", "ts"),
)

# Server settings edited in the UI: ``privacy_zones`` per camera, ``retention`` ages.
site_settings = Table(
    "site_settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("updated_by", String(64), nullable=False),
)

# Operator-marked "not a <class>" areas (migration 0011, ``store/suppressions.py``): the camera
# drops detections of ``class_name`` whose box matches this one (camera pixels, padded a little).
# ``track_id`` is the track it was made from; no foreign key: retention may delete the track.
suppressions = Table(
    "suppressions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("camera_id", Integer, ForeignKey("cameras.id", ondelete="CASCADE"), nullable=False),
    Column("class_name", String(32), nullable=False),
    Column("x1", Float, nullable=False),
    Column("y1", Float, nullable=False),
    Column("x2", Float, nullable=False),
    Column("y2", Float, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("reason", Text),
    Column("track_id", Integer),
    Index(None, "camera_id"),
)

# ---------------------------------------------------------------- central (edges and sync)
# (``scenewatch/central/``, migration 0007) A central node keeps one row per edge; rows shipped by
# an edge carry ``edge_id`` and ``edge_row`` (the row's id on the edge), unique together, so a
# replayed shipment updates instead of doubling. Local rows leave both empty.

edges = Table(
    "edges",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(32), nullable=False, unique=True),
    Column("site", String(32), nullable=False),
    Column("token_hash", String(64), nullable=False),  # sha256 of the token: a leaked DB is no key
    # the token is HMAC(central's key file, name + nonce): re-derived to sign media requests
    Column("token_nonce", String(64)),  # migration 0009
    Column("created_at", Float, nullable=False),
    Column("last_contact", Float),
    Column("backlog", Integer),  # outbox rows the edge reported still waiting
    Column("version", String(32)),
    Column("schema_revision", String(32)),
    Column("media_url", Text),  # where the central fetches this edge's thumbnails and snapshots
    # random id of the edge's database: a wiped or swapped edge database (ids restarting at 1)
    # is refused instead of overwriting what the old one shipped
    Column("instance", String(36)),
)

for _table in (cameras, runs, tracks, events, health_events):
    _table.append_column(Column("edge_id", Integer))
    _table.append_column(Column("edge_row", Integer))
    Index(f"ix_{_table.name}_edge_id_edge_row", _table.c.edge_id, _table.c.edge_row, unique=True)

# The edge's durable sync outbox: triggers (installed by ``central/outbox.py`` on edges only) add
# (kind, row id) whenever a finished track, an event, a health event, a run or a camera changes;
# the sync thread ships the rows' current state in ``seq`` order and deletes what was acknowledged.
sync_outbox = Table(
    "sync_outbox",
    metadata,
    Column("seq", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("row_id", Integer, nullable=False),
)
