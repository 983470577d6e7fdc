"""Attacks on sign-in and accounts, against the real server: ``scenewatch serve`` and ``serve
--central`` run as subprocesses on 127.0.0.1 (uvicorn's own proxy-header handling included), and
clients bind other loopback addresses (127.0.0.x) to act as distinct machines.

Forged X-Forwarded-For, locking the admin out, guessing through the password change, and weak
passwords at every place a password is set (API create, admin reset, self-service, CLI).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from conftest import cli_path
from support.streams import free_port

from scenewatch.api import audit, auth
from scenewatch.config import load_config
from scenewatch.errors import ConfigError
from scenewatch.store.data import DataStore

PASSWORD = "correct-horse-battery"
WRONG = "wrong-password-guess"
LIMITS = auth.LoginLimiter()  # the server's defaults (ServerOptions: 5 per 60 s)
WEAK_MESSAGE = "password too easy to guess"


class Server:
    """``scenewatch serve --no-pipeline`` (or ``serve --central``) on a free port of 127.0.0.1."""

    def __init__(self, data: Path, config: Path, central: bool):
        self.data, self.port = data, free_port()
        mode = ["--central"] if central else ["--no-pipeline"]
        self.args = [cli_path(), "--data", str(data), "serve", *mode, "--config", str(config)]
        self.args += ["--host", "127.0.0.1", "--port", str(self.port)]
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, address: str = "127.0.0.1") -> httpx.Client:
        """A client whose connections come from ``address`` (any 127.0.0.0/8 address is local)."""
        transport = httpx.HTTPTransport(local_address=address)
        return httpx.Client(base_url=self.url, transport=transport, timeout=30)

    def __enter__(self) -> Server:
        env = {k: v for k, v in os.environ.items() if k != "SCENEWATCH_DATABASE_URL"}
        self.process = subprocess.Popen(
            self.args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        deadline = time.monotonic() + 60
        with self.client() as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise AssertionError(f"server exited: {self.process.stdout.read()}")
                try:
                    if client.get("/api/version").status_code == 200:
                        return self
                except httpx.TransportError:
                    time.sleep(0.2)
        self.__exit__()
        raise AssertionError("server did not answer within 60 s")

    def __exit__(self, *_exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data folder with an admin and a viewer (so no first admin is generated)."""
    folder = tmp_path / "data"
    store = DataStore.open(folder)
    auth.create_user(store.engine, "admin", PASSWORD, "admin", unmasked=True)
    auth.create_user(store.engine, "view", PASSWORD, "viewer")
    store.engine.dispose()
    return folder


def _config(tmp_path: Path, text: str = "cameras: []\n") -> Path:
    path = tmp_path / "server.yaml"
    path.write_text(text)
    return path


@pytest.fixture(params=["serve", "central"])
def server(request, data: Path, tmp_path: Path) -> Iterator[Server]:
    with Server(data, _config(tmp_path), central=request.param == "central") as running:
        yield running


def _login(client: httpx.Client, name: str, password: str, **headers: str) -> httpx.Response:
    return client.post("/api/auth/login", json={"username": name, "password": password}, headers=headers)


def _failed_logins(data: Path) -> list[dict]:
    store = DataStore.open(data, create=False)
    try:
        return audit.rows(store.engine, limit=1000, action="login_failed")
    finally:
        store.engine.dispose()


# -- X-Forwarded-For ----------------------------------------------------------------------------------


def test_forged_forwarded_for_neither_escapes_the_limit_nor_the_audit(server: Server):
    """A new X-Forwarded-For on every try: the limit still counts the socket's address, and the
    audit records it, on ``serve`` and ``serve --central`` alike."""
    with server.client() as client:
        answers = [
            _login(client, "view", WRONG, **{"X-Forwarded-For": f"203.0.113.{i}"}).status_code
            for i in range(LIMITS.max_failures + 2)
        ]
        assert answers == [401] * LIMITS.max_failures + [429] * 2
        # a spray over many user names, each from a "new" address, runs into the address limit
        sprayed = [
            _login(client, f"user{i}", WRONG, **{"X-Forwarded-For": f"198.51.100.{i}"}).status_code
            for i in range(LIMITS.address_max - LIMITS.max_failures + 1)
        ]
        assert sprayed[:-1] == [401] * (len(sprayed) - 1) and sprayed[-1] == 429
    clients = {row["detail"]["client"] for row in _failed_logins(server.data)}
    assert clients == {"127.0.0.1"}


