"""track_vectors: a track's image embedding from the user's own CLIP-style encoder

SQLite: a foreign key to tracks cascades deletes. PostgreSQL: tracks is partitioned (0008), so
the statement trigger that cascades a track's deletion to its terms and boxes now also deletes
its vector.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

CASCADE = """
CREATE OR REPLACE FUNCTION sw_tracks_cascade() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM track_terms t USING gone g WHERE t.track_id = g.id AND t.first_ts = g.first_ts;
    DELETE FROM boxes b USING gone g WHERE b.track_id = g.id;
    {vectors}
    RETURN NULL;
END $$;
"""
VECTORS = "DELETE FROM track_vectors v USING gone g WHERE v.track_id = g.id;"


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    columns: list[sa.schema.SchemaItem] = [
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("track_id", name=op.f("pk_track_vectors")),
    ]
    if not pg:
        columns.append(
            sa.ForeignKeyConstraint(
                ["track_id"], ["tracks.id"], name=op.f("fk_track_vectors_track_id_tracks"), ondelete="CASCADE"
            )
        )
    op.create_table("track_vectors", *columns)
    if pg:
        op.execute(CASCADE.format(vectors=VECTORS))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CASCADE.format(vectors=""))
    op.drop_table("track_vectors")
