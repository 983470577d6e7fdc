"""Limits one signed-in user cannot get around, each attack against a real server on 127.0.0.1:
oversized zone edits (the event loop keeps answering), deep track pages (keyset cursor instead of
offsets), camera and zone names a viewer may not see (unknown words in its searches), one SSE push
per event change, and ids too large for the database (404/422, never 500)."""

from __future__ import annotations

import json
import math
import socket
import threading
import time

import pytest
from conftest import needs_samples

pytest.importorskip("fastapi")
import httpx  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402
from support.servers import AppServer  # noqa: E402
from test_api import BASE_TS, PASSWORD, seed_store  # noqa: E402

from scenewatch.api import create_app  # noqa: E402
from scenewatch.api.app import CONFIG_BODY_BYTES  # noqa: E402
from scenewatch.config import load_config  # noqa: E402
from scenewatch.config.geometry import MAX_POINTS  # noqa: E402
from scenewatch.errors import ConfigError  # noqa: E402
from scenewatch.rules.store import list_events  # noqa: E402
from scenewatch.store import repo  # noqa: E402
from scenewatch.store.schema import cameras, search_zones, tracks  # noqa: E402

pytestmark = needs_samples
PER_CAMERA = 30  # extra tracks per camera for paging, first_ts shared across cameras and in pairs
HUGE_IDS = (2**70, -1, 0)


def _add_paging_tracks(store) -> None:
    """PER_CAMERA tracks on each camera, first_ts equal across the cameras and in pairs within one."""
    engine = store.engine
    with engine.begin() as conn:
        for camera in ("gate", "yard"):
            cam = conn.scalar(select(cameras.c.id).where(cameras.c.name == camera))
            run = repo.latest_run(engine, cam)
            rows = [
                dict(
                    camera_id=cam,
                    run_id=run,
                    tracker_id=100 + i,
                    class_name="car",
                    first_ts=BASE_TS + 1000 + i // 2,
                    last_ts=BASE_TS + 1010 + i // 2,
                    first_frame=i,
                    last_frame=i + 10,
                    detections=10,
                    score=0.7,
                    path=[],
                    thumbnail=None,
                    finished=True,
                    attributes={},
                )
                for i in range(PER_CAMERA)
            ]
            conn.execute(insert(tracks), rows)
            zone = {"gate": "frontdoor", "yard": "loadingbay"}[camera]
            conn.execute(insert(search_zones).values(camera_id=cam, name=zone))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("limits")
    store, settings = seed_store(root / "data")
    _add_paging_tracks(store)
    app = create_app(store, settings, config_path=root / "scenewatch.yaml")
    with AppServer(app) as running:
        running.store = store
        yield running


def _token(server: AppServer, name: str) -> dict[str, str]:
    answer = httpx.post(
        f"{server.url}/api/auth/login", json={"username": name, "password": PASSWORD, "bearer": True}
    )
    assert answer.status_code == 200, answer.text
    return {"authorization": f"Bearer {answer.json()['token']}"}


def _circle(points: int, cx: float = 384.0, cy: float = 288.0, r: float = 200.0) -> list[list[float]]:
    """A valid polygon: every edge pair is still checked for crossings."""
    step = 2 * math.pi / points
    return [
        [round(cx + r * math.cos(k * step), 2), round(cy + r * math.sin(k * step), 2)] for k in range(points)
    ]


def _geometry(*polygons: list[list[float]]) -> dict:
    zones = [{"name": f"z{n}", "polygon": p} for n, p in enumerate(polygons)]
    return {"zones": zones, "lines": [], "rules": []}


# -- 1. zone edits: point caps, body limits, the event loop keeps answering -----------------------


def test_a_6000_point_zone_is_refused_at_once(server):
    oper = _token(server, "oper")
    body = json.dumps(_geometry(_circle(6000))).encode()
    assert len(body) > 100_000  # the 105 KB zone of the report
    url = f"{server.url}/api/config/cameras/gate"
    started = time.monotonic()
    sized = httpx.put(url, content=body, headers={**oper, "content-type": "application/json"})
    streamed = httpx.put(  # no Content-Length: counted as it arrives
        url, content=iter([body[i : i + 8192] for i in range(0, len(body), 8192)]), headers=oper
    )
    assert time.monotonic() - started < 2.0
    for answer in (sized, streamed):
        assert answer.status_code == 413, answer.text
        assert f"at most {CONFIG_BODY_BYTES} bytes" in answer.json()["error"]