@pytest.mark.parametrize("central", [False, True], ids=["serve", "central"])
def test_forwarded_for_is_believed_from_a_configured_proxy_only(data: Path, tmp_path: Path, central: bool):
    config = _config(tmp_path, "cameras: []\nserver:\n  trusted_proxies: [127.0.0.1]\n")
    with Server(data, config, central) as running:
        with running.client("127.0.0.1") as proxy:
            assert _login(proxy, "view", WRONG, **{"X-Forwarded-For": "198.51.100.7"}).status_code == 401
        with running.client("127.0.0.2") as direct:
            assert _login(direct, "view", WRONG, **{"X-Forwarded-For": "198.51.100.8"}).status_code == 401
    clients = sorted(row["detail"]["client"] for row in _failed_logins(data))
    assert clients == ["127.0.0.2", "198.51.100.7"]


def test_trusted_proxies_must_be_addresses(tmp_path: Path):
    for bad in ("'*'", "proxy.example"):
        with pytest.raises(ConfigError, match=r"server\.trusted_proxies.*not an IP address"):
            load_config(_config(tmp_path, f"server:\n  trusted_proxies: [{bad}]\n"))
    config = load_config(_config(tmp_path, "server:\n  trusted_proxies: [10.0.0.0/24, '::1']\n"))
    assert config.server.trusted_proxies == ["10.0.0.0/24", "::1"]
    assert load_config(_config(tmp_path)).server.trusted_proxies == []


# -- locking the admin out ----------------------------------------------------------------------------


def test_attackers_cannot_lock_the_admin_out(data: Path, tmp_path: Path):
    """Wrong admin passwords from one address, then from many: the guessers are stopped, the
    admin signing in from an address of their own is not."""
    with Server(data, _config(tmp_path), central=False) as running:
        with running.client("127.0.0.10") as attacker:
            answers = [_login(attacker, "admin", WRONG).status_code for _ in range(LIMITS.max_failures + 1)]
            assert answers == [401] * LIMITS.max_failures + [429]
            assert _login(attacker, "admin", PASSWORD).status_code == 429  # guessing right does not help
        with running.client("127.0.0.3") as admin:
            assert _login(admin, "admin", PASSWORD).status_code == 200
        # the same attack spread over many addresses, one try each, up to the per-user limit
        spread = LIMITS.user_max - LIMITS.max_failures
        for number in range(spread):
            with running.client(f"127.0.1.{number + 1}") as attacker:
                assert _login(attacker, "admin", WRONG).status_code == 401
        with running.client("127.0.1.1") as attacker:  # has guessed wrong: now waits
            refused = _login(attacker, "admin", PASSWORD)
            assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        with running.client("127.0.0.4") as admin:  # a third address that never guessed
            assert _login(admin, "admin", PASSWORD).status_code == 200
        with running.client("127.0.0.10") as attacker:  # the first guesser still waits
            assert _login(attacker, "admin", PASSWORD).status_code == 429
    assert len(_failed_logins(data)) == LIMITS.user_max


def test_parallel_guesses_do_not_slip_past_the_limit(data: Path, tmp_path: Path):
    """Many guesses sent at once, before the first is answered: no more get checked than the
    limit allows (each try counts when it starts, not when its password turns out wrong)."""
    with Server(data, _config(tmp_path), central=False) as running:

        def guess(number: int) -> int:
            with running.client("127.0.0.5") as client:
                return _login(client, "view", f"{WRONG}-{number}").status_code

        with ThreadPoolExecutor(16) as pool:
            answers = sorted(pool.map(guess, range(16)))
    assert answers == [401] * LIMITS.max_failures + [429] * (16 - LIMITS.max_failures)
    assert len(_failed_logins(data)) == LIMITS.max_failures


