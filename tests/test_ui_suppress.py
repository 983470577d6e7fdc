"""'Not a person' in a real browser: an operator marks a search result as not a person, undoes it,
marks it from the track detail, and undoes it from the Zones page's list; viewers get no button.
Reuses test_ui's server (vtest.avi indexed by the real pipeline) and browser."""

from __future__ import annotations

import pytest
from test_ui import page, pytestmark, server, shot, signed_in  # noqa: F401  (fixtures, marks, helpers)

from scenewatch.store import suppressions as stored

WAIT_MS = 60_000  # generous: CI machines are several times slower


def marks(ui: dict) -> list[tuple[str, int | None]]:
    return [(s.class_name, s.track_id) for s in stored.list_for(ui["store"].engine, "sample")]


def test_not_a_person_then_undo(server, page, artifacts_dir):  # noqa: F811
    url = server["url"]
    oper = signed_in(server, page, "suppress-oper", "operator")
    try:
        oper.goto(url + "/ui/search.html?q=person")
        oper.wait_for_selector(".hit .suppress-add", timeout=WAIT_MS)
        card = oper.query_selector(".hit")
        track = int(card.get_attribute("data-track"))
        button = card.query_selector(".suppress-add")
        assert button.inner_text() == "Not a person"
        button.click()
        card.wait_for_selector(".suppress-undo", timeout=WAIT_MS)
        assert "Marked: not a person on sample" in card.inner_text()
        assert marks(server) == [("person", track)]
        assert not oper.query_selector("#clip")  # the button does not open the clip
        shot(oper, artifacts_dir, "40-suppress-marked")
        card.query_selector(".suppress-undo").click()
        card.wait_for_selector(".suppress-add", timeout=WAIT_MS)
        assert marks(server) == []
        shot(oper, artifacts_dir, "41-suppress-undone")

        # from the track detail (the clip player), then undone from the Zones page
        card.click()
        oper.wait_for_selector("#player .suppress-add", timeout=WAIT_MS)
        oper.click("#player .suppress-add")
        oper.wait_for_selector("#player .suppress-undo", timeout=WAIT_MS)
        assert marks(server) == [("person", track)]
        oper.goto(url + "/ui/zones.html")
        item = oper.wait_for_selector("#suppressions li[data-suppression]", timeout=WAIT_MS)
        text = item.inner_text()
        assert "not a person at (" in text and f"from track {track}, by suppress-oper" in text
        shot(oper, artifacts_dir, "42-suppress-zones-list")
        item.query_selector(".suppress-undo").click()
        oper.wait_for_selector(
            "#suppressions p#suppression-list:has-text('None on this camera')", timeout=WAIT_MS
        )
        assert marks(server) == []
        shot(oper, artifacts_dir, "43-suppress-zones-undone")
    finally:
        oper.context.close()


def test_viewer_sees_the_list_but_no_button(server, page):  # noqa: F811
    url = server["url"]
    engine = server["store"].engine
    track = _any_track(server)
    made = stored.add_from_track(engine, "sample", track, "admin", "a poster")
    view = signed_in(server, page, "suppress-view", "viewer")
    try:
        view.goto(url + "/ui/search.html?q=person")
        view.wait_for_selector(".hit", timeout=WAIT_MS)
        assert view.query_selector(".suppress-add") is None
        view.goto(url + "/ui/zones.html")
        item = view.wait_for_selector(f"#suppressions li[data-suppression='{made.id}']", timeout=WAIT_MS)
        assert "(a poster)" in item.inner_text() and item.query_selector("button") is None
    finally:
        view.context.close()
        stored.remove(engine, made.id)


def _any_track(ui: dict) -> int:
    from scenewatch.store import repo

    rows = repo.list_tracks(ui["store"].engine, camera="sample", class_name="person")
    if not rows:
        pytest.fail("the indexed sample has no person track")
    return rows[0]["id"]
