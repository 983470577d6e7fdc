"""Vehicle search on hand-built tracks in a real store: candidates and ranking of vehicle terms."""

from __future__ import annotations

from test_search import NOW, TODAY, Store

from scenewatch.search.engine import search


def vehicle(cls: str, body: dict[str, float], vtype: dict[str, float]) -> dict:
    return {"class": cls, "class_conf": 0.9, "colours": {"body": body}, "vehicle_type": vtype, "crops": 3}


def test_a_type_with_a_colour_nobody_has_still_shows_that_type(tmp_path) -> None:
    """'a green pickup' when no vehicle reads green: the pickups, best typed first, not nothing
    (the type is a soft hint, so it must also be able to bring candidates in)."""
    db = Store(tmp_path / "data")
    pickup = db.add("road", vehicle("truck", {"black": 0.95}, {"pickup": 0.7, "car": 0.3}), TODAY, "truck")
    maybe = db.add("road", vehicle("car", {"grey": 0.9}, {"pickup": 0.3, "car": 0.7}), TODAY + 100, "car")
    db.add("road", vehicle("car", {"white": 0.9}, {"car": 1.0}), TODAY + 200, "car")
    db.add("road", vehicle("car", {"red": 0.9}, {"car": 1.0}), TODAY + 300, "car")
    found = search(db.store, "a green pickup", now=NOW)
    assert [h.track_id for h in found.results][:2] == [pickup, maybe]
    assert any("looks like a pickup" in r for r in found.results[0].reasons)


def test_a_sure_type_with_a_likely_colour_outranks_a_sure_colour_of_another_type(tmp_path) -> None:
    """'a black pickup': a pickup read partly black (dark paint reads black or grey) above a
    plain black car that only might be a pickup; a named type other than car weighs as much as
    a colour read less than surely."""
    db = Store(tmp_path / "data")
    car = db.add("road", vehicle("car", {"black": 0.95}, {"car": 0.7, "pickup": 0.3}), TODAY, "car")
    pickup = db.add(
        "road",
        vehicle("truck", {"black": 0.55, "grey": 0.45}, {"pickup": 0.75, "van": 0.25}),
        TODAY + 100,
        "truck",
    )
    found = search(db.store, "a black pickup", now=NOW)
    assert [h.track_id for h in found.results][:2] == [pickup, car]


def test_a_black_car_query_still_ranks_a_black_suv_typed_as_a_pickup_first(tmp_path) -> None:
    """'a black car': people say car for SUVs, which sizes read as pickups or vans, so a black SUV
    typed mostly pickup still outranks a white car."""
    db = Store(tmp_path / "data")
    suv = db.add(
        "road", vehicle("car", {"black": 0.9}, {"pickup": 0.6, "car": 0.3, "van": 0.1}), TODAY, "car"
    )
    white = db.add("road", vehicle("car", {"white": 0.9, "grey": 0.1}, {"car": 1.0}), TODAY + 100, "car")
    found = search(db.store, "a black car", now=NOW)
    assert [h.track_id for h in found.results][:2] == [suv, white]
