"""What the busy endpoints do per request stays correct when done cheaply: audit records awaited on
the event loop share commits, keep their order and still fail closed; a remembered token never
outlives a change of its user; a search answered from the cache is still audited first."""

from __future__ import annotations

import asyncio

import pytest
from conftest import needs_samples
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from test_api import PASSWORD, bearer, seed_store
from test_audit_anchor import audit_rows, read_only

from scenewatch.api import audit, auth, auth_sessions, create_app
from scenewatch.api.context import ServerOptions
from scenewatch.store.data import DataStore
from scenewatch.store.schema import audit_log


def commits(store: DataStore) -> list[int]:
    """A counter of the engine's commits (a list to read from the test)."""
    count = [0]
    event.listen(store.engine, "commit", lambda _conn: count.__setitem__(0, count[0] + 1))
    return count


def test_awaited_records_keep_their_order_share_commits_and_chain(tmp_path):
    store = DataStore.open(tmp_path / "d")
    audit.append(store.engine, "admin", "login", "user:admin")
    count = commits(store)

    async def many() -> list[str]:
        return await asyncio.gather(
            *(audit.append_async(store.engine, "admin", "search", f"search:{n}", {"n": n}) for n in range(60))
        )

    digests = asyncio.run(many())
    rows = audit_rows(store.engine)[1:]
    assert [r["target"] for r in rows] == [f"search:{n}" for n in range(60)]  # the order asked in
    assert digests == [r["hash"] for r in rows]  # each told its own committed record
    assert count[0] < 30, f"{count[0]} commits for 60 records: not grouped"
    assert audit.verify(store.engine)["ok"] is True


def test_an_awaited_record_that_cannot_be_written_refuses_and_leaves_nothing(tmp_path):
    store = DataStore.open(tmp_path / "d")
    audit.append(store.engine, "admin", "login", "user:admin")

    async def one(target: str) -> str:
        return await audit.append_async(store.engine, "admin", "search", target)

    with read_only(store.engine), pytest.raises(audit.AuditUnavailable, match="audit log cannot be written"):
        asyncio.run(one("refused"))
    assert asyncio.run(one("served"))  # written again once the database is
    assert [r["target"] for r in audit_rows(store.engine)] == ["user:admin", "served"]
    assert audit.verify(store.engine)["ok"] is True


def test_a_lookup_that_races_a_change_of_its_user_is_not_remembered(tmp_path, monkeypatch):
    store = DataStore.open(tmp_path / "d")
    user = auth.create_user(store.engine, "kim", PASSWORD, "admin")
    token, _session = auth.create_session(store.engine, user["id"], 3600)
    read = auth_sessions._lookup

    def read_then_changed(engine, token):
        found = read(engine, token)  # the row as it was ...
        auth.update_user(engine, user["id"], role="viewer")  # ... changed before it is remembered
        return found

    monkeypatch.setattr(auth_sessions, "_lookup", read_then_changed)
    assert auth.lookup_session(store.engine, token)[1]["role"] == "admin"  # read before the change
    monkeypatch.setattr(auth_sessions, "_lookup", read)
    assert auth.cached_session(token) is None, "an answer read before the change was remembered"
    assert auth.lookup_session(store.engine, token)[1]["role"] == "viewer"
    assert auth.cached_session(token)[1]["role"] == "viewer"  # remembered from then on


@needs_samples
def test_a_search_answered_from_the_cache_is_audited_first(tmp_path):
    store, settings = seed_store(tmp_path / "data")
    with TestClient(create_app(store, settings, options=ServerOptions())) as client:
        oper = bearer(client, "oper")
        first = client.get("/api/search?q=person", headers=oper)
        assert first.status_code == 200 and first.json()["results"]
        again = client.get("/api/search?q=person", headers=oper)
        assert again.content == first.content  # the same answer (from the cache) ...
        with store.engine.connect() as conn:
            searches = conn.scalars(select(audit_log.c.user).where(audit_log.c.action == "search")).all()
        assert searches == ["oper", "oper"]  # ... recorded each time
        with read_only(store.engine):
            refused = client.get("/api/search?q=person", headers=oper)
        assert refused.status_code == 503 and "audit log" in refused.json()["error"]
        # a changed role takes effect on the next request, though the token was just checked
        events = client.get("/api/events", headers=oper)
        assert events.status_code == 200
        operator = auth.find_user(store.engine, "oper")
        auth.update_user(store.engine, operator["id"], disabled=True)
        assert client.get("/api/events", headers=oper).status_code == 401
        assert client.get("/api/search?q=person", headers=oper).status_code == 401


def test_search_answers_follow_rows_and_index_not_updates_of_tracks_in_progress(tmp_path):
    from sqlalchemy import delete, update

    from scenewatch.api.cache import TableVersions, rows_of
    from scenewatch.store.schema import track_terms, tracks

    store, _ = seed_store(tmp_path / "d")
    versions = TableVersions(store.engine, ("tracks", "track_terms"))
    searched = (rows_of("tracks"), "track_terms")
    with store.engine.connect() as conn:
        track = conn.execute(select(tracks.c.id).limit(1)).scalar_one()

    before = versions.version(*searched)
    with store.engine.begin() as conn:  # a track still in progress moves on: its row is updated
        conn.execute(update(tracks).where(tracks.c.id == track).values(last_ts=tracks.c.last_ts + 1))
    assert versions.version(*searched) == before
    assert versions.version("tracks") != (0,)  # every write still counts for readers of the whole row

    with store.engine.begin() as conn:  # finished and indexed: its terms are written
        conn.execute(delete(track_terms).where(track_terms.c.track_id == track))
    assert versions.version(*searched) != before
    indexed = versions.version(*searched)
    with store.engine.begin() as conn:  # retention deletes the row
        conn.execute(delete(tracks).where(tracks.c.id == track))
    assert versions.version(*searched) != indexed