# -- guessing through the password change -------------------------------------------------------------


def test_password_change_guessing_is_limited_and_audited(data: Path, tmp_path: Path):
    """A stolen session guesses the current password on /api/auth/password: limited like sign-in,
    each wrong try in the audit log."""
    with Server(data, _config(tmp_path), central=False) as running, running.client() as client:
        token = client.post(
            "/api/auth/login", json={"username": "view", "password": PASSWORD, "bearer": True}
        ).json()["token"]
        headers = {"authorization": f"Bearer {token}"}

        def change(current: str) -> httpx.Response:
            body = {"current": current, "new": "amber-quartz-meadow-lamp"}
            return client.post("/api/auth/password", json=body, headers=headers)

        answers = [change(f"guess-number-{i}").status_code for i in range(LIMITS.max_failures)]
        assert answers == [400] * LIMITS.max_failures
        limited = change(PASSWORD)  # even the right one waits now
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert _login(client, "view", PASSWORD).status_code == 429  # one budget per address and user
    rows = [row for row in _failed_logins(data) if row["user"] == "view"]
    assert len(rows) == LIMITS.max_failures
    assert all(r["detail"] == {"client": "127.0.0.1", "during": "password change"} for r in rows)


# -- weak passwords -----------------------------------------------------------------------------------

WEAK = {
    "aaaaaaaaaa": "repeats",
    " " * 10: "repeats",
    "rosalind.k": "user name",  # the new user's own name
}


def _assert_weak(answer: httpx.Response, field: str, reason: str) -> None:
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["field"] == field and body["error"].startswith(WEAK_MESSAGE), body
    assert reason in body["error"] and "unrelated words" in body["error"], body


def test_weak_passwords_are_refused_everywhere(data: Path, tmp_path: Path):
    with Server(data, _config(tmp_path), central=False) as running, running.client() as client:
        token = client.post(
            "/api/auth/login", json={"username": "admin", "password": PASSWORD, "bearer": True}
        ).json()["token"]
        admin = {"authorization": f"Bearer {token}"}
        for password, reason in WEAK.items():
            body = {"name": "rosalind.k", "password": password, "role": "viewer"}
            _assert_weak(client.post("/api/users", json=body, headers=admin), "password", reason)
        body = {"name": "rosalind.k", "password": PASSWORD, "role": "viewer"}
        created = client.post("/api/users", json=body, headers=admin)
        assert created.status_code == 201
        user_id = created.json()["id"]
        for password, reason in WEAK.items():
            reset = client.post(f"/api/users/{user_id}/password", json={"password": password}, headers=admin)
            _assert_weak(reset, "password", reason)
        token = client.post(
            "/api/auth/login", json={"username": "rosalind.k", "password": PASSWORD, "bearer": True}
        ).json()["token"]
        own = {"authorization": f"Bearer {token}"}
        for password, reason in WEAK.items():
            change = {"current": PASSWORD, "new": password}
            _assert_weak(client.post("/api/auth/password", json=change, headers=own), "new", reason)
        assert _login(client, "rosalind.k", PASSWORD).status_code == 200  # nothing was changed


def _cli_users(data: Path, *args: str, password: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [cli_path(), "--data", str(data), "users", *args],
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_refuses_weak_passwords(data: Path):
    for password, reason in WEAK.items():
        added = _cli_users(data, "add", "rosalind.k", "--role", "viewer", password=password)
        assert added.returncode != 0 and WEAK_MESSAGE in added.stderr and reason in added.stderr
        changed = _cli_users(data, "passwd", "view", password=password)
        assert changed.returncode != 0 and WEAK_MESSAGE in changed.stderr
    assert _cli_users(data, "passwd", "view", password="amber-quartz-meadow-lamp").returncode == 0


def test_generated_first_admin_passwords_are_strong():
    for _ in range(200):
        auth.check_password_strength(auth.generate_password(), "admin")
