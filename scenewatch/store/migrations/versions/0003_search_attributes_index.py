"""search attributes index

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "track_terms",
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("term", sa.String(length=80), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("first_ts", sa.Float(), nullable=False),
        sa.Column("last_ts", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["track_id"], ["tracks.id"], name=op.f("fk_track_terms_track_id_tracks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("track_id", "term", name=op.f("pk_track_terms")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("track_terms", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_track_terms_term_first_ts_weight_camera_id_last_ts"),
            ["term", "first_ts", "weight", "camera_id", "last_ts"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_track_terms_term_weight"), ["term", "weight"], unique=False)
    op.create_table(
        "search_zones",
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["camera_id"], ["cameras.id"], name=op.f("fk_search_zones_camera_id_cameras"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("camera_id", "name", name=op.f("pk_search_zones")),
    )


def downgrade() -> None:
    op.drop_table("search_zones")
    with op.batch_alter_table("track_terms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_track_terms_term_weight"))
        batch_op.drop_index(batch_op.f("ix_track_terms_term_first_ts_weight_camera_id_last_ts"))
    op.drop_table("track_terms")