def test_points_over_the_cap_are_refused_naming_the_field(server):
    oper, admin = _token(server, "oper"), _token(server, "admin")
    url = f"{server.url}/api/config/cameras/gate"
    over = httpx.put(url, json=_geometry(_circle(MAX_POINTS + 50)), headers=oper)
    assert over.status_code == 422, over.text
    assert over.json()["field"] == "zones.0.polygon"
    assert f"at most {MAX_POINTS}" in over.json()["error"] and str(MAX_POINTS + 50) in over.json()["error"]
    privacy = httpx.put(f"{url}/privacy", json={"polygons": [_circle(MAX_POINTS + 1)]}, headers=admin)
    assert privacy.status_code == 422, privacy.text
    assert privacy.json()["field"] == "polygons.0" and f"at most {MAX_POINTS}" in privacy.json()["error"]
    at_cap = httpx.put(url, json=_geometry(_circle(MAX_POINTS)), headers=oper)
    assert at_cap.status_code == 200, at_cap.text
    assert len(at_cap.json()["zones"][0]["polygon"]) == MAX_POINTS


def test_a_zone_over_the_cap_in_the_config_file_names_file_line_and_path(tmp_path):
    polygon = ", ".join(f"[{x}, {y}]" for x, y in _circle(MAX_POINTS + 1))
    path = tmp_path / "cams.yaml"
    path.write_text(
        "cameras:\n"
        "  - name: gate\n"
        "    source: {url: /tmp/gate.mp4}\n"
        "    zones:\n"
        "      - name: door\n"
        f"        polygon: [{polygon}]\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert f"{path}:6: cameras[0].zones[0].polygon: the zone polygon has {MAX_POINTS + 1} points" in str(
        raised.value
    )
    assert f"at most {MAX_POINTS}" in str(raised.value)


def test_the_server_answers_while_zones_are_validated(server):
    """The report's attack (a 6,000-point zone) and the worst edit still allowed (as many
    200-point zones as the body limit takes) run in a loop; /api/version answers throughout."""
    oper = _token(server, "oper")
    url = f"{server.url}/api/config/cameras/gate"
    circles = [_circle(MAX_POINTS, 384.0, 288.0, 50.0 + 3 * n) for n in range(40)]
    count = max(n for n in range(1, 40) if len(json.dumps(_geometry(*circles[:n]))) < 60_000)
    worst = _geometry(*circles[:count])
    attack = _geometry(_circle(6000))
    statuses: list[int] = []
    stop = threading.Event()

    def edit() -> None:
        with httpx.Client(headers=oper, timeout=60) as client:
            while not stop.is_set():
                statuses.append(client.put(url, json=attack).status_code)
                statuses.append(client.put(url, json=worst).status_code)

    editors = [threading.Thread(target=edit) for _ in range(2)]
    for thread in editors:
        thread.start()
    latencies = []
    with httpx.Client(timeout=30) as client:
        end = time.monotonic() + 4.0
        while time.monotonic() < end:
            started = time.monotonic()
            assert client.get(f"{server.url}/api/version").status_code == 200
            latencies.append(time.monotonic() - started)
            time.sleep(0.05)
    stop.set()
    for thread in editors:
        thread.join(60)
    assert count >= 10 and {413, 200} <= set(statuses) <= {413, 200, 429}, (count, set(statuses))
    assert max(latencies) < 0.5, f"/api/version took up to {max(latencies):.2f} s"


