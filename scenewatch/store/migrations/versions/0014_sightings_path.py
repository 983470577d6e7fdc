"""track_sightings.path_packed: a finished track's stored path packed beside its sightings

A rule replay reads the path of every track of a week (which tracks come near the zone or line,
when each was on view); parsing 50,000 JSON texts cost it a tenth of a second and more. The
path is packed as little-endian float64 (time, x, y) rows when the track's sightings are packed
(``store/sightings.py``); the rows packed before this revision are filled in here. A track
without packed sightings keeps its JSON path alone (replays parse it).

Revision ID: 0014
Revises: 0013
"""

import json

import numpy as np
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BATCH = 5000  # tracks a round of the backfill


def upgrade() -> None:
    op.add_column("track_sightings", sa.Column("path_packed", sa.LargeBinary(), nullable=True))
    bind = op.get_bind()
    last = -1
    while True:
        rows = bind.execute(
            sa.text(
                "SELECT s.track_id, CAST(t.path AS TEXT) FROM track_sightings s "
                "JOIN tracks t ON t.id = s.track_id WHERE s.track_id > :last "
                "ORDER BY s.track_id LIMIT :batch"
            ),
            {"last": last, "batch": BATCH},
        ).fetchall()
        if not rows:
            return
        last = rows[-1][0]
        values = [{"id": track_id, "packed": _packed(text)} for track_id, text in rows]
        values = [v for v in values if v["packed"] is not None]
        if values:
            bind.execute(
                sa.text("UPDATE track_sightings SET path_packed = :packed WHERE track_id = :id"), values
            )


def _packed(text: str | None) -> bytes | None:
    """The JSON path ``[[t, x, y], ...]`` as float64 rows; None for one that is not such a list."""
    try:
        points = np.asarray(json.loads(text or "null"), "<f8")
    except (TypeError, ValueError):
        return None
    if points.size and (points.ndim != 2 or points.shape[1] != 3):
        return None
    return points.reshape(-1, 3).tobytes()


def downgrade() -> None:
    with op.batch_alter_table("track_sightings") as batch:
        batch.drop_column("path_packed")
