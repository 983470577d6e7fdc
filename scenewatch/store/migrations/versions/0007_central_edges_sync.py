"""edges, sync outbox, edge row keys; PostgreSQL-only indexes

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

KEYED = ("cameras", "runs", "tracks", "events", "health_events")


def upgrade() -> None:
    op.create_table(
        "edges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("site", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("last_contact", sa.Float(), nullable=True),
        sa.Column("backlog", sa.Integer(), nullable=True),
        sa.Column("version", sa.String(length=32), nullable=True),
        sa.Column("schema_revision", sa.String(length=32), nullable=True),
        sa.Column("media_url", sa.Text(), nullable=True),
        sa.Column("instance", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_edges")),
        sa.UniqueConstraint("name", name=op.f("uq_edges_name")),
    )
    op.create_table(
        "sync_outbox",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_sync_outbox")),
    )
    for table in KEYED:
        # plain ADD COLUMN (nullable, no foreign key): SQLite does it in place, no table copy
        op.add_column(table, sa.Column("edge_id", sa.Integer(), nullable=True))
        op.add_column(table, sa.Column("edge_row", sa.Integer(), nullable=True))
        op.create_index(f"ix_{table}_edge_id_edge_row", table, ["edge_id", "edge_row"], unique=True)
    if op.get_bind().dialect.name == "postgresql":
        # JSONB containment queries on attributes (e.g. attributes @> '{"class": "person"}');
        # the ranked search itself reads the btree on track_terms (term, first_ts, weight, ...).
        op.execute(
            "CREATE INDEX ixpg_tracks_attributes ON tracks USING gin ((attributes::jsonb) jsonb_path_ops)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ixpg_tracks_attributes")
    for table in reversed(KEYED):
        op.drop_index(f"ix_{table}_edge_id_edge_row", table_name=table)
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("edge_row")
            batch_op.drop_column("edge_id")
    op.drop_table("sync_outbox")
    op.drop_table("edges")
