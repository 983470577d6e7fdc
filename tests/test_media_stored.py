"""Media for a user with nothing to hide is the stored file itself (no decoding, no people to look
up, no encoding again); masked users and privacy zones still get a masked picture. Uses
test_api's seeded store and app."""

from __future__ import annotations

from fastapi.testclient import TestClient
from test_api import app, bearer, ids, repo_health_id, seeded  # noqa: F401  (fixtures and helpers)

from scenewatch.rules.store import get_event
from scenewatch.store import repo
from scenewatch.store.schema import health_events


def _media(store) -> dict[str, tuple[str, str]]:
    """URL -> media path of gate's thumbnail, event snapshot and health snapshot."""
    from sqlalchemy import select

    track, event = ids(store, "gate")
    health = repo_health_id(store, "gate")
    with store.engine.connect() as conn:
        health_snap = conn.scalar(select(health_events.c.snapshot).where(health_events.c.id == health))
    return {
        f"/api/tracks/{track}/thumbnail.jpg": repo.get_track(store.engine, track, with_boxes=False)[
            "thumbnail"
        ],
        f"/api/events/{event}/snapshot.jpg": get_event(store.engine, event)["snapshot"],
        f"/api/health/events/{health}/snapshot.jpg": health_snap,
    }


def test_unmasked_users_get_the_stored_file(app, seeded):  # noqa: F811
    store, _settings, _root = seeded
    with TestClient(app) as client:
        for url, relative in _media(store).items():
            stored = store.media.absolute(relative).read_bytes()
            for who in ("admin", "clear"):
                answer = client.get(url, headers=bearer(client, who))
                assert answer.status_code == 200, (url, who, answer.text)
                assert answer.content == stored, (url, who)
                assert answer.headers["content-type"] == "image/jpeg"
                assert "no-store" in answer.headers["cache-control"]
            # people are pixelated for a masked viewer: a picture made for them
            masked = client.get(url, headers=bearer(client, "view"))
            assert masked.status_code == 200 and masked.content != stored, url


def test_a_privacy_zone_masks_the_picture_for_unmasked_users_too(app, seeded):  # noqa: F811
    store, _settings, _root = seeded
    with TestClient(app) as client:
        admin = bearer(client, "admin")
        zone = {"polygons": [[[0, 0], [200, 0], [200, 150], [0, 150]]]}
        assert client.put("/api/config/cameras/gate/privacy", json=zone, headers=admin).status_code == 200
        try:
            for url, relative in _media(store).items():
                answer = client.get(url, headers=admin)
                assert answer.status_code == 200
                assert answer.content != store.media.absolute(relative).read_bytes(), url
        finally:
            client.put("/api/config/cameras/gate/privacy", json={"polygons": []}, headers=admin)


def test_a_stored_file_that_is_not_a_picture_is_404(app, seeded):  # noqa: F811
    store, _settings, _root = seeded
    url, relative = next(iter(_media(store).items()))
    path = store.media.absolute(relative)
    kept = path.read_bytes()
    try:
        path.write_bytes(b"not a jpeg")
        with TestClient(app) as client:
            answer = client.get(url, headers=bearer(client, "admin"))
        assert answer.status_code == 404
        assert "media file" in answer.json()["error"]
    finally:
        path.write_bytes(kept)
