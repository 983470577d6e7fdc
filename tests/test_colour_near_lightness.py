"""A colour named black stands in for grey or brown by how light its pixels were, not by how surely
black it is: from real colour readings of swatches (``describe_colours``) through the facts a
describer writes to the ranking of a parsed query."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from scenewatch.search import parse_query
from scenewatch.search.facts import track_facts
from scenewatch.search.rank import EVIDENCE_FLOOR, clause_needs, lightness_evidence, score_clause
from scenewatch.vision.attributes.looks import shades
from scenewatch.vision.colours import describe_colours, shade_of, tone_of

NOW = datetime(2024, 5, 15, 10, 30)
BRIGHT_SCENE = 90.0  # the scene's bright level: no shadow stretch, the swatch's lightness as it is


def described(*grey_levels: int) -> dict:
    """A person whose upper body is a swatch of these grey levels (BGR), equal parts, described by
    the real colour naming; the lower body a plain blue."""
    upper = np.concatenate([np.full((8, 8, 3), g, np.uint8) for g in grey_levels], axis=1)
    lower = np.full((8, 8, 3), (150, 60, 20), np.uint8)
    readings = {
        p: describe_colours(img, None, BRIGHT_SCENE) for p, img in (("upper", upper), ("lower", lower))
    }
    return {
        "class": "person",
        "class_conf": 0.9,
        "colours": {p: r.shares for p, r in readings.items()},
        "shades": {p: shades(r) for p, r in readings.items()},
    }


def score(query: str, attrs: dict) -> float:
    return score_clause(clause_needs(parse_query(query, NOW).objects[0]), track_facts("person", attrs))[0]


def reasons(query: str, attrs: dict) -> list[str]:
    return score_clause(clause_needs(parse_query(query, NOW).objects[0]), track_facts("person", attrs))[1]


# Pitch black (L* ~1), surely named black; a charcoal top (L* ~16, still named mostly black)
# with a few lighter pixels, less surely black.
PITCH = described(3)
CHARCOAL = described(40, 40, 40, 40, 40, 40, 70)


def test_swatches_are_named_as_the_tests_assume() -> None:
    pitch, charcoal = PITCH["colours"]["upper"], CHARCOAL["colours"]["upper"]
    assert pitch["black"] > 0.95 and charcoal["black"] > 0.7
    assert pitch["black"] > charcoal["black"]  # the pitch-black top is the surer black
    assert charcoal["grey"] < 0.3  # grey by name alone would not find the charcoal top


@pytest.mark.parametrize("query", ["person in a grey top", "穿灰上衣的人", "person in a brown jacket"])
def test_a_lighter_black_is_the_better_stand_in(query: str) -> None:
    assert score(query, CHARCOAL) > score(query, PITCH)


def test_black_queries_still_rank_the_surest_black_first() -> None:
    for query in ("person in a black top", "黑色上衣的行人", "someone in black clothes"):
        assert score(query, PITCH) > score(query, CHARCOAL), query


def test_a_named_grey_still_beats_any_black() -> None:
    grey = described(120)
    assert grey["colours"]["upper"]["grey"] > 0.9
    assert score("person in a grey top", grey) > 2 * score("person in a grey top", CHARCOAL)


def test_tracks_described_before_shades_keep_the_old_credit() -> None:
    facts = track_facts("person", {"class": "person", "colours": {"upper": {"black": 0.9}}})
    assert lightness_evidence(facts, "upper", "black", "grey") == 1.0
    # a described part whose black was too rare for a lightness of its own: the floor
    facts = track_facts(
        "person",
        {"class": "person", "colours": {"upper": {"black": 0.04}}, "shades": {"upper": {"dark": 0.9}}},
    )
    assert lightness_evidence(facts, "upper", "black", "grey") == EVIDENCE_FLOOR
    # pairs across no lightness boundary are untouched
    facts = track_facts("person", PITCH)
    assert lightness_evidence(facts, "upper", "black", "blue") == 1.0
    assert lightness_evidence(facts, "upper", "black", "grey") < 0.4


def test_reasons_say_how_far_lightness_counted() -> None:
    said = " ".join(reasons("person in a grey top", PITCH))
    assert "upper body black" in said and "near match, as light as grey 0.3" in said


@pytest.mark.parametrize("term", ["black", "brown", "grey"])
def test_tone_of_undoes_the_stored_dark_degree(term: str) -> None:
    for lightness in (0.5, 4.0, 12.0, 25.0, 40.0):
        dark = shade_of(lightness, term)["dark"]
        if 0.001 < dark < 0.999:  # stored rounded to 3 decimals
            assert tone_of(dark, term) == pytest.approx(lightness, abs=0.6), (term, lightness)
