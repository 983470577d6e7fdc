"""Plain-language search queries (English and Chinese) parsed into a structured :class:`Query`.

How a query is read, in four passes over one token list:

1. **Clean**: NFKC-normalise, strip non-printable characters (note), truncate to
   :data:`MAX_CHARS` (note). Known camera and zone names are found first, case- and
   separator-insensitively, and replaced by place tokens so that no other rule can eat them.
2. **Tokenise** both scripts: English words (longest phrase match over the lexicon, up to four
   words; plurals are in the lexicon), numbers, clock times (``6pm``, ``18:00``), ISO dates;
   runs of Chinese characters are split by longest match over the lexicon, with Chinese
   numerals (``两``, ``十五``) read as numbers. Anything unmatched becomes an unknown token.
3. **Places, then time** consume the tokens they use: ``camera X`` / ``X摄像头`` /
   ``zone X`` / ``X区域`` with an unknown X, or a generic place word (gate, 门口) that is not a
   known name, is reported as unknown (ignored + note). Time: day (``yesterday``, ``昨天``,
   weekdays, dates), part of day (``evening``, ``下午``), clock times with after/before/ranges,
   and relative windows (``in the last hour``, ``过去一小时``), resolved against ``now``.
4. **Clause binding**. Each object noun opens a clause. Colours directly before a garment,
   item or noun bind to it (``red top``, ``蓝色背包``, ``白色面包车``); a colour bound to nothing
   (``in red``) goes to the whole object: part ``any`` for people (the ranker matches the best
   part), ``body`` for vehicles. Other attributes (garments, items, posture, motion, counts)
   collect in a *segment* that is resolved at the next noun: it binds to that noun when no
   object came before, after ``and``/``和``, or when the noun follows ``的`` (Chinese
   modifiers precede the noun: ``穿红色上衣背蓝色背包的男人``); otherwise it binds to the
   preceding object (English post-modifiers: ``a man in a red top with a blue backpack``),
   except for adjectives right before the noun (``a running man``). Attributes with no
   object at all make an implicit ``person`` clause when they describe a person (garments,
   items, posture, walking/running), else an ``any object`` clause.

Words that cannot be used are listed in ``ignored``; requests for what SceneWatch never infers
(gender, age, ethnicity, faces, plates, identities) map to the neutral class and add a note.
A count of one (``a man``, ``一个人``) is no count: at least one is always implied.

The passes live in their own modules: ``tokenizer.py`` (1, 2), ``places.py`` and ``timewin.py`` (3),
``binder.py`` (4); the result types in ``model.py``. This module ties them together and keeps
the public names importable from here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, tzinfo

from scenewatch.search.binder import MAX_COUNT, Binder
from scenewatch.search.model import CarriedItem, Colour, Motion, ObjectClause, Query
from scenewatch.search.places import resolve_places
from scenewatch.search.timewin import MAX_WINDOW, resolve_time
from scenewatch.search.tokenizer import MAX_CHARS, Token, clean_query, mark_places, tokenize

MAX_IGNORED = 20  # ignored words listed back; the rest are counted in a note

__all__ = [
    "MAX_CHARS",
    "MAX_COUNT",
    "MAX_IGNORED",
    "MAX_WINDOW",
    "CarriedItem",
    "Colour",
    "Motion",
    "ObjectClause",
    "Query",
    "Token",
    "parse_query",
    "tokenize",
]


def parse_query(
    text: object,
    now: datetime,
    cameras: Iterable[str] = (),
    zones: Iterable[str] = (),
    tz: tzinfo | None = None,
) -> Query:
    """Parse a plain-language query; never raises on bad text.

    ``now`` anchors relative times; a naive ``now`` takes ``tz`` when given. Times in the query
    are read in ``now``'s time zone. ``cameras`` and ``zones`` are the known names.

    >>> q = parse_query("red car yesterday", datetime(2024, 5, 15, 12, 0))
    >>> q.objects[0].vehicle_type, q.objects[0].colours["body"][0].term, q.start.day
    ('car', 'red', 14)
    """
    if now.tzinfo is None and tz is not None:
        now = now.replace(tzinfo=tz)
    notes: list[str] = []
    clean = clean_query(text, notes)
    camera_names = [str(c) for c in cameras if str(c).strip()]
    zone_names = [str(z) for z in zones if str(z).strip()]
    names = [(c, "camera") for c in camera_names] + [(z, "zone") for z in zone_names]
    tokens = tokenize(mark_places(clean.lower(), names))
    query = Query(text=clean, language=_language(tokens))
    places = resolve_places(tokens, names, camera_names, zone_names)
    query.cameras, query.zones = places.cameras, places.zones
    window = resolve_time(tokens, now)
    query.start, query.end = window.start, window.end
    bound = Binder().run(tokens)
    query.objects = bound.objects
    ignored = places.ignored + bound.ignored
    query.notes = _dedupe(notes + places.notes + window.notes + bound.notes)
    query.ignored = _dedupe(ignored)[:MAX_IGNORED]
    if len(_dedupe(ignored)) > MAX_IGNORED:
        query.notes.append(f"{len(_dedupe(ignored)) - MAX_IGNORED} more ignored words not listed")
    if not clean:
        query.notes.append("the query is empty")
    elif not query.usable:
        query.notes.append("nothing in the query could be used; try e.g. 'person in red yesterday'")
    return query


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _language(tokens: list[Token]) -> str:
    zh = any(t.zh and t.kind in ("cjk", "unk", "num") for t in tokens)
    en = any(
        not t.zh and t.kind in ("word", "unk") and t.surface.isascii() and t.surface.isalpha() for t in tokens
    )
    if zh and en:
        return "mixed"
    return "zh" if zh else "en" if en else "unknown"
