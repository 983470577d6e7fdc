"""Search: ranking on hand-built attributes, filters, bad input, more-like-this, the CLI, real footage."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import MOT, needs_mot
from sqlalchemy import event, insert, select

from scenewatch.search.engine import MAX_LIMIT, more_like, search
from scenewatch.search.index import index_tracks, reindex
from scenewatch.store.data import DataStore
from scenewatch.store.schema import cameras, runs, track_terms, tracks

NOW = datetime(2024, 5, 15, 12, 0, tzinfo=UTC)
YESTERDAY = (NOW - timedelta(days=1)).timestamp()
TODAY = (NOW - timedelta(hours=2)).timestamp()


def person(upper=None, lower=None, head=None, carried=None, heading=None, posture=None, conf=0.9) -> dict:
    return {
        "class": "person",
        "class_conf": conf,
        "colours": {"head": head or {"black": 0.6}, "upper": upper or {}, "lower": lower or {"blue": 0.7}},
        "carried": carried or {},
        "posture": posture or {"standing": 0.9, "sitting": 0.05, "lying": 0.05},
        "motion": {
            "speed_px_s": 30.0,
            "speed_h_s": 0.6,
            "heading": heading,
            "moving_fraction": 0.9,
            "stopped_s": 0.0,
            "dwell_s": 10.0,
            "running": 0.0,
        },
        "zones": [],
        "crops": 3,
    }


class Store:
    """A data folder with hand-built tracks, indexed by the same call the writer makes."""

    def __init__(self, root):
        self.store = DataStore.open(root)
        self.cameras: dict[str, tuple[int, int]] = {}

    def add(self, camera: str, attrs: dict | None, start: float = TODAY, cls: str = "person") -> int:
        with self.store.engine.begin() as conn:
            if camera not in self.cameras:
                cam = conn.execute(
                    insert(cameras).values(name=camera, source="x", created_at=0).returning(cameras.c.id)
                ).scalar_one()
                run = conn.execute(
                    insert(runs)
                    .values(camera_id=cam, source="x", mode="index", started_at=0, status="done")
                    .returning(runs.c.id)
                ).scalar_one()
                self.cameras[camera] = (cam, run)
            cam, run = self.cameras[camera]
            values = {
                "camera_id": cam,
                "run_id": run,
                "tracker_id": 1,
                "class_name": cls,
                "first_ts": start,
                "last_ts": start + 20,
                "first_frame": 0,
                "last_frame": 9,
                "detections": 10,
                "score": 0.8,
                "path": [],
                "finished": True,
                "attributes": attrs,
            }
            track_id = conn.execute(insert(tracks).values(**values).returning(tracks.c.id)).scalar_one()
            index_tracks(conn, cam, [(track_id, values)])
        return track_id


@pytest.fixture
def db(tmp_path):
    return Store(tmp_path / "data")


def ids(result) -> list[int]:
    return [h.track_id for h in result.results]


def test_red_top_ranks_above_blue_top_with_reasons(db):
    blue = db.add("gate", person(upper={"blue": 0.85}))
    red = db.add("gate", person(upper={"red": 0.82, "white": 0.1}))
    pinkish = db.add("gate", person(upper={"red": 0.2, "pink": 0.6}))
    result = search(db.store, "person in a red top", now=NOW)
    assert ids(result)[:2] == [red, pinkish]
    assert blue not in ids(result)[:2]
    assert "upper body red 0.82" in result.results[0].reasons
    assert result.results[0].score > result.results[1].score


@pytest.mark.parametrize(
    ("text", "colour"),
    [
        ("person in a crimson top", "red"),
        ("穿鲜红色上衣的人", "red"),
        ("person in a gray top", "grey"),
        ("person in a grey top", "grey"),
        ("穿灰色上衣的人", "grey"),
    ],
)
def test_colour_synonyms_and_spellings_find_the_same_track(db, text, colour):
    red = db.add("gate", person(upper={"red": 0.8}))
    grey = db.add("gate", person(upper={"grey": 0.8}))
    db.add("gate", person(upper={"blue": 0.8}))
    result = search(db.store, text, now=NOW)
    assert ids(result)[0] == {"red": red, "grey": grey}[colour], result.to_dict()["understood"]
    assert f"upper body {colour} 0.80" in result.results[0].reasons


def test_any_part_takes_the_best_part_and_explains_each(db):
    top = db.add("gate", person(upper={"red": 0.82}, head={"red": 0.4}))
    trousers = db.add("gate", person(upper={"grey": 0.8}, lower={"red": 0.5}))
    result = search(db.store, "person in red", now=NOW)
    assert ids(result) == [top, trousers]
    assert result.results[0].reasons[1] == "upper body red 0.82, head red 0.40"


def test_carried_item(db):
    plain = db.add("gate", person(upper={"black": 0.8}))
    bag = db.add("gate", person(upper={"black": 0.8}, carried={"backpack": 0.7}))
    result = search(db.store, "person with a backpack", now=NOW)
    assert ids(result)[0] == bag
    assert "carrying backpack 0.70" in result.results[0].reasons
    assert plain not in ids(result)  # never a candidate: no backpack term


def test_heading_and_posture(db):
    right = db.add("gate", person(heading="right"))
    left = db.add("gate", person(heading="left"))
    lying = db.add("gate", person(posture={"standing": 0.05, "sitting": 0.05, "lying": 0.9}))
    assert ids(search(db.store, "people walking left", now=NOW))[0] == left
    assert right not in ids(search(db.store, "people walking left", now=NOW))[:1]
    assert ids(search(db.store, "person lying on the ground", now=NOW))[0] == lying


def test_time_filter(db):
    old = db.add("gate", person(upper={"red": 0.8}), start=YESTERDAY)
    new = db.add("gate", person(upper={"red": 0.8}), start=TODAY)
    assert ids(search(db.store, "person in red yesterday", now=NOW)) == [old]
    assert ids(search(db.store, "person in red in the last 3 hours", now=NOW)) == [new]
    assert ids(search(db.store, "yesterday", now=NOW)) == [old]  # no object: any track in the window


def test_camera_filter_and_unknown_camera(db):
    gate = db.add("gate", person(upper={"red": 0.8}))
    lobby = db.add("lobby", person(upper={"red": 0.8}))
    assert ids(search(db.store, "person in red", now=NOW, cameras=["lobby"])) == [lobby]
    assert ids(search(db.store, "person in red on the gate camera", now=NOW)) == [gate]
    unknown = search(db.store, "person in red", now=NOW, cameras=["roof"])
    assert unknown.results == []
    assert any("unknown camera 'roof'" in n and "gate" in n for n in unknown.notes)
    in_text = search(db.store, "person in red on camera roof", now=NOW)
    assert "roof" in in_text.ignored and any("unknown camera" in n for n in in_text.notes)


def test_chinese_query_gives_the_english_results(db):
    for upper, carried in (
        ({"red": 0.8}, {"backpack": 0.8}),
        ({"red": 0.5}, {}),
        ({"blue": 0.9}, {"backpack": 0.9}),
    ):
        db.add("gate", person(upper=upper, carried=carried))
    for en, zh in (
        ("person in a red top", "穿红色上衣的人"),
        ("person in a red top with a backpack", "穿红色上衣背背包的人"),
    ):
        a, b = search(db.store, en, now=NOW), search(db.store, zh, now=NOW)
        assert ids(a) and ids(a) == ids(b)
        assert [h.reasons for h in a.results] == [h.reasons for h in b.results]


def _count_statements(store):
    seen: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda c, cur, stmt, *a: seen.append(stmt))
    return seen


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "x" * 10_000,
        "红" * 10_000,
        b"\xff\xfe\x00red\x01",
        "red 的 car 昨天 \u202e\x00",
        "xyzzy plugh",
        None,
    ],
)
def test_bad_input_never_crashes_and_never_scans(db, text):
    for k in range(30):
        db.add("gate", person(upper={"red": 0.3 + k / 100}))
    seen = _count_statements(db.store)
    result = search(db.store, text, now=NOW)
    assert json.dumps(result.to_dict(), ensure_ascii=False)
    assert len(result.results) <= 20
    if not result.understood["usable"]:
        assert result.results == [] and result.notes
    for stmt in seen:  # every read of tracks or the index is bounded: a LIMIT or primary-key lookup
        if stmt.lstrip().upper().startswith("SELECT") and re.search(r"\b(tracks|track_terms)\b", stmt):
            assert "LIMIT" in stmt or re.search(r"(tracks\.id|track_terms\.track_id) IN", stmt), stmt


def test_limit_is_bounded(db):
    for _ in range(5):
        db.add("gate", person(upper={"red": 0.8}))
    assert len(search(db.store, "person", now=NOW, limit=2).results) == 2
    assert len(search(db.store, "person", now=NOW, limit=10**9).results) == 5 <= MAX_LIMIT


def test_more_like_this(db):
    me = db.add("gate", person(upper={"red": 0.8}, lower={"black": 0.7}, carried={"backpack": 0.8}))
    twin = db.add("lobby", person(upper={"red": 0.75}, lower={"black": 0.6}, carried={"backpack": 0.7}))
    other = db.add("gate", person(upper={"blue": 0.8}, lower={"blue": 0.7}))
    car = db.add("gate", {"class": "car", "class_conf": 0.9, "colours": {"body": {"red": 0.8}}}, cls="car")
    result = more_like(db.store, me, limit=5)
    assert ids(result)[0] == twin and me not in ids(result)
    assert ids(result).index(other) > 0 and (car not in ids(result) or ids(result).index(car) > 0)
    assert any("upper red" in r for r in result.results[0].reasons)
    assert more_like(db.store, 99999).notes == ["no track with id 99999"]


def test_tracks_without_attributes_are_found_by_class_and_reindex_rebuilds(db):
    bare = db.add("gate", None)
    assert ids(search(db.store, "person", now=NOW)) == [bare]
    with db.store.engine.begin() as conn:
        conn.execute(track_terms.delete())
    assert reindex(db.store.engine) == 1
    with db.store.engine.connect() as conn:
        assert conn.scalar(select(track_terms.c.term)) == "class:person"


def test_cli_json_shape(run_cli):
    db = Store(run_cli.data)
    red = db.add("gate", person(upper={"red": 0.8}))
    done = run_cli("search", "person in a red top", "--json", "--limit", "5")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert {"understood", "ignored", "results"} <= set(out)
    assert out["understood"]["objects"][0]["colours"]["upper"][0]["term"] == "red"
    hit = out["results"][0]
    assert hit["track_id"] == red and hit["camera"] == "gate" and hit["reasons"]
    assert {"start", "end", "score", "thumbnail", "class"} <= set(hit)
    human = run_cli("search", "穿红色上衣的人 and zzz", "--camera", "gate")
    assert human.returncode == 0 and "understood: person, upper red" in human.stdout
    assert "ignored: zzz" in human.stdout and f"track {red} person on gate" in human.stdout
    like = run_cli("search", "--like", str(red), "--json")
    assert like.returncode == 0 and json.loads(like.stdout)["understood"]["like"] == red
    assert run_cli("search").returncode != 0


@needs_mot
def test_real_footage_search_gives_thumbnails_and_mot_ids(run_cli, tmp_path):
    done = run_cli("index", str(MOT / "TUD-Campus" / "TUD-Campus.mp4"), "--camera", "campus")
    assert done.returncode == 0, done.stderr
    found = run_cli("search", "person", "--json", "--limit", "50")
    assert found.returncode == 0, found.stderr
    results = json.loads(found.stdout)["results"]
    assert len(results) >= 3
    mot = tmp_path / "mot.txt"
    assert run_cli("export", "mot", "--camera", "campus", "-o", str(mot)).returncode == 0
    mot_ids = {int(line.split(",")[1]) for line in mot.read_text().splitlines()}
    for hit in results:
        assert hit["track_id"] in mot_ids and hit["class"] == "person" and hit["camera"] == "campus"
        thumbnail = Path(hit["thumbnail"])
        assert thumbnail.is_file() and (tmp_path / "data" / "media").resolve() in thumbnail.parents


def test_colour_adjacency_head_credit_and_van_credit():
    """Ranking rules from the search bench: adjacent terms earn partial credit below the asked
    term; 'person in red' means clothes (a red head counts partly); a van may be a car or truck."""
    from datetime import datetime as _dt

    from scenewatch.search import parse_query
    from scenewatch.search.rank import clause_needs, score_clause

    def score(text: str, facts: dict) -> float:
        return score_clause(clause_needs(parse_query(text, _dt(2024, 5, 1)).objects[0]), facts)[0]

    brown = {"class:person": 0.9, "upper:brown": 0.6}
    black = {"class:person": 0.9, "upper:black": 0.9}
    nothing = {"class:person": 0.9, "upper:blue": 0.9}
    assert score("person in a brown jacket", brown) > score("person in a brown jacket", black)
    assert score("person in a brown jacket", black) > score("person in a brown jacket", nothing)
    red_coat = {"class:person": 0.9, "upper:red": 0.6}
    red_hair = {"class:person": 0.9, "head:red": 0.6}
    assert score("person in red", red_coat) > 2 * score("person in red", red_hair)
    # a garment mostly black ranks above one half black (both are full matches of 'black')
    assert score("person in black trousers", {"class:person": 0.9, "lower:black": 0.95}) > score(
        "person in black trousers", {"class:person": 0.9, "lower:black": 0.5}
    )
    van_truck = {"class:truck": 0.5, "vtype:van": 0.5, "body:white": 0.8}
    van_car = {"class:car": 0.5, "vtype:van": 0.5, "body:white": 0.8}
    assert score("white van", van_truck) == pytest.approx(score("white van", van_car))


def test_heading_shares_rank_primary_above_secondary(db):
    left_towards = person(heading="left")
    left_towards["motion"]["headings"] = {"left": 0.7, "towards": 0.3}
    towards = person(heading="towards")
    towards["motion"]["headings"] = {"towards": 0.9, "left": 0.1}
    a, b = db.add("gate", left_towards), db.add("gate", towards)
    assert ids(search(db.store, "person walking towards the camera", now=NOW))[:2] == [b, a]


def _bench_search():
    import importlib.util
    import sys

    path = Path(__file__).resolve().parent.parent / "bench" / "search.py"
    spec = importlib.util.spec_from_file_location("bench_search", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_search", module)
    spec.loader.exec_module(module)
    return module


def test_bench_reads_an_identity_switch_track_as_each_person_it_shows():
    """vtest: one track follows a man (p11), then the woman who passes him (p111); the bench
    used to give the track to whichever label came first in the file, so p111 could never be
    found. The track holds both, and stands for the one the query asks for."""
    bench = _bench_search()
    mapping = {1: ("vtest:p11", "vtest:p111"), 2: ("vtest:p2",), 3: ("vtest:p13",)}
    # 'white top': p111 relevant, p11 not -> the switch track counts as p111.
    assert bench.read_ranking([1, 2, 3, 9], mapping, {"vtest:p111", "vtest:p13"}, set()) == [
        "vtest:p111",
        "vtest:p2",
        "vtest:p13",
        None,
    ]
    # 'black top': p11 relevant; a second track of a counted label adds nothing.
    assert bench.read_ranking([1, 1, 2], mapping, {"vtest:p11", "vtest:p2"}, set()) == [
        "vtest:p11",
        "vtest:p2",
    ]
    # A label unsure about the field leaves its track out; an irrelevant pair counts once.
    assert bench.read_ranking([1, 2], mapping, {"vtest:p2"}, {"vtest:p11"}) == ["vtest:p2"]
    mapping[4] = ("vtest:p11",)  # the man's own later track
    assert bench.read_ranking([1, 4, 2], mapping, {"vtest:p2"}, set()) == ["vtest:p11", "vtest:p2"]
