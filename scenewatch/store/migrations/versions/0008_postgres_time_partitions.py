"""PostgreSQL: tracks and track_terms range-partitioned by day of first_ts

PostgreSQL cannot partition a table in place: the migration creates partitioned twins, copies
the rows, and swaps them in. A unique key of a partitioned table must contain the partition
column, so on PostgreSQL the primary key of ``tracks`` is ``(id, first_ts)`` (ids still come
from one sequence), the edge key ``(edge_id, edge_row, first_ts)`` (a track's first_ts never
changes on its edge), and ``track_terms`` has ``(track_id, term, first_ts)``. The foreign keys
from ``boxes`` and ``track_terms`` to ``tracks`` cannot exist any more; a statement trigger on
``tracks`` deletes their rows instead (``ON DELETE CASCADE`` as before), and retention drops a
day of both tables together (``scenewatch/store/partitions.py``). SQLite: nothing changes.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

from scenewatch.store import partitions

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TRACK_COLUMNS = """
    id integer NOT NULL DEFAULT nextval('tracks_id_seq'::regclass),
    camera_id integer NOT NULL,
    run_id integer NOT NULL,
    tracker_id integer NOT NULL,
    class_name varchar(32) NOT NULL,
    first_ts double precision NOT NULL,
    last_ts double precision NOT NULL,
    first_frame integer NOT NULL,
    last_frame integer NOT NULL,
    detections integer NOT NULL,
    score double precision NOT NULL,
    path json NOT NULL,
    thumbnail text,
    finished boolean NOT NULL,
    attributes json,
    edge_id integer,
    edge_row integer
"""
TERM_COLUMNS = """
    track_id integer NOT NULL,
    term varchar(80) NOT NULL,
    weight double precision NOT NULL,
    camera_id integer NOT NULL,
    first_ts double precision NOT NULL,
    last_ts double precision NOT NULL
"""
TRACK_INDEXES = (
    "CREATE INDEX ix_tracks_camera_id_first_ts ON tracks (camera_id, first_ts)",
    "CREATE INDEX ix_tracks_camera_id_last_ts ON tracks (camera_id, last_ts)",
    "CREATE INDEX ix_tracks_run_id ON tracks (run_id)",
    "CREATE INDEX ixpg_tracks_attributes ON tracks USING gin ((attributes::jsonb) jsonb_path_ops)",
)
TERM_INDEXES = (
    "CREATE INDEX ix_track_terms_term_first_ts_weight_camera_id_last_ts "
    "ON track_terms (term, first_ts, weight, camera_id, last_ts)",
    "CREATE INDEX ix_track_terms_term_weight ON track_terms (term, weight)",
)
FOREIGN_KEYS = (
    "ALTER TABLE tracks ADD CONSTRAINT fk_tracks_camera_id_cameras FOREIGN KEY (camera_id) "
    "REFERENCES cameras (id) ON DELETE CASCADE",
    "ALTER TABLE tracks ADD CONSTRAINT fk_tracks_run_id_runs FOREIGN KEY (run_id) "
    "REFERENCES runs (id) ON DELETE CASCADE",
)
CASCADE = """
CREATE FUNCTION sw_tracks_cascade() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM track_terms t USING gone g WHERE t.track_id = g.id AND t.first_ts = g.first_ts;
    DELETE FROM boxes b USING gone g WHERE b.track_id = g.id;
    RETURN NULL;
END $$;
CREATE TRIGGER sw_tracks_cascade AFTER DELETE ON tracks
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION sw_tracks_cascade();
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    conn = op.get_bind()
    op.execute("ALTER SEQUENCE tracks_id_seq OWNED BY NONE")
    op.execute("ALTER TABLE boxes DROP CONSTRAINT fk_boxes_track_id_tracks")
    op.execute("ALTER TABLE track_terms RENAME TO track_terms_flat")
    op.execute("ALTER TABLE tracks RENAME TO tracks_flat")
    op.execute(f"CREATE TABLE tracks ({TRACK_COLUMNS}) PARTITION BY RANGE (first_ts)")
    op.execute(f"CREATE TABLE track_terms ({TERM_COLUMNS}) PARTITION BY RANGE (first_ts)")
    for table in partitions.TABLES:
        op.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
    days = conn.exec_driver_sql(
        f"SELECT DISTINCT floor(first_ts / {partitions.PERIOD_S})::bigint FROM tracks_flat"
    ).scalars()
    for day in days:
        partitions.create(conn, int(day))
    op.execute("INSERT INTO tracks SELECT * FROM tracks_flat")
    op.execute("INSERT INTO track_terms SELECT * FROM track_terms_flat")
    op.execute("DROP TABLE track_terms_flat")
    op.execute("DROP TABLE tracks_flat")
    op.execute("ALTER SEQUENCE tracks_id_seq OWNED BY tracks.id")
    op.execute("ALTER TABLE tracks ADD CONSTRAINT pk_tracks PRIMARY KEY (id, first_ts)")
    op.execute("CREATE UNIQUE INDEX ix_tracks_edge_id_edge_row ON tracks (edge_id, edge_row, first_ts)")
    op.execute("ALTER TABLE track_terms ADD CONSTRAINT pk_track_terms PRIMARY KEY (track_id, term, first_ts)")
    for statement in TRACK_INDEXES + TERM_INDEXES + FOREIGN_KEYS:
        op.execute(statement)
    op.execute(CASCADE)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER sw_tracks_cascade ON tracks")
    op.execute("DROP FUNCTION sw_tracks_cascade()")
    op.execute("ALTER SEQUENCE tracks_id_seq OWNED BY NONE")
    op.execute("ALTER TABLE track_terms RENAME TO track_terms_parted")
    op.execute("ALTER TABLE tracks RENAME TO tracks_parted")
    op.execute(f"CREATE TABLE tracks ({TRACK_COLUMNS})")
    op.execute(f"CREATE TABLE track_terms ({TERM_COLUMNS})")
    op.execute("INSERT INTO tracks SELECT * FROM tracks_parted")
    op.execute("INSERT INTO track_terms SELECT * FROM track_terms_parted")
    op.execute("DROP TABLE track_terms_parted")
    op.execute("DROP TABLE tracks_parted")
    op.execute("ALTER SEQUENCE tracks_id_seq OWNED BY tracks.id")
    op.execute("ALTER TABLE tracks ADD CONSTRAINT pk_tracks PRIMARY KEY (id)")
    op.execute("CREATE UNIQUE INDEX ix_tracks_edge_id_edge_row ON tracks (edge_id, edge_row)")
    op.execute("ALTER TABLE track_terms ADD CONSTRAINT pk_track_terms PRIMARY KEY (track_id, term)")
    for statement in TRACK_INDEXES + TERM_INDEXES + FOREIGN_KEYS:
        op.execute(statement)
    op.execute(
        "ALTER TABLE track_terms ADD CONSTRAINT fk_track_terms_track_id_tracks FOREIGN KEY (track_id) "
        "REFERENCES tracks (id) ON DELETE CASCADE"
    )
    op.execute(
        "ALTER TABLE boxes ADD CONSTRAINT fk_boxes_track_id_tracks FOREIGN KEY (track_id) "
        "REFERENCES tracks (id) ON DELETE CASCADE"
    )
