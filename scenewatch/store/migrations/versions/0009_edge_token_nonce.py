"""edges.token_nonce: an edge's token is derived from the central's secret key and this nonce

The central keeps no usable key in its database: the token (and the media signing key derived
from it) is HMAC(node key, edge name + nonce), re-derived when needed. Edges registered before
this revision have no nonce; their media cannot be signed until `scenewatch edges rotate`.

``edges.media_url`` was written from the edges' own shipments until now: it is cleared, so the
central fetches nothing an edge chose; an admin registers each edge's URL with `scenewatch edges
set NAME --media-url URL`.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN (nullable): SQLite does it in place, no table copy
    op.add_column("edges", sa.Column("token_nonce", sa.String(length=64), nullable=True))
    op.execute("UPDATE edges SET media_url = NULL")


def downgrade() -> None:
    with op.batch_alter_table("edges") as batch_op:
        batch_op.drop_column("token_nonce")
