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
    MetaData,
    String,
    Table,
    Text,
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
