"""The audit trail fails closed and cannot be cut short or rewritten unnoticed.

A database that cannot be written is simulated with SQLite's ``PRAGMA query_only`` on every new
connection of the server's own engine: the tests run as root, for whom ``chmod 0444`` changes
nothing, and query_only gives exactly the error a read-only file gives ("attempt to write a readonly
database"). The start-up check and the CLI open the database through a read-only URI
(``mode=ro``), which is what SQLite does with a file it may not write.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import needs_samples
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, event, insert, select, update
from test_api import bearer, ids, seed_store
from test_central import central_url, cluster  # noqa: F401  (fixtures)

from scenewatch.api import audit, create_app
from scenewatch.api.audit_chain import chain_of
from scenewatch.api.context import ServerOptions
from scenewatch.errors import SceneWatchError
from scenewatch.store import keys
from scenewatch.store.data import DataStore
from scenewatch.store.db import open_engine
from scenewatch.store.schema import audit_log

pytestmark = needs_samples


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    root = tmp_path_factory.mktemp("audit") / "data"
    store, settings = seed_store(root)
    return store, settings


@contextlib.contextmanager
def read_only(engine: Engine) -> Iterator[None]:
    """Every connection to ``engine``'s file refuses writes until the block ends (pooled ones are
    dropped): the engine's own, and those the server's event loop commits audit records through."""

    def deny(dbapi_connection, _record) -> None:
        dbapi_connection.execute("PRAGMA query_only=ON")

    engines = [e for e in (engine, chain_of(engine).no_wait) if e is not None]
    for each in engines:
        event.listen(each, "connect", deny)
        each.dispose()
    try:
        yield
    finally:
        for each in engines:
            event.remove(each, "connect", deny)
            each.dispose()


def audit_rows(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(audit_log).order_by(audit_log.c.id))]


def audit_logs(caplog, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "scenewatch.api.audit" and r.levelno == level]


# -- fail closed -----------------------------------------------------------------------------------


def test_audited_actions_answer_503_and_nothing_else_when_the_log_cannot_be_written(seeded, caplog):
    store, settings = seeded
    track, _event = ids(store, "gate")
    caplog.set_level(logging.INFO)
    client = TestClient(create_app(store, settings, options=ServerOptions()))
    client.__enter__()
    oper, admin = bearer(client, "oper"), bearer(client, "admin")
    answer = client.get("/api/search?q=person", headers=oper)
    assert answer.status_code == 200 and answer.json()["results"], "nothing to leak: the test proves nothing"
    before = len(audit_rows(store.engine))
    with read_only(store.engine):
        refused = [client.get(f"/api/search?q=person&limit={n}", headers=oper) for n in range(1, 6)]
        refused += [
            client.get(f"/api/search/like/{track}", headers=oper),
            client.get(f"/api/clips/track/{track}", headers=oper),
            client.get("/api/audit/export?format=csv", headers=admin),
        ]
        for answer in refused:
            assert answer.status_code == 503, answer.text
            assert answer.headers["content-type"] == "application/json"
            assert set(answer.json()) == {"error", "field"} and "audit log" in answer.json()["error"]
    assert len(audit_rows(store.engine)) == before  # nothing recorded ...
    failures = audit_logs(caplog, logging.ERROR)
    assert len(failures) == 1 and "readonly" in failures[0].getMessage()  # ... and said once
    assert not [r for r in caplog.records if r.exc_info], "no tracebacks for a known failure"
    # writable again: served and recorded, and the recovery said once
    assert client.get("/api/search?q=person", headers=oper).status_code == 200
    assert len(audit_logs(caplog, logging.WARNING)) == 1
    assert audit_rows(store.engine)[-1]["action"] == "search"
    with read_only(store.engine):  # failing at the moment it stops: it still stops at once
        assert client.get("/api/search?q=person", headers=oper).status_code == 503
        started = time.monotonic()
        client.__exit__(None, None, None)
        assert time.monotonic() - started < 5.0
    assert audit.verify(store.engine)["ok"] is True


def test_records_queued_without_a_waiter_are_kept_until_the_database_recovers(tmp_path, caplog):
    store = DataStore.open(tmp_path / "d")
    audit.append(store.engine, "admin", "login", "user:admin")
    with read_only(store.engine):
        audit.append_later(store.engine, "admin", "logout", "user:admin")
        with pytest.raises(audit.AuditUnavailable):
            audit.append(store.engine, "admin", "search", "search", {"text": "refused"})
        assert audit.flush(store.engine, timeout=5.0) == 1  # tried, still queued, and said so
    assert audit.flush(store.engine, timeout=10.0) == 0
    actions = [r["action"] for r in audit_rows(store.engine)]
    assert actions == ["login", "logout"]  # kept and written; the refused search never was
    assert audit.verify(store.engine)["ok"] is True


def test_the_server_refuses_to_start_on_a_database_it_cannot_write(seeded):
    store, settings = seeded
    url = f"sqlite:///file:{store.root / 'scenewatch.db'}?mode=ro&uri=true"
    read_only_store = DataStore(store.root, open_engine(url, migrate=False), store.media)
    with pytest.raises(SceneWatchError) as refused:
        create_app(read_only_store, settings)
    message = str(refused.value)
    assert str(store.root / "scenewatch.db") in message and "readonly" in message
    assert "writable" in message  # what to do


def test_serve_refuses_to_start_read_only(run_cli):
    store, _settings = seed_store(run_cli.data)
    url = f"sqlite:///file:{store.root / 'scenewatch.db'}?mode=ro&uri=true"
    done = run_cli("serve", "--no-pipeline", "--port", "1", timeout=60, env={"SCENEWATCH_DATABASE_URL": url})
    assert done.returncode != 0
    assert "cannot write the audit log" in done.stderr and "scenewatch.db" in done.stderr
    assert "Traceback" not in done.stderr


# -- anchoring: every column, truncation, rewrites --------------------------------------------------


def small_log(root: Path, count: int = 6) -> DataStore:
    store = DataStore.open(root)
    for n in range(count):
        audit.append(
            store.engine, f"user{n}", "search", f"target{n}", {"text": f"query {n}", "client": "10.0.0.1"}
        )
    assert audit.verify(store.engine)["ok"] is True
    return store


# each column of a row, and a value that differs from any real one
COLUMN_CHANGES = {
    "ts": lambda row: row["ts"] + 1.0,
    "user": lambda row: "someone-else",
    "action": lambda row: "login",
    "target": lambda row: "other-target",
    "detail": lambda row: {**row["detail"], "client": "10.9.9.9"},
    "prev_hash": lambda row: "f" * 64,
    "hash": lambda row: "e" * 64,
    "mac": lambda row: "d" * 64,
}


@pytest.mark.parametrize("column", sorted(COLUMN_CHANGES))
def test_verify_detects_a_change_of_each_column(tmp_path, column):
    store = small_log(tmp_path / "d")
    victim = audit_rows(store.engine)[3]
    with store.engine.begin() as conn:
        conn.execute(
            update(audit_log)
            .where(audit_log.c.id == victim["id"])
            .values({column: COLUMN_CHANGES[column](victim)})
        )
    verdict = audit.verify(store.engine)
    assert verdict["ok"] is False and verdict["first_bad"] == victim["id"], (column, verdict)
    with store.engine.begin() as conn:  # put back: it passes again, so the change alone was caught
        conn.execute(update(audit_log).where(audit_log.c.id == victim["id"]).values({column: victim[column]}))
    assert audit.verify(store.engine)["ok"] is True


def test_verify_detects_a_renumbered_row(tmp_path):
    store = small_log(tmp_path / "d")
    last = audit_rows(store.engine)[-1]["id"]
    with store.engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.id == last).values(id=last + 5))
    verdict = audit.verify(store.engine)
    assert verdict["ok"] is False and verdict["first_bad"] == last + 5


def test_verify_detects_deleting_the_newest_rows(run_cli):
    store = small_log(run_cli.data)
    with store.engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.id > 4))
    verdict = audit.verify(store.engine)
    assert verdict["ok"] is False and "newest rows were deleted" in verdict["reason"]
    assert verdict["rows"] == 4 and verdict["checkpoint"]["rows"] == 6
    done = run_cli("audit", "verify")
    assert done.returncode == 1 and "newest rows were deleted" in done.stdout, done.stderr


def test_verify_detects_deleting_the_newest_rows_even_after_new_ones_follow(tmp_path):
    store = small_log(tmp_path / "d")
    with store.engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.id > 4))
    for n in range(3):  # the server goes on writing onto the cut chain: ids 5 and 6 come back
        audit.append(store.engine, "later", "search", "search", {"n": n})
    verdict = audit.verify(store.engine)
    assert verdict["ok"] is False and verdict["first_bad"] == 6 and "checkpoint" in verdict["reason"]


def rewrite_from(engine: Engine, first: int, change: dict, mac: object = "keep") -> None:
    """What someone with the database but not the key can do: change rows from id ``first`` on and
    recompute every plain hash after them (and with ``mac=None`` pass them off as unsigned)."""
    rows = audit_rows(engine)
    prev = audit.GENESIS
    with engine.begin() as conn:
        for row in rows:
            if row["id"] >= first:
                row = {**row, **change, "prev_hash": prev}
                row["hash"] = audit.link(
                    prev, row["ts"], row["user"], row["action"], row["target"], row["detail"]
                )
                values = {k: row[k] for k in ("user", "detail", "prev_hash", "hash")}
                if mac is None:
                    values["mac"] = None
                conn.execute(update(audit_log).where(audit_log.c.id == row["id"]).values(**values))
            prev = row["hash"]


def test_verify_detects_a_rewrite_with_recomputed_hashes(tmp_path):
    store = small_log(tmp_path / "d")
    rewrite_from(store.engine, 3, {"user": "nobody"})
    verdict = audit.verify(store.engine)
    assert verdict["ok"] is False and verdict["first_bad"] == 3 and "MAC does not match" in verdict["reason"]


def test_verify_detects_a_rewrite_passed_off_as_unsigned(tmp_path):
    store = small_log(tmp_path / "d")
    rewrite_from(store.engine, 1, {"user": "nobody"}, mac=None)
    verdict = audit.verify(store.engine)
    assert verdict["ok"] is False and verdict["first_bad"] == 1 and "MAC was removed" in verdict["reason"]


def test_verify_reports_a_missing_key_and_an_edited_checkpoint(tmp_path):
    store = small_log(tmp_path / "d")
    checkpoints = store.root / "audit.checkpoints"
    lines = checkpoints.read_text().splitlines()
    forged = {**json.loads(lines[-1]), "rows": 99, "id": 99}
    checkpoints.write_text("\n".join([*lines, json.dumps(forged)]) + "\n")
    verdict = audit.verify(store.engine)
    assert verdict["ok"] is False and "bad MAC" in verdict["reason"]
    checkpoints.write_text("\n".join(lines) + "\n")
    keys.key_path(store.root).unlink()
    fresh = DataStore.open(store.root)  # a new process: no key in memory
    verdict = audit.verify(fresh)
    assert verdict["ok"] is False and "key file" in verdict["reason"] and "missing" in verdict["reason"]
    with pytest.raises(audit.AuditUnavailable):  # and nothing is signed with a new key meanwhile
        audit.append(fresh, "admin", "search", "search")


def test_processes_starting_together_share_one_key(tmp_path):
    # the key file must appear whole: a reader that saw it half made would sign with another key
    from concurrent.futures import ProcessPoolExecutor

    for attempt in range(5):
        folder = tmp_path / str(attempt)
        folder.mkdir()
        with ProcessPoolExecutor(6) as pool:
            made = set(pool.map(keys.node_key, [folder] * 24))
        assert len(made) == 1 and len(made.pop()) == 32
        assert [p.name for p in folder.iterdir()] == [keys.KEY_FILE]  # nothing left aside


def test_a_cut_key_file_is_refused_not_used(tmp_path):
    keys.key_path(tmp_path).write_text("ab" * 8)
    keys.key_path(tmp_path).chmod(0o600)
    with pytest.raises(SceneWatchError, match="64 hex digits"):
        keys.node_key(tmp_path)


def test_rows_from_before_signing_pass_as_unanchored(tmp_path):
    store = DataStore.open(tmp_path / "d")
    prev = audit.GENESIS
    with store.engine.begin() as conn:  # a chain as written before migration 0010: no MACs
        for n in range(1, 4):
            digest = audit.link(prev, 1.0e9 + n, "old", "search", "search", {})
            values = dict(id=n, ts=1.0e9 + n, user="old", action="search", target="search", detail={})
            conn.execute(insert(audit_log).values(**values, prev_hash=prev, hash=digest))
            prev = digest
    verdict = audit.verify(store.engine)
    assert verdict["ok"] is True and verdict["unanchored_before"] == 4
    audit.append(store.engine, "new", "search", "search")
    verdict = audit.verify(store.engine)
    assert verdict["ok"] is True and verdict["unanchored_before"] == 4 and verdict["rows"] == 4
    with store.engine.begin() as conn:  # the unsigned part still links: a change there is seen
        conn.execute(update(audit_log).where(audit_log.c.id == 2).values(user="forged"))
    assert audit.verify(store.engine)["first_bad"] == 2


def test_verify_route_reports_truncation(seeded):
    store, settings = seeded
    with TestClient(create_app(store, settings)) as client:
        admin = bearer(client, "admin")
        client.get("/api/search?q=car", headers=admin)
        assert client.get("/api/audit/verify", headers=admin).json()["ok"] is True
        newest = audit_rows(store.engine)[-1]
        with store.engine.begin() as conn:
            conn.execute(delete(audit_log).where(audit_log.c.id == newest["id"]))
        verdict = client.get("/api/audit/verify", headers=admin).json()
        assert verdict["ok"] is False and "newest rows were deleted" in verdict["reason"]
        with store.engine.begin() as conn:
            conn.execute(insert(audit_log).values(**newest))
        assert client.get("/api/audit/verify", headers=admin).json()["ok"] is True


# -- CSV export ------------------------------------------------------------------------------------


def test_csv_export_defuses_formulas_in_user_names(seeded):
    store, settings = seeded
    name = '=HYPERLINK("http://x","y")'
    with TestClient(create_app(store, settings)) as client:
        failed = client.post("/api/auth/login", json={"username": name, "password": "wrong-password"})
        assert failed.status_code == 401
        admin = bearer(client, "admin")
        export = client.get("/api/audit/export?format=csv", headers=admin)
    assert export.status_code == 200
    table = list(csv.DictReader(io.StringIO(export.text)))
    cells = [row["user"] for row in table if row["action"] == "login_failed"]
    assert f"'{name}" in cells
    dangerous = ("=", "+", "-", "@", "\t", "\r")
    assert not [cell for row in table for cell in row.values() if cell.startswith(dangerous)]


# -- the command line ------------------------------------------------------------------------------


def test_cli_searches_exports_and_track_views_are_audited_as_the_os_user(tmp_path, run_cli):
    store, _settings = seed_store(run_cli.data)
    track, _event = ids(store, "gate")
    commands = [
        ("search", "person"),
        ("search", "--like", str(track)),
        ("tracks", "show", str(track)),
        ("tracks", "list", "--camera", "gate"),
        ("export", "mot", "--camera", "gate", "-o", str(tmp_path / "gate.txt")),
    ]
    for command in commands:
        done = run_cli(*command)
        assert done.returncode == 0, (command, done.stderr)
    actor = audit.os_actor()
    mine = [(r["action"], r["target"]) for r in audit_rows(store.engine) if r["user"] == actor]
    assert mine == [
        ("search", "search"),
        ("search", f"track:{track}"),
        ("track_view", f"track:{track}"),
        ("track_view", "tracks"),
        ("export", "camera:gate"),
    ]
    done = run_cli("audit", "verify")
    assert done.returncode == 0 and "audit log ok: 5 rows" in done.stdout, done.stdout + done.stderr


def test_cli_search_shows_nothing_when_it_cannot_be_audited(run_cli):
    store, _settings = seed_store(run_cli.data)
    url = f"sqlite:///file:{store.root / 'scenewatch.db'}?mode=ro&uri=true"
    done = run_cli("search", "person", "--json", env={"SCENEWATCH_DATABASE_URL": url})
    assert done.returncode != 0 and done.stdout == ""
    assert "audit log cannot be written" in done.stderr and "Traceback" not in done.stderr


# -- PostgreSQL ------------------------------------------------------------------------------------


def test_postgres_writers_race_into_one_signed_chain_and_truncation_is_seen(central_url, tmp_path):  # noqa: F811
    import threading

    (tmp_path / "pg").mkdir()  # the data folder: the key and the checkpoints
    stores = [DataStore.open(tmp_path / "pg", database_url=central_url) for _ in range(2)]
    threads = [
        threading.Thread(
            target=lambda n=n: [audit.append(stores[n % 2], f"u{n}", "search", "s") for _ in range(10)]
        )
        for n in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    verdict = audit.verify(stores[0])
    assert verdict["ok"] is True and verdict["rows"] == 40, verdict
    with stores[0].engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.id > 38))
    verdict = audit.verify(stores[1])
    assert verdict["ok"] is False and "newest rows were deleted" in verdict["reason"]
