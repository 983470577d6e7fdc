"""track_sightings: a finished track's live boxes packed in one value, read whole by rule replays

SQLite: a foreign key to tracks cascades deletes. PostgreSQL: tracks is partitioned (0008), so
the statement trigger that cascades a track's deletion to its terms, boxes and vector now also
deletes its packed sightings. Tracks finished before this revision have none: replays read their
rows of ``boxes``.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

CASCADE = """
CREATE OR REPLACE FUNCTION sw_tracks_cascade() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM track_terms t USING gone g WHERE t.track_id = g.id AND t.first_ts = g.first_ts;
    DELETE FROM boxes b USING gone g WHERE b.track_id = g.id;
    DELETE FROM track_vectors v USING gone g WHERE v.track_id = g.id;
    {sightings}
    RETURN NULL;
END $$;
"""
SIGHTINGS = "DELETE FROM track_sightings s USING gone g WHERE s.track_id = g.id;"


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    columns: list[sa.schema.SchemaItem] = [
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("packed", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("track_id", name=op.f("pk_track_sightings")),
    ]
    if not pg:
        columns.append(
            sa.ForeignKeyConstraint(
                ["track_id"],
                ["tracks.id"],
                name=op.f("fk_track_sightings_track_id_tracks"),
                ondelete="CASCADE",
            )
        )
    op.create_table("track_sightings", *columns)
    if pg:
        op.execute(CASCADE.format(sightings=SIGHTINGS))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CASCADE.format(sightings=""))
    op.drop_table("track_sightings")
