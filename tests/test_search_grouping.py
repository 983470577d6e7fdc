"""One result per walk: fragments of one real track (cut in two, as the tracker splits people
when it loses them for a moment, or hidden for longer and seen again where it was lost) show as
one search result with both track ids behind it, never joined across cameras, across a gap of a
minute, between people who look different, where a look-alike could equally be the one who came
back, or between two real people of TUD-Stadtmitte, one leaving the view as the other comes;
the API returns only fragments of the cameras the user is granted."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from conftest import MOT, VTEST, cli_path, needs_models, needs_mot, needs_samples
from sqlalchemy import delete, func, insert, select, update

from scenewatch.config import AppConfig
from scenewatch.pipeline import index_file
from scenewatch.search.engine import search
from scenewatch.search.fragments import Fragment, colour_shares
from scenewatch.search.grouping import (
    MAX_GAP_S,
    MAX_RETURN_S,
    MIN_LOOK,
    chains,
    comes_back,
    likeness,
    link_cost,
    return_look,
    turns_in_place,
)
from scenewatch.search.index import index_tracks
from scenewatch.search.loading import load_facts
from scenewatch.store import repo
from scenewatch.store.data import DataStore
from scenewatch.store.schema import boxes, cameras, tracks
from scenewatch.vision.colours import TERMS

pytestmark = [needs_samples, needs_models]
PASSWORD = "correct-horse-battery"
CLIP_S = 8  # seconds of vtest.avi indexed: several people walk across in it


@pytest.fixture(scope="module")
def indexed(tmp_path_factory) -> Path:
    """The first seconds of vtest.avi indexed by the real pipeline (a folder each test copies)."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not found (Debian package ffmpeg)")
    made = tmp_path_factory.mktemp("clip")
    clip = made / "vtest_start.avi"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(VTEST), "-t", str(CLIP_S), "-c:v", "mjpeg",
         "-q:v", "3", str(clip)],
        check=True,
    )  # fmt: skip
    store = DataStore.open(made / "data")
    index_file(store, AppConfig(), clip, "gate")
    store.engine.dispose()
    return made / "data"


@pytest.fixture
def store(indexed, tmp_path) -> DataStore:
    shutil.copytree(indexed, tmp_path / "data")
    opened = DataStore.open(tmp_path / "data")
    yield opened
    opened.engine.dispose()


def longest_person(store: DataStore) -> int:
    """The described person track seen longest: the walk to cut."""
    q = (
        select(tracks.c.id)
        .where(tracks.c.class_name == "person", tracks.c.attributes.is_not(None))
        .order_by((tracks.c.last_ts - tracks.c.first_ts).desc())
        .limit(1)
    )
    with store.engine.connect() as conn:
        return conn.scalar(q)


