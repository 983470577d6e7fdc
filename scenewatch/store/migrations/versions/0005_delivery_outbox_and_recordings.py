"""delivery outbox and recordings

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_key", sa.String(length=200), nullable=False),
        sa.Column("destination", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("camera", sa.String(length=64), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_try_at", sa.Float(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_outbox")),
        sa.UniqueConstraint("alert_key", "destination", name=op.f("uq_alert_outbox_alert_key_destination")),
    )
    with op.batch_alter_table("alert_outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alert_outbox_destination_state_next_try_at"),
            ["destination", "state", "next_try_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_alert_outbox_state_updated_at"), ["state", "updated_at"], unique=False
        )
    op.create_table(
        "recording_segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("start_ts", sa.Float(), nullable=False),
        sa.Column("end_ts", sa.Float(), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("codec", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["camera_id"],
            ["cameras.id"],
            name=op.f("fk_recording_segments_camera_id_cameras"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_segments")),
    )
    with op.batch_alter_table("recording_segments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recording_segments_camera_id_start_ts"), ["camera_id", "start_ts"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_recording_segments_start_ts"), ["start_ts"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("recording_segments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recording_segments_start_ts"))
        batch_op.drop_index(batch_op.f("ix_recording_segments_camera_id_start_ts"))
    op.drop_table("recording_segments")
    with op.batch_alter_table("alert_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_outbox_state_updated_at"))
        batch_op.drop_index(batch_op.f("ix_alert_outbox_destination_state_next_try_at"))
    op.drop_table("alert_outbox")
