"""Ranking by looks: shades, headwear, bags the detector did not box and whole outfits, from the
facts a describer writes (``facts.track_facts``) through the parsed query's needs."""

from __future__ import annotations

from datetime import datetime

from scenewatch.search import parse_query
from scenewatch.search.facts import track_facts
from scenewatch.search.rank import clause_needs, score_clause

NOW = datetime(2024, 5, 15, 10, 30)


def person(upper=None, lower=None, head=None, **more) -> dict:
    """A person's attributes JSON: colour shares per part plus any other keys."""
    return {
        "class": "person",
        "class_conf": 0.9,
        "colours": {"upper": upper or {}, "lower": lower or {}, "head": head or {}},
        **more,
    }


def ranked(query: str, tracks: dict[str, dict]) -> list[str]:
    """Track names best first for ``query``."""
    needs = clause_needs(parse_query(query, NOW).objects[0])
    scores = {name: score_clause(needs, track_facts("person", attrs))[0] for name, attrs in tracks.items()}
    return sorted(scores, key=lambda name: -scores[name])


def reasons(query: str, attrs: dict) -> list[str]:
    return score_clause(clause_needs(parse_query(query, NOW).objects[0]), track_facts("person", attrs))[1]


BLUES = {  # ties keep this order: a shade that is not read fails the tests
    "plain blue": person({"blue": 0.8}, shades={"upper": {"blue:light": 0.1, "blue:dark": 0.1}}),
    "light blue": person(
        {"blue": 0.8}, shades={"upper": {"light": 0.9, "blue:light": 0.95, "blue:dark": 0.0}}
    ),
    "navy": person({"blue": 0.8}, shades={"upper": {"dark": 0.9, "blue:light": 0.0, "blue:dark": 0.95}}),
    "white": person({"white": 0.8}, shades={"upper": {"light": 0.95}}),
    "red": person({"red": 0.8}, shades={"upper": {"red:light": 0.0, "red:dark": 0.1}}),
}


def test_light_blue_ranks_light_blue_first_then_plain_blue() -> None:
    for query in ("person in a light blue jacket", "穿浅蓝色外套的人", "person in a pale blue top"):
        order = ranked(query, BLUES)
        assert order[:2] == ["light blue", "plain blue"], (query, order)
        assert order.index("navy") < order.index("white")  # still blue, in the wrong shade


def test_navy_and_dark_red_keep_their_shade() -> None:
    for query in ("person in a navy top", "藏青色上衣的人", "深蓝色外套的人"):
        assert ranked(query, BLUES)[:2] == ["navy", "plain blue"], query
    reds = {
        "dark red": person({"red": 0.7}, shades={"upper": {"red:dark": 0.9}}),
        "plain red": person({"red": 0.8}, shades={"upper": {"red:dark": 0.1}}),
        "blue": BLUES["navy"],
    }
    assert ranked("a person in a dark red top", reds) == ["dark red", "plain red", "blue"]
    assert "upper body dark red 0.90" in reasons("a person in a dark red top", reds["dark red"])


def test_shade_without_a_hue_reads_lightness_alone() -> None:
    tracks = {
        "navy trousers": person(lower={"blue": 0.9}, shades={"lower": {"dark": 0.95}}),
        "light jeans": person(lower={"blue": 0.9}, shades={"lower": {"light": 0.7, "dark": 0.05}}),
        "grey trousers": person(lower={"grey": 0.9}, shades={"lower": {"light": 0.2, "dark": 0.3}}),
    }
    assert ranked("person in dark trousers", tracks)[0] == "navy trousers"
    assert ranked("穿深色裤子的行人", tracks)[0] == "navy trousers"
    assert ranked("穿浅色裤子的人", tracks)[0] == "light jeans"


OUTFITS = {
    "all black": person({"black": 0.9}, {"black": 0.85}),
    "black top, jeans": person({"black": 0.95}, {"blue": 0.9}),
    "jacket only black": person({"black": 0.6, "grey": 0.3}, {"grey": 0.8}),
    "white coat": person({"white": 0.7, "grey": 0.2}, {"blue": 0.8}),
    "all brown": person({"brown": 0.7}, {"brown": 0.8}),
}


def test_outfit_needs_every_part_to_agree() -> None:
    for query in ("person dressed all in black", "一身黑的人", "全身黑色的路人", "someone in black clothes"):
        order = ranked(query, OUTFITS)
        assert order[0] == "all black", (query, order)
        assert order.index("black top, jeans") < order.index("white coat")
    assert ranked("一身棕色的人", OUTFITS)[0] == "all brown"
    # '白衣服': the white coat is the only white there is; it leads even with blue jeans
    assert ranked("穿白衣服的人", OUTFITS)[0] == "white coat"