def cut(
    store: DataStore, track_id: int, gap_s: float = 0.5, shift_s: float = 0.0, camera: str | None = None
) -> int:
    """Cut a stored track in two at its middle, leaving ``gap_s`` unseen between the halves (as a
    tracker that lost the person would); the second half becomes a new track, ``shift_s`` later
    and on ``camera`` where given, both indexed for search as the writer does. Returns its id."""
    t, b = tracks.c, boxes.c
    with store.engine.begin() as conn:
        row = conn.execute(select(tracks).where(t.id == track_id)).one()._mapping
        seen = conn.execute(select(b.frame, b.ts).where(b.track_id == track_id).order_by(b.frame)).all()
        middle = seen[len(seen) // 2].ts
        end_a = max(f for f, ts in seen if ts <= middle - gap_s / 2)
        start_b = min(f for f, ts in seen if ts >= middle + gap_s / 2)
        ts = {f: ts for f, ts in seen}
        camera_id = row["camera_id"]
        if camera is not None:
            camera_id = repo.ensure_camera(store.engine, camera, "x", 768, 576, 10.0)
        second = {k: v for k, v in row.items() if k != "id"} | {
            "camera_id": camera_id,
            "tracker_id": row["tracker_id"] + 10_000,
            "first_ts": ts[start_b] + shift_s,
            "last_ts": row["last_ts"] + shift_s,
            "first_frame": start_b,
            "path": [[p[0] + shift_s, *p[1:]] for p in row["path"] if p[0] >= ts[start_b]],
            "detections": sum(f >= start_b for f, _ in seen),
        }
        new_id = conn.execute(insert(tracks).values(**second).returning(t.id)).scalar_one()
        conn.execute(delete(boxes).where(b.track_id == track_id, b.frame > end_a, b.frame < start_b))
        conn.execute(
            update(boxes)
            .where(b.track_id == track_id, b.frame >= start_b)
            .values(track_id=new_id, ts=b.ts + shift_s)
        )
        first = {
            "last_ts": ts[end_a],
            "last_frame": end_a,
            "path": [p for p in row["path"] if p[0] <= ts[end_a]],
            "detections": sum(f <= end_a for f, _ in seen),
        }
        conn.execute(update(tracks).where(t.id == track_id).values(**first))
        index_tracks(conn, row["camera_id"], [(track_id, dict(row) | first)])
        index_tracks(conn, camera_id, [(new_id, second)])
    return new_id


def results(store: DataStore, text: str = "person", **kwargs) -> list[dict]:
    return search(store, text, limit=50, **kwargs).to_dict()["results"]


def walk_of(found: list[dict], track_id: int) -> list[list[int]]:
    """The member ids of every result that holds ``track_id``."""
    return [
        [m["track_id"] for m in r["members"]]
        for r in found
        if track_id in {m["track_id"] for m in r["members"]}
    ]


def apart(found: list[dict], a: int, b: int) -> bool:
    """Whether ``a`` and ``b`` each show exactly once, in different results."""
    walks_a, walks_b = walk_of(found, a), walk_of(found, b)
    return len(walks_a) == 1 and len(walks_b) == 1 and b not in walks_a[0]


def test_a_walk_cut_in_two_is_one_result_with_both_ids(store):
    whole = longest_person(store)
    second = cut(store, whole, gap_s=0.6)
    found = results(store)
    assert walk_of(found, whole) == [[whole, second]]  # once, both fragments in time order
    shown = [r["track_id"] for r in found]
    assert len(set(shown) & {whole, second}) == 1 and len(shown) == len(set(shown))
    group = next(r for r in found if r["track_id"] in (whole, second))
    assert group["fragments"] == 2
    # ungrouped, the same search shows the person twice
    ungrouped = [r["track_id"] for r in results(store, group=False)]
    assert whole in ungrouped and second in ungrouped


def test_the_cli_json_keeps_each_track_id(store, tmp_path):
    whole = longest_person(store)
    second = cut(store, whole)
    store.engine.dispose()
    done = subprocess.run(
        [cli_path(), "--data", str(tmp_path / "data"), "search", "person", "--json", "--limit", "50"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)["results"]
    assert walk_of(found, whole) == [[whole, second]]
    human = subprocess.run(
        [cli_path(), "--data", str(tmp_path / "data"), "search", "person", "--limit", "50"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert human.returncode == 0 and f"2 fragments: tracks {whole}, {second}" in human.stdout
    others = [r for r in found if r["track_id"] not in (whole, second)]
    assert others and all(
        [m["track_id"] for m in r["members"]] == [r["track_id"]] for r in others if r["fragments"] == 1
    )


def test_a_person_hidden_for_long_and_seen_again_where_lost_is_one_result(store):
    """Unseen for 12 s (behind something, or standing undetected), far beyond the 4 s a tracker's
    short loss takes, then seen again where they were lost, looking the same: one result."""
    whole = longest_person(store)
    gap = 12.0
    assert MAX_GAP_S < gap < MAX_RETURN_S
    second = cut(store, whole, shift_s=gap)
    found = results(store)
    assert walk_of(found, whole) == [[whole, second]]
    group = next(r for r in found if r["track_id"] in (whole, second))
    assert group["fragments"] == 2


def copy_track(store: DataStore, track_id: int, shift_s: float) -> int:
    """A copy of a stored track, ``shift_s`` later on the same camera, with its boxes, indexed
    for search: a second person dressed the same, walking the same way. Returns its id."""
    with store.engine.begin() as conn:
        row = conn.execute(select(tracks).where(tracks.c.id == track_id)).one()._mapping
        values = {k: v for k, v in row.items() if k != "id"} | {
            "tracker_id": row["tracker_id"] + 20_000,
            "first_ts": row["first_ts"] + shift_s,
            "last_ts": row["last_ts"] + shift_s,
            "path": [[p[0] + shift_s, *p[1:]] for p in row["path"]],
        }
        copy = conn.execute(insert(tracks).values(**values).returning(tracks.c.id)).scalar_one()
        cols = [c for c in boxes.c if c.name not in ("id", "track_id", "ts")]
        conn.execute(
            insert(boxes).from_select(
                ["track_id", "ts", *(c.name for c in cols)],
                select(func.cast(copy, boxes.c.track_id.type), boxes.c.ts + shift_s, *cols).where(
                    boxes.c.track_id == track_id
                ),
            )
        )
        index_tracks(conn, row["camera_id"], [(copy, values)])
    return copy


def test_a_return_a_look_alike_could_equally_be_is_not_joined(store):
    """Two people dressed the same come back, a second apart, where one was lost 12 s before:
    either could be the one, so neither joins the first walk (colour names cannot tell them)."""
    whole = longest_person(store)
    second = cut(store, whole, shift_s=12.0)
    other = copy_track(store, second, 1.0)
    found = results(store)
    assert walk_of(found, whole) == [[whole]]
    assert walk_of(found, second) == [[second]] and walk_of(found, other) == [[other]]


def test_a_walk_that_left_the_view_comes_back_only_through_that_border():
    """Last seen at the right border of a 768-px view: the same look seen again 10 s later at
    that border returns; first seen mid-frame it does not, nor does a fragment a second later
    inside the view (another person coming, not the one who left)."""
    look = {"upper": {"red": 0.8, "black": 0.2}, "lower": {"blue": 0.9, "black": 0.1}}
    gone = Fragment(1, 1, "person", 0.0, 5.0, (500.0, 300.0, 90.0), (755.0, 320.0, 90.0), (60.0, 0.0))
    gone.colours, gone.exits = look, "right"

    def later(track_id: int, start: tuple[float, float, float], at: float, border: str | None) -> Fragment:
        return Fragment(
            track_id, 1, "person", at, at + 5.0, start, (400.0, 300.0, 90.0), colours=look, enters=border
        )

    assert comes_back(gone, later(2, (755.0, 380.0, 95.0), 15.0, "right"))
    assert not comes_back(gone, later(3, (400.0, 380.0, 95.0), 15.0, None))
    assert not comes_back(gone, later(4, (755.0, 380.0, 95.0), 15.0 + MAX_RETURN_S, "right"))
    assert link_cost(gone, later(5, (700.0, 320.0, 90.0), 6.0, None)) is None
    assert link_cost(gone, later(6, (750.0, 320.0, 90.0), 6.0, "right")) is not None


CLOTHES = {"upper": {"black": 0.9, "blue": 0.1}, "lower": {"blue": 0.9, "black": 0.1}}
FACE = {"brown": 0.7, "white": 0.3}  # a head seen from the front: skin
HAIR = {"black": 0.9, "grey": 0.1}  # the same head from behind


def walker(
    track_id: int, at: float, start: tuple[float, float], speed: float, head: dict, border: str | None = None
) -> Fragment:
    """A person in CLOTHES seen for 5 s from ``at``, first at ``start`` (box 90 px tall), walking
    ``speed`` px/s along x, the head named ``head``, first seen at ``border``."""
    f = Fragment(track_id, 1, "person", at, at + 5.0, (*start, 90.0), (start[0] + 5 * speed, start[1], 90.0))
    f.velocity = f.start_velocity = (speed, 0.0)
    f.colours, f.enters = CLOTHES | {"head": head}, border
    return f


def test_a_walker_back_facing_the_other_way_joins_though_the_head_looks_different():
    """One walker leaves through the right border and comes back through it 10 s later: the
    face was seen, now the back of the head (hair), named quite differently. The clothes alone
    decide: one result. Seen again where lost but still walking the same way, a different head is
    another person; and where another walker in the same clothes also comes back through that
    border, either could be the one, so neither joins."""
    gone = walker(1, 0.0, (460.0, 320.0), 60.0, FACE)
    gone.exits = "right"
    back = walker(2, 15.0, (755.0, 330.0), -60.0, HAIR, border="right")
    assert chains({1: gone, 2: back}) == [[1, 2]]
    lost = walker(3, 0.0, (100.0, 320.0), 40.0, FACE)  # lost mid-frame, at x 300
    ahead = walker(4, 15.0, (310.0, 320.0), 40.0, HAIR)
    assert chains({3: lost, 4: ahead}) == [[3], [4]]
    rival = walker(5, 17.0, (755.0, 300.0), -60.0, HAIR, border="right")
    assert chains({1: gone, 2: back, 5: rival}) == [[1], [2], [5]]


def test_a_walker_who_turns_back_at_the_border_at_once_is_judged_as_a_return():
    """A walker steps out through the right border and back in through it 2 s later, facing the
    other way (hair where the face was): judged as a return (by the clothes, against rivals), not
    as a walk carried on, so one result; with a look-alike coming in there too, neither joins."""
    gone = walker(1, 0.0, (460.0, 320.0), 60.0, FACE)
    gone.exits = "right"
    back = walker(2, 7.0, (755.0, 330.0), -60.0, HAIR, border="right")
    assert link_cost(gone, back) is None and comes_back(gone, back)
    assert chains({1: gone, 2: back}) == [[1, 2]]
    rival = walker(3, 8.0, (755.0, 300.0), -60.0, HAIR, border="right")
    assert chains({1: gone, 2: back, 3: rival}) == [[1], [2], [3]]


def test_a_walker_who_turns_round_where_the_detector_lost_them_is_one_result():
    """A walker is lost mid-frame and found again a second later at that spot, walking back: the
    face was seen, now the hair. Nobody left or came through a border, so it is one walk, judged
    by the clothes. Where someone in the same clothes is on camera at the same time (a crossing),
    either could be the one, so it does not join; nor does a walker lost at the border and another
    coming in there, nor one found again two heights away."""
    lost = walker(1, 0.0, (100.0, 320.0), 40.0, FACE)  # last seen at x 300, mid-frame
    back = walker(2, 6.0, (305.0, 322.0), -40.0, HAIR)
    assert turns_in_place(lost, back) is not None
    assert chains({1: lost, 2: back}) == [[1, 2]]
    crossing = walker(3, 2.0, (600.0, 330.0), -40.0, HAIR)  # on camera 2-7 s, same clothes
    assert chains({1: lost, 2: back, 3: crossing}) == [[1], [3], [2]]
    away = walker(4, 6.0, (305.0 + 2 * 90.0, 322.0), -40.0, HAIR)
    assert turns_in_place(lost, away) is None and chains({1: lost, 4: away}) == [[1], [4]]
    left = walker(5, 0.0, (560.0, 320.0), 40.0, FACE)
    left.exits = "right"  # last seen at x 760, at the border of a 768-px view
    coming = walker(6, 6.0, (755.0, 322.0), -40.0, HAIR)
    assert turns_in_place(left, coming) is None and chains({5: left, 6: coming}) == [[5], [6]]


def test_a_return_is_judged_by_the_look_of_the_whole_walk_it_begins():
    """A walker leaves through the right border and comes back through it 10 s later; the first
    second back is a short fragment whose few crops read the jeans mostly black (a tracker split,
    then the walk goes on in a long fragment that reads them as before). That short fragment
    alone fails the return's part test; the walk it begins, all its fragments together, passes:
    one result. A look-alike coming back through that border as well still makes it ambiguous."""
    gone = walker(1, 0.0, (460.0, 320.0), 60.0, HAIR)
    gone.exits = "right"
    back = walker(2, 15.0, (755.0, 330.0), -60.0, HAIR, border="right")
    back.last_ts, back.end = 16.0, (695.0, 330.0, 90.0)
    back.colours = back.colours | {"lower": {"black": 0.9, "blue": 0.1}}
    on = walker(3, 16.5, (665.0, 330.0), -60.0, HAIR)
    assert return_look(gone, back) is None  # the short fragment alone: lower 0.6
    assert chains({1: gone, 2: back, 3: on}) == [[1, 2, 3]]
    rival = walker(4, 25.0, (755.0, 300.0), -60.0, HAIR, border="right")
    assert chains({1: gone, 2: back, 3: on, 4: rival}) == [[1], [2, 3], [4]]


def test_a_car_driving_away_is_not_joined_to_an_oncoming_one_where_it_vanished():
    """Two black cars on a road: one drives away up the picture and is lost small near the
    horizon; 1.5 s later (and again 8 s later) another appears there, coming down. Alike in
    colour, near in place and size, they are two vehicles: a car does not turn round in a gap.
    A car lost and found again heading the same way still joins."""
    black = {"body": {"black": 0.95, "grey": 0.05}}

    def car(
        track_id: int, at: float, start: tuple[float, float], end: tuple[float, float], vy: float
    ) -> Fragment:
        f = Fragment(track_id, 1, "car", at, at + 4.0, (*start, 30.0), (*end, 24.0))
        f.velocity = f.start_velocity = (0.0, vy)
        f.colours = black
        return f

    away = car(1, 0.0, (400.0, 500.0), (380.0, 200.0), -75.0)
    coming = car(2, 5.5, (370.0, 205.0), (300.0, 500.0), 75.0)
    later = car(3, 12.0, (372.0, 200.0), (300.0, 500.0), 75.0)
    assert link_cost(away, coming) is None
    assert chains({1: away, 2: coming, 3: later}) == [[1], [2], [3]]
    onwards = car(4, 4.5, (378.0, 190.0), (360.0, 120.0), -60.0)
    assert chains({1: away, 4: onwards}) == [[1, 4]]


def ground_truth_people(store: DataStore, camera: str, gt_file: Path) -> dict[int, int]:
    """Track id -> the ground-truth person whose box it matches (IoU >= 0.5) on most frames."""
    gt: dict[int, list[tuple[int, tuple[float, float, float, float]]]] = {}
    for line in gt_file.read_text().splitlines():
        f = line.split(",")
        if len(f) >= 7 and float(f[6]) != 0:
            x, y, w, h = map(float, f[2:6])
            gt.setdefault(int(f[0]) - 1, []).append((int(f[1]), (x, y, x + w, y + h)))

    def iou(a, b) -> float:
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
        return w * h / union if union > 0 else 0.0

    votes: dict[int, dict[int, int]] = {}
    q = (
        select(boxes.c.track_id, boxes.c.frame, boxes.c.x1, boxes.c.y1, boxes.c.x2, boxes.c.y2)
        .join(tracks, tracks.c.id == boxes.c.track_id)
        .join(cameras, cameras.c.id == tracks.c.camera_id)
        .where(cameras.c.name == camera)
    )
    with store.engine.connect() as conn:
        for track_id, frame, *box in conn.execute(q):
            best = max(gt.get(frame, []), key=lambda g: iou(box, g[1]), default=None)
            if best is not None and iou(box, best[1]) >= 0.5:
                counts = votes.setdefault(track_id, {})
                counts[best[0]] = counts.get(best[0], 0) + 1
    return {t: max(c, key=c.get) for t, c in votes.items()}


@needs_mot
def test_two_people_one_leaving_as_the_other_comes_are_not_joined(tmp_path):
    """TUD-Stadtmitte: a person in a black top is last seen at the right border and, 1.4 s later,
    another person in a black top is first seen a little inside the view: two people (the ground
    truth says so), two results. Every result's fragments are one ground-truth person."""
    store = DataStore.open(tmp_path / "data")
    index_file(store, AppConfig(), MOT / "TUD-Stadtmitte" / "TUD-Stadtmitte.mp4", "street")
    person = ground_truth_people(store, "street", MOT / "TUD-Stadtmitte" / "gt.txt")
    found = results(store)
    try:
        assert len(found) >= 8
        for hit in found:
            shown = {person[m["track_id"]] for m in hit["members"] if m["track_id"] in person}
            assert len(shown) == 1, f"one result holds tracks of several people: {hit['members']}"
    finally:
        store.engine.dispose()


@pytest.mark.parametrize("where", ["a minute later", "another camera"])
def test_fragments_too_far_apart_or_on_another_camera_stay_apart(store, where):
    whole = longest_person(store)
    if where == "a minute later":
        second = cut(store, whole, shift_s=60.0)
    else:
        second = cut(store, whole, camera="yard")
    assert apart(results(store), whole, second)


def test_people_who_look_different_are_not_joined(store):
    """The second half described in other clothes (each part in the colour the first half shows
    least) stays a result of its own, though it continues the walk in time and place."""
    whole = longest_person(store)
    second = cut(store, whole)
    with store.engine.begin() as conn:
        row = dict(conn.execute(select(tracks).where(tracks.c.id == second)).one()._mapping)
        colours = row["attributes"]["colours"]
        for part, shares in colours.items():
            rarest = min(TERMS, key=lambda c: shares.get(c, 0.0))  # a colour this part hardly shows
            colours[part] = {rarest: 0.9}
        conn.execute(update(tracks).where(tracks.c.id == second).values(attributes=row["attributes"]))
        index_tracks(conn, row["camera_id"], [(second, row)])
        facts = load_facts(conn, [whole, second])
    assert likeness(*(colour_shares(facts[i].facts) for i in (whole, second))) < MIN_LOOK
    assert apart(results(store), whole, second)


def test_api_groups_hold_only_tracks_of_the_users_cameras(store):
    """A copy of the second half on a camera the viewer may not see, at the same time and place,
    never enters the viewer's groups (nor the admin's: groups never cross cameras)."""
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from scenewatch.api import auth, create_app

    whole = longest_person(store)
    second = cut(store, whole)
    with store.engine.begin() as conn:  # the copy: the same walk's second half, seen from "yard"
        yard = repo.ensure_camera(store.engine, "yard", "x", 768, 576, 10.0)
        row = conn.execute(select(tracks).where(tracks.c.id == second)).one()._mapping
        copy = conn.execute(
            insert(tracks)
            .values(**{k: v for k, v in row.items() if k != "id"} | {"camera_id": yard})
            .returning(tracks.c.id)
        ).scalar_one()
        cols = [c for c in boxes.c if c.name not in ("id", "track_id")]
        conn.execute(
            insert(boxes).from_select(
                ["track_id", *(c.name for c in cols)],
                select(func.cast(copy, boxes.c.track_id.type), *cols).where(boxes.c.track_id == second),
            )
        )
        index_tracks(conn, yard, [(copy, row)])
    auth.create_user(store.engine, "admin", PASSWORD, "admin")
    auth.create_user(store.engine, "view", PASSWORD, "viewer", cameras=["gate"])
    client = TestClient(create_app(store, AppConfig()))

    def answer(user: str) -> list[dict]:
        client.cookies.clear()
        login = client.post("/api/auth/login", json={"username": user, "password": PASSWORD, "bearer": True})
        assert login.status_code == 200, login.text
        headers = {"authorization": f"Bearer {login.json()['token']}"}
        got = client.get("/api/search", params={"q": "person", "limit": 50}, headers=headers)
        assert got.status_code == 200, got.text
        for hit in got.json()["results"]:  # every member is a track this user may open, on the hit's camera
            for member in hit["members"]:
                track = client.get(f"/api/tracks/{member['track_id']}", headers=headers)
                assert track.status_code == 200 and track.json()["camera"] == hit["camera"], track.text
        return got.json()["results"]

    viewer = answer("view")
    assert {r["camera"] for r in viewer} == {"gate"}
    assert walk_of(viewer, whole) == [[whole, second]] and walk_of(viewer, copy) == []
    group = next(r for r in viewer if r["track_id"] in (whole, second))
    assert [m["clip_url"] for m in group["members"]] == [f"/api/clips/track/{i}" for i in (whole, second)]
    admin = answer("admin")
    assert walk_of(admin, whole) == [[whole, second]] and walk_of(admin, copy) == [[copy]]


def test_result_card_shows_the_fragments_and_plays_each(store, artifacts_dir):
    """The search page shows the walk once, as "2 fragments" that open to both tracks; a fragment
    plays its own clip."""
    import uvicorn
    from test_ui import ARGS, CHROMIUM, free_port, playwright_api, shot

    from scenewatch.api import auth, create_app

    whole = longest_person(store)
    second = cut(store, whole)
    auth.create_user(store.engine, "admin", PASSWORD, "admin")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(store, AppConfig()), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"http://127.0.0.1:{port}/ui/login.html")
            page.fill("#username", "admin")
            page.fill("#password", PASSWORD)
            page.click("#submit")
            page.wait_for_url("**/index.html")
            page.goto(f"http://127.0.0.1:{port}/ui/search.html?q=person")
            page.wait_for_selector(".hit")
            cards = page.query_selector_all(".hit")
            shown = [int(c.get_attribute("data-track")) for c in cards]
            assert len(set(shown) & {whole, second}) == 1  # the walk once
            card = page.query_selector(f".hit[data-track='{whole}'], .hit[data-track='{second}']")
            toggle = card.query_selector(".fragments-toggle")
            assert toggle.inner_text() == "2 fragments" and not card.query_selector(".fragments").is_visible()
            toggle.click()
            items = card.query_selector_all(".fragment")
            assert [int(i.get_attribute("data-track")) for i in items] == [whole, second]
            assert all(i.is_visible() for i in items)
            page.wait_for_function(
                "[...document.querySelectorAll('.fragment img')].every(i => i.complete && i.naturalWidth > 0)"
            )
            shot(page, artifacts_dir, "search-fragments-open")
            items[1].click()
            page.wait_for_function(
                f"document.querySelector('#clip')?.getAttribute('src') === '/api/clips/track/{second}'"
            )
            assert f"track {second}" in page.inner_text("#player")
            shot(page, artifacts_dir, "search-fragment-playing")
            browser.close()
            assert errors == [], f"JavaScript errors: {errors}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_the_same_walks_on_postgresql(store):
    """The indexed clip with its cut walk, copied row for row into PostgreSQL, gives the same
    results and the same fragments behind them (the day-partitioned tables, the same statements)."""
    pytest.importorskip("psycopg", reason="psycopg 3 (pip install 'psycopg[binary]') is not installed")
    from scenewatch.central.pg import TempCluster, pg_bin_dir
    from scenewatch.store.schema import cameras, runs, track_terms

    if pg_bin_dir() is None:
        pytest.skip("PostgreSQL server binaries not found (Debian package postgresql)")
    whole = longest_person(store)
    second = cut(store, whole)
    with TempCluster() as cluster:
        pg = DataStore.open(
            store.root / "pg", database_url=cluster.create_database("walks", "walks", "walks-pw")
        )
        with store.engine.connect() as source, pg.engine.begin() as target:
            for table in (cameras, runs, tracks, boxes, track_terms):
                rows = [dict(r._mapping) for r in source.execute(select(table))]
                target.execute(insert(table), rows)
        try:
            for text in ("person", "person in a black top walking left"):
                lite, post = results(store, text), results(pg, text)
                assert [(r["track_id"], r["members"]) for r in lite] == [
                    (r["track_id"], r["members"]) for r in post
                ]
            assert walk_of(results(pg), whole) == [[whole, second]]
        finally:
            pg.engine.dispose()