def test_a_second_edit_is_turned_away_while_one_is_applied(server):
    """Edits do not queue up on worker threads: one at a time, the others hear 429 at once."""
    ctx = server.server.config.app.state.ctx
    oper = _token(server, "oper")
    with ctx.config_lock:  # an edit in progress
        started = time.monotonic()
        busy = httpx.put(f"{server.url}/api/config/cameras/gate", json=_geometry(_circle(50)), headers=oper)
        waited = time.monotonic() - started
    assert busy.status_code == 429 and busy.headers["retry-after"] == "1", busy.text
    assert waited < 3.0
    assert (
        httpx.put(f"{server.url}/api/config/cameras/gate", json=_geometry(), headers=oper).status_code == 200
    )


# -- 2. track pages: an offset cap and a keyset cursor ------------------------------------------


def _walk(server: AppServer, headers: dict, limit: int) -> list[tuple[float, int]]:
    seen: list[tuple[float, int]] = []
    cursor: str | None = None
    for _ in range(100):
        params = {"limit": limit} | ({"after": cursor} if cursor else {})
        page = httpx.get(f"{server.url}/api/tracks", params=params, headers=headers)
        assert page.status_code == 200, page.text
        seen += [(t["first_ts"], t["id"]) for t in page.json()]
        cursor = page.headers.get("x-next-cursor")
        if cursor is None:
            assert len(page.json()) < limit
            return seen
        assert 'rel="next"' in page.headers["link"] and "after=" in page.headers["link"]
    raise AssertionError("paging did not end")


def _expected(server: AppServer, names: tuple[str, ...]) -> list[tuple[float, int]]:
    query = (
        select(tracks.c.first_ts, tracks.c.id)
        .join(cameras, cameras.c.id == tracks.c.camera_id)
        .where(cameras.c.name.in_(names))
        .order_by(tracks.c.first_ts, tracks.c.id)
    )
    with server.store.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query)]


def test_deep_offsets_are_refused_with_the_way_to_page(server):
    viewer = _token(server, "view")
    for offset in (10_001, 1_000_000, 2**70):
        answer = httpx.get(f"{server.url}/api/tracks", params={"offset": offset}, headers=viewer)
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == "offset" and "after=" in answer.json()["error"]
    for cursor in ("nonsense", "1.5", "1e999:1", "1:" + "9" * 30):
        answer = httpx.get(f"{server.url}/api/tracks", params={"after": cursor}, headers=viewer)
        assert answer.status_code == 422 and answer.json()["field"] == "after", (cursor, answer.text)
    assert httpx.get(f"{server.url}/api/tracks", params={"offset": 10_000}, headers=viewer).json() == []


@pytest.mark.parametrize(("user", "names"), [("admin", ("gate", "yard")), ("view", ("gate",))])
def test_cursor_pages_walk_every_track_once_in_order(server, user, names):
    headers = _token(server, user)
    expected = _expected(server, names)
    assert len(expected) == len(names) * (PER_CAMERA + 1)
    for limit in (7, len(expected)):  # a short last page, and a full one followed by an empty one
        assert _walk(server, headers, limit) == expected
    offsets = httpx.get(f"{server.url}/api/tracks", params={"limit": 5, "offset": 5}, headers=headers).json()
    assert [(t["first_ts"], t["id"]) for t in offsets] == expected[5:10]


# -- 3. a viewer's search knows only the names of its cameras and their zones ----------------------


