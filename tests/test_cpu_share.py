"""What leaves the cores to the API while cameras run, and what a search waits for: inference
sessions whose idle workers sleep instead of spinning; a search's audit record committed on the event
loop, or while its answer is found when the cameras hold the lock, the answer sent only after; the lean keep-alive client bench/api.py loads the
server with."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import sys
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from conftest import MODELS, needs_models, needs_samples
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from test_api import bearer, seed_store

from scenewatch.api import audit_chain, create_app
from scenewatch.api.context import ServerOptions
from scenewatch.search import engine
from scenewatch.store.schema import audit_log
from scenewatch.vision.detector import open_session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from http_client import HttpError, KeepAliveClient, parse_head  # noqa: E402

SPINNING = "session.intra_op.allow_spinning"
DEADLINE_S = 60.0


@needs_models
@pytest.mark.parametrize("model, threads", [("centernet.onnx", 2), ("movenet-multipose.onnx", 1)])
def test_inference_workers_sleep_between_runs(model, threads):
    # a spinning worker kept a core busy between a camera's frames: twice the CPU a detection
    session = open_session(MODELS / model, threads=threads)
    assert session.get_session_options().get_session_config_entry(SPINNING) == "0"


@needs_samples
def test_a_search_is_answered_while_its_record_waits_for_the_lock_and_sent_only_after_it(
    tmp_path, monkeypatch
):
    # the cameras hold the database's write lock: the record waits (handed to the writer thread),
    # the answer is found meanwhile and leaves only once the record is committed
    store, settings = seed_store(tmp_path / "data")
    searched = threading.Event()
    run_search = engine.search

    def noted(*args, **kwargs):
        searched.set()
        return run_search(*args, **kwargs)

    monkeypatch.setattr(engine, "search", noted)
    app = create_app(store, settings, options=ServerOptions())
    with TestClient(app) as client:
        oper = bearer(client, "oper")
        cameras = sqlite3.connect(store.engine.url.database, timeout=0, isolation_level=None)
        cameras.execute("BEGIN IMMEDIATE")  # a camera's write transaction, held
        answers: list = []
        asking = threading.Thread(
            target=lambda: answers.append(client.get("/api/search?q=person", headers=oper))
        )
        asking.start()
        assert searched.wait(DEADLINE_S), "the search waited for its record's commit"
        deadline = time.monotonic() + DEADLINE_S
        while app.state.ctx.search_cache.computed < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        asking.join(0.5)  # an answer sent before the commit would arrive now
        assert answers == [], "the answer left before its audit record was committed"
        cameras.execute("COMMIT")
        cameras.close()
        asking.join(DEADLINE_S)
        assert answers[0].status_code == 200 and answers[0].json()["results"]
        assert _search_users(store) == ["oper"]


@needs_samples
def test_a_search_record_is_committed_on_the_event_loop_when_the_database_is_free(tmp_path):
    # no trip through the writer thread (whose wake-ups wait for the GIL on a busy server)
    store, settings = seed_store(tmp_path / "data")
    committers: list[str] = []
    with TestClient(create_app(store, settings, options=ServerOptions())) as client:
        oper = bearer(client, "oper")
        quick = audit_chain.chain_of(store.engine).no_wait
        assert quick is not None
        event.listen(quick, "commit", lambda _conn: committers.append(threading.current_thread().name))
        answers = [client.get(f"/api/search?q=person&limit={n}", headers=oper) for n in (1, 2, 3)]
    assert [a.status_code for a in answers] == [200] * 3
    assert _search_users(store) == ["oper"] * 3
    assert len(committers) == 3 and "audit-writer" not in committers


def _search_users(store) -> list[str]:
    with store.engine.connect() as conn:
        return conn.scalars(select(audit_log.c.user).where(audit_log.c.action == "search")).all()


def test_parse_head_reads_the_status_and_headers_and_refuses_what_is_not_http():
    status, headers = parse_head(b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n\r\n")
    assert (status, headers) == (404, {"content-type": "text/plain"})
    with pytest.raises(HttpError, match="not an HTTP/1.x status line"):
        parse_head(b"SSH-2.0-OpenSSH\r\n\r\n")


def _app() -> Starlette:
    async def sized(request):
        return Response(b"x" * int(request.query_params["n"]), headers={"x-path": request.url.path})

    async def chunked(_request):
        async def parts():
            for part in (b"one,", b"two,", b"three"):
                yield part

        return StreamingResponse(parts())

    async def closing(_request):
        return PlainTextResponse("bye", headers={"connection": "close"})

    async def auth(request):
        return PlainTextResponse(request.headers.get("authorization", ""), status_code=201)

    routes = [Route("/sized/{name}", sized), Route("/chunked", chunked), Route("/close", closing)]
    return Starlette(routes=[*routes, Route("/auth", auth)])


@pytest.fixture
def server():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(_app(), host="127.0.0.1", port=port, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(10)


def test_lean_client_reads_sized_chunked_and_closed_answers_on_one_connection(server):
    async def talk() -> list:
        async with KeepAliveClient(server, {"authorization": "Bearer t0ken"}) as http:
            got = [await http.get("/sized/a?n=0"), await http.get("/sized/b%20c?n=70000")]
            first = http._writer  # the connection kept alive across requests
            got += [await http.get("/chunked"), await http.get("/auth")]
            same = http._writer is first
            got += [await http.get("/close"), await http.get("/sized/again?n=3")]  # reconnects
            return [*got, same]

    empty, large, chunked, auth, closed, again, same = asyncio.run(talk())
    assert empty == (200, b"") and large == (200, b"x" * 70000)
    assert chunked == (200, b"one,two,three")
    assert auth == (201, b"Bearer t0ken")
    assert closed == (200, b"bye") and again == (200, b"xxx")
    assert same


def test_lean_client_says_when_the_connection_breaks_before_the_answer():
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
        await writer.drain()
        writer.close()

    async def ask() -> None:
        peer = await asyncio.start_server(hang_up, "127.0.0.1", 0)
        port = peer.sockets[0].getsockname()[1]
        async with peer, KeepAliveClient(f"http://127.0.0.1:{port}", timeout=30) as http:
            await http.get("/events")

    with pytest.raises(HttpError, match="GET /events: the connection broke"):
        asyncio.run(ask())
