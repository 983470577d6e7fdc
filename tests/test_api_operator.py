"""The API behind the operator UI: the empty query in plain words (API and CLI alike), search
paging, audit filters by time, user management by admins only (each change audited), whether a
camera is streaming, and the favicon."""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import needs_samples
from test_api import PASSWORD, app, bearer, read_frame, seeded  # noqa: F401 (fixtures)

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from scenewatch.api import audit, auth  # noqa: E402

pytestmark = needs_samples
EMPTY = "the query is empty: type what to look for, e.g. person in a red top"


@pytest.mark.parametrize("query", ["", "   ", "\t"])
def test_empty_query_is_refused_in_plain_words(app, query):  # noqa: F811
    with TestClient(app) as client:
        answer = client.get("/api/search", params={"q": query}, headers=bearer(client, "view"))
        assert answer.status_code == 422
        assert answer.json() == {"error": EMPTY, "field": "q"}
        missing = client.get("/api/search", headers=bearer(client, "view"))
        assert missing.status_code == 422 and missing.json()["error"] == EMPTY


def test_too_long_query_names_the_limit(app):  # noqa: F811
    with TestClient(app) as client:
        answer = client.get("/api/search", params={"q": "x" * 501}, headers=bearer(client, "view"))
        assert answer.status_code == 422
        assert answer.json() == {"error": "the query is too long (501 characters): at most 500", "field": "q"}
        assert (
            client.get("/api/search", params={"q": "x" * 500}, headers=bearer(client, "view")).status_code
            == 200
        )


def test_cli_says_the_same_for_an_empty_query(run_cli):
    done = run_cli("search", "  ", timeout=120)
    assert done.returncode != 0
    assert done.stderr.strip() == f"scenewatch: error: {EMPTY.replace(': type', ' (type')})"


def test_search_pages_with_offset(app):  # noqa: F811
    with TestClient(app) as client:
        headers = bearer(client, "admin")
        both = client.get("/api/search", params={"q": "person", "limit": 2}, headers=headers).json()[
            "results"
        ]
        assert len(both) == 2
        first = client.get("/api/search", params={"q": "person", "limit": 1}, headers=headers).json()[
            "results"
        ]
        second = client.get(
            "/api/search", params={"q": "person", "limit": 1, "offset": 1}, headers=headers
        ).json()["results"]
        assert [h["track_id"] for h in first + second] == [h["track_id"] for h in both]
        beyond = client.get("/api/search", params={"q": "person", "offset": 2}, headers=headers).json()
        assert beyond["results"] == []
        refused = client.get("/api/search", params={"q": "person", "offset": 200}, headers=headers)
        assert refused.status_code == 422 and refused.json()["field"] == "offset"


def test_audit_filters_by_time_user_and_action(app, seeded):  # noqa: F811
    store = seeded[0]
    with TestClient(app) as client:
        headers = bearer(client, "admin")
        cut = time.time()
        time.sleep(0.05)
        client.get("/api/search", params={"q": "red car"}, headers=headers)
        newer = client.get("/api/audit", params={"since": cut}, headers=headers).json()
        assert newer and all(r["ts"] >= cut for r in newer)
        assert any(r["action"] == "search" and r["detail"]["text"] == "red car" for r in newer)
        older = client.get("/api/audit", params={"until": cut}, headers=headers).json()
        assert older and all(r["ts"] < cut for r in older)
        assert {r["id"] for r in newer}.isdisjoint(r["id"] for r in older)
        searches = client.get(
            "/api/audit", params={"action": "search", "user": "admin"}, headers=headers
        ).json()
        assert searches and {(r["action"], r["user"]) for r in searches} == {("search", "admin")}
        page = client.get("/api/audit", params={"limit": 2}, headers=headers).json()
        back = client.get(
            "/api/audit", params={"limit": 2, "before_id": page[-1]["id"]}, headers=headers
        ).json()
        assert back and max(r["id"] for r in back) < min(r["id"] for r in page)
        empty = client.get("/api/audit", params={"since": cut, "until": cut}, headers=headers)
        assert empty.status_code == 422 and empty.json()["field"] == "since"
    assert audit.verify(store.engine)["ok"]


def _audited(store, target: str) -> list[dict]:
    return [r for r in audit.rows(store.engine, 50, action="user_change") if r["target"] == target]


def test_user_management_is_for_admins_and_audited(app, seeded):  # noqa: F811
    store = seeded[0]
    target = auth.create_user(store.engine, "kim", PASSWORD, "viewer", cameras=["gate"])["id"]
    with TestClient(app) as client:
        for name in ("oper", "view"):
            headers = bearer(client, name)
            assert (
                client.patch(f"/api/users/{target}", json={"role": "admin"}, headers=headers).status_code
                == 403
            )
            changed = client.patch(f"/api/users/{target}", json={"all_cameras": True}, headers=headers)
            assert changed.status_code == 403
            reset = client.post(
                f"/api/users/{target}/password", json={"password": "x" + PASSWORD}, headers=headers
            )
            assert reset.status_code == 403
            assert client.delete(f"/api/users/{target}", headers=headers).status_code == 403
        assert auth.get_user(store.engine, target)["role"] == "viewer"
        assert _audited(store, "user:kim") == []  # refusals change nothing and record no change

        admin = bearer(client, "admin")
        role = client.patch(
            f"/api/users/{target}", json={"role": "operator", "cameras": ["gate", "yard"]}, headers=admin
        )
        assert role.status_code == 200 and role.json()["role"] == "operator"
        assert role.json()["cameras"] == ["gate", "yard"]
        everything = client.patch(f"/api/users/{target}", json={"all_cameras": True}, headers=admin)
        assert everything.json().get("cameras") is None
        new_password = "another-" + PASSWORD
        reset = client.post(f"/api/users/{target}/password", json={"password": new_password}, headers=admin)
        assert reset.status_code == 204
        login = client.post("/api/auth/login", json={"username": "kim", "password": new_password})
        assert login.status_code == 200
        assert client.delete(f"/api/users/{target}", headers=admin).status_code == 204
        assert (
            client.post("/api/auth/login", json={"username": "kim", "password": new_password}).status_code
            == 401
        )
    changes = [r["detail"]["change"] for r in reversed(_audited(store, "user:kim"))]
    assert changes == ["update", "update", "password", "delete"]
    assert all(r["user"] == "admin" for r in _audited(store, "user:kim"))


def test_cameras_say_whether_they_are_streaming(app):  # noqa: F811
    with TestClient(app) as client:
        headers = bearer(client, "view")

        def streaming() -> bool:
            return client.get("/api/cameras/gate", headers=headers).json()["streaming"]

        assert streaming() is False  # no pipeline: the live view would show a whole-frame mosaic
        app.state.ctx.live.put("gate", read_frame(20), np.array([[441, 233, 476, 315]]), time.time())
        assert streaming() is True
        app.state.ctx.live.forget("gate")
        assert streaming() is False


def test_favicon_is_served(app):  # noqa: F811
    with TestClient(app) as client:
        for path in ("/favicon.ico", "/ui/favicon.svg"):
            answer = client.get(path)
            assert answer.status_code == 200, path
            assert answer.headers["content-type"].startswith("image/svg+xml")
            assert answer.text.startswith("<svg")