def _search(server: AppServer, headers: dict, text: str) -> dict:
    answer = httpx.get(f"{server.url}/api/search", params={"q": text}, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


# Each hidden name with a stand-in of the same kind of word that names nothing on this server:
# "yard" is also a generic place word (like "garden"), "loadingbay" is not a word at all.
STAND_INS = {"yard": "garden", "loadingbay": "qqqqq"}


@pytest.mark.parametrize("text", ["person on yard", "person in loadingbay", "person on camera yard"])
def test_a_viewer_cannot_tell_hidden_camera_and_zone_names_from_made_up_ones(server, text):
    viewer, admin = _token(server, "view"), _token(server, "admin")
    hidden = "loadingbay" if "loadingbay" in text else "yard"
    stand_in = STAND_INS[hidden]
    answer = _search(server, viewer, text)
    absent = _search(server, viewer, text.replace(hidden, stand_in))
    # word for word the answer a name that does not exist gets: only the user's own word comes back
    assert json.dumps(answer) == json.dumps(absent).replace(stand_in, hidden)
    assert answer["understood"]["cameras"] == [] and answer["understood"]["zones"] == []
    assert not any(f"{hidden}," in note or f"{hidden})" in note for note in answer["notes"])  # no name lists
    assert {hit["camera"] for hit in answer["results"]} <= {"gate"}
    understood = _search(server, admin, text)["understood"]
    assert hidden in understood["cameras"] + understood["zones"]


def test_a_viewer_still_searches_the_zones_of_its_own_cameras(server):
    answer = _search(server, _token(server, "view"), "person in frontdoor")
    assert answer["understood"]["zones"] == ["frontdoor"]
    known = _search(server, _token(server, "view"), "person on camera nowhere")["notes"]
    assert any("known cameras: gate" in note for note in known), known
    assert not any("yard" in note for note in known)


# -- 4. one SSE message per event change, with its id ----------------------------------------------


def _read_stream(server: AppServer, headers: dict, seconds: float, after_open) -> str:
    """The decoded body of GET /api/events/stream read for ``seconds`` after ``after_open()``."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        request = f"GET /api/events/stream HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: {headers['authorization']}\r\n\r\n"
        sock.sendall(request.encode())
        raw = b""
        while b": connected" not in raw:
            raw += sock.recv(65536)
        after_open()
        sock.settimeout(0.2)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                raw += sock.recv(65536)
            except TimeoutError:
                continue
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b" 200 " in head.split(b"\r\n")[0]
    text = b""
    while body:  # chunked transfer encoding
        size, _, rest = body.partition(b"\r\n")
        if not size.strip():
            break
        length = int(size, 16)
        text, body = text + rest[:length], rest[length + 2 :]
    return text.decode()


def test_an_event_change_is_pushed_once_with_its_id(server):
    admin, oper = _token(server, "admin"), _token(server, "oper")
    event = list_events(server.store.engine, camera="gate")[0]["id"]

    def acknowledge() -> None:
        time.sleep(0.6)  # the feed sees a listener
        answer = httpx.post(f"{server.url}/api/events/{event}/ack", headers=oper)
        assert answer.status_code == 200, answer.text

    text = _read_stream(server, admin, 4.0, acknowledge)  # the old feed re-sent for 2 s
    messages = [m for m in text.split("\n\n") if "event: alert" in m]
    assert len(messages) == 1, text
    lines = messages[0].split("\n")
    assert f"id: {event}" in lines
    data = json.loads(next(line for line in lines if line.startswith("data: "))[6:])
    assert (data["id"], data["state"]) == (event, "acknowledged")


# -- 5. ids beyond the database's integers ---------------------------------------------------------


def _id_routes(server: AppServer) -> list[tuple[str, str]]:
    """(method, path template) of every edge API route with an ``{..._id}`` path parameter."""
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    return [
        (method.upper(), path)
        for path, operations in paths.items()
        if "_id}" in path and not path.startswith("/api/central")
        for method in operations
    ]


def test_huge_and_negative_ids_are_404_or_422_on_every_item_route(server):
    admin = _token(server, "admin")
    routes = _id_routes(server)
    templates = {path for _, path in routes}
    for kind in ("tracks", "events", "health/events", "clips/track", "clips/event", "users", "search/like"):
        assert any(path.startswith(f"/api/{kind}/{{") for path in templates), kind
    with httpx.Client(headers=admin, timeout=30) as client:
        for method, template in routes:
            for number in HUGE_IDS:
                path = template.replace(template[template.index("{") : template.index("}") + 1], str(number))
                answer = client.request(method, server.url + path, json={} if method != "GET" else None)
                assert answer.status_code in (404, 422), (method, path, answer.status_code, answer.text)
        # media paths carry ids too: a run, a tracker id, a health event
        for number in (2**70, 2**63):
            for media in (
                f"thumbnails/gate/run{number}/0000/1.jpg",
                f"thumbnails/gate/run1/0000/{number}.jpg",
                f"health/gate/{number}.jpg",
            ):
                answer = client.get(f"{server.url}/api/media/{media}")
                assert answer.status_code == 404, (media, answer.status_code, answer.text)