def test_dark_clothes_ask_both_parts_to_be_dark() -> None:
    tracks = {
        "dark both": person(
            {"black": 0.9}, {"blue": 0.9}, shades={"upper": {"dark": 0.9}, "lower": {"dark": 0.9}}
        ),
        "dark top": person(
            {"black": 0.9}, {"blue": 0.9}, shades={"upper": {"dark": 0.9}, "lower": {"dark": 0.1}}
        ),
    }
    assert ranked("全身深色衣服的人", tracks) == ["dark both", "dark top"]
    assert ranked("person in dark clothes", tracks) == ["dark both", "dark top"]


HEADS = {  # the covered head last: ties keep this order
    "dark hair": person(head={"black": 0.9}, headwear={"covered": 0.1, "hood": 0.05, "hat": 0.05}),
    "blond hair": person(
        head={"yellow": 0.6, "white": 0.3}, headwear={"covered": 0.3, "hood": 0.1, "hat": 0.2}
    ),
    "no pose": person(head={"white": 0.3}),
    "white hood": person(head={"white": 0.8}, headwear={"covered": 0.95, "hood": 0.5, "hat": 0.45}),
}


def test_headwear_ranks_covered_heads_first() -> None:
    for query in (
        "person in a white hood",
        "戴白色兜帽的人",
        "person wearing a hat",
        "戴帽子的行人",
        "a person in a white cap",
    ):
        assert ranked(query, HEADS)[0] == "white hood", query
    said = reasons("戴兜帽的人", HEADS["white hood"])
    assert "hood: covered head 0.95, wrapped round the face 0.50" in said, said
    said = reasons("a person in a black cap", HEADS["white hood"])
    assert "cap: covered head 0.95, not wrapped round the face 0.45" in said, said


BAGS = {  # ties keep this order: a sign that is not read fails the test
    "nothing": person(bag_signs={"hip": 0.0}),
    "strap seen": person(bag_signs={"strap": 0.8, "hip": 0.1}),
    "handbag box": person(carried={"handbag": 0.6}),
}


def test_bag_signs_rank_between_a_detected_bag_and_none() -> None:
    for query in ("person carrying a bag", "拿着包的人", "挎着单肩包的人"):
        assert ranked(query, BAGS) == ["handbag box", "strap seen", "nothing"], query
    assert "a strap across the torso 0.80" in reasons("person carrying a bag", BAGS["strap seen"])
    assert "carrying handbag 0.60" in reasons("person carrying a bag", BAGS["handbag box"])


def test_a_pale_tint_named_white_is_found_as_light_blue() -> None:
    """A sky-blue anorak too faint for the colour names (named white) but with a steady blue tint
    ranks first for "light blue", before plain blue, with the tint in the reasons; a white top
    without the tint stays last."""
    tracks = {
        "pale blue": person(
            {"white": 0.85, "blue": 0.05}, shades={"upper": {"light": 1.0, "blue:pale": 0.8}}
        ),
        "plain blue": BLUES["plain blue"],
        "white": BLUES["white"],
    }
    for query in ("person in a light blue jacket", "穿浅蓝色外套的人"):
        assert ranked(query, tracks) == ["pale blue", "plain blue", "white"], query
    said = reasons("person in a light blue jacket", tracks["pale blue"])
    assert "upper body pale blue 0.80" in said and "(pale blue tint 0.80)" in said[-1], said
    # a navy query gains nothing from a pale tint
    assert ranked("person in a navy top", tracks)[0] == "plain blue"


def test_a_body_half_named_first_takes_the_colours_after_it() -> None:
    """'上身' / '下身' (upper / lower body) before the clothes: the colours after each belong to
    that half, not to the whole outfit, and no character is left over."""
    light_top = parse_query("上身穿浅色衣服的人", NOW)
    assert list(light_top.objects[0].colours) == ["upper"] and not light_top.ignored
    two = parse_query("上身黑色下身蓝色的人", NOW).objects[0].colours
    assert [(p, [c.term for c in cs]) for p, cs in two.items()] == [("upper", ["black"]), ("lower", ["blue"])]
    tracks = {
        "white top, black trousers": person(
            {"white": 0.9}, {"black": 0.9}, shades={"upper": {"light": 1.0}, "lower": {"dark": 1.0}}
        ),
        "black top, white trousers": person(
            {"black": 0.9}, {"white": 0.9}, shades={"upper": {"dark": 1.0}, "lower": {"light": 1.0}}
        ),
    }
    assert ranked("上身穿浅色衣服的人", tracks)[0] == "white top, black trousers"
    assert ranked("上身穿白衣服下身穿黑裤子的人", tracks)[0] == "white top, black trousers"
