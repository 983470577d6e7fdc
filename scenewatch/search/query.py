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
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

from scenewatch.search import lexicon as lx
from scenewatch.search.lexicon import Sem

MAX_CHARS = 500  # longer queries are truncated: no operator types more, and it bounds all work
MAX_IGNORED = 20  # ignored words listed back; the rest are counted in a note
MAX_COUNT = 100  # a larger number before a noun is not a head count (a plate number, an id)
MAX_WINDOW = timedelta(days=366)  # relative windows are capped so a search is never unbounded


# ---------------------------------------------------------------- result types


@dataclass(frozen=True, slots=True)
class Colour:
    """A basic colour term, its shade (``dark``/``light``) and other basic terms that also fit."""

    term: str
    shade: str | None = None
    also: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"term": self.term, "shade": self.shade, "also": list(self.also)}


@dataclass(slots=True)
class CarriedItem:
    item: str  # backpack | handbag | suitcase | umbrella | bag (any of the first three)
    colour: Colour | None = None

    def to_dict(self) -> dict:
        return {"item": self.item, "colour": self.colour.to_dict() if self.colour else None}


@dataclass(slots=True)
class Motion:
    state: str | None = None  # running | walking | stopped | moving
    direction: str | None = None  # left | right | towards | away (relative to the camera)
    speed: str | None = None  # fast | slow

    def to_dict(self) -> dict:
        return {"state": self.state, "direction": self.direction, "speed": self.speed}


@dataclass(slots=True)
class ObjectClause:
    """One object the user asks for and everything said about it.

    ``cls`` is ``person``, ``vehicle`` (with ``vehicle_type``), an animal, or ``None`` for any
    object. ``colours`` maps a part (head, upper, lower for people; body for vehicles; any) to
    colours that must all be present there. ``count`` is the least number wanted together
    (``None``: at least one).
    """

    cls: str | None
    vehicle_type: str | None = None
    count: int | None = None
    colours: dict[str, list[Colour]] = field(default_factory=dict)
    garments: list[str] = field(default_factory=list)
    carried: list[CarriedItem] = field(default_factory=list)
    posture: str | None = None
    motion: Motion = field(default_factory=Motion)

    def add_colour(self, part: str, colour: Colour) -> None:
        colours = self.colours.setdefault(part, [])
        if colour not in colours:
            colours.append(colour)

    def to_dict(self) -> dict:
        return {
            "class": self.cls,
            "vehicle_type": self.vehicle_type,
            "count": self.count,
            "colours": {p: [c.to_dict() for c in cs] for p, cs in self.colours.items()},
            "garments": list(self.garments),
            "carried": [c.to_dict() for c in self.carried],
            "posture": self.posture,
            "motion": self.motion.to_dict(),
        }


@dataclass(slots=True)
class Query:
    """What was understood from a query (``to_dict`` is the ``understood`` part of the search JSON)."""

    text: str
    language: str  # en | zh | mixed | unknown
    objects: list[ObjectClause] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None
    cameras: list[str] = field(default_factory=list)
    zones: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        """Whether anything constrains the search; an unusable query must not scan everything."""
        return bool(self.objects or self.start or self.end or self.cameras or self.zones)

    def to_dict(self) -> dict:
        window = None
        if self.start or self.end:
            window = {
                "start": self.start.isoformat() if self.start else None,
                "end": self.end.isoformat() if self.end else None,
            }
        return {
            "text": self.text,
            "language": self.language,
            "objects": [o.to_dict() for o in self.objects],
            "time": window,
            "cameras": list(self.cameras),
            "zones": list(self.zones),
            "ignored": list(self.ignored),
            "notes": list(self.notes),
            "usable": self.usable,
        }


# ---------------------------------------------------------------- tokens


@dataclass(slots=True)
class Token:
    surface: str
    kind: str  # word | cjk | num | clock | date | place | punct | unk
    sem: Sem | None = None
    value: object = None  # number, (h, m, meridiem), date, or place index
    zh: bool = False
    used: bool = False

    @property
    def sk(self) -> str | None:
        """The semantic kind, or None for unknown words."""
        return self.sem.kind if self.sem else None


_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_PLACE_BASE = 0xE000  # private-use characters stand for matched camera/zone names
_TOKEN_RE = re.compile(
    rf"""
    (?P<place>[\ue000-\ue0ff])
   |(?P<date>\d{{4}}-\d{{1,2}}-\d{{1,2}})
   |(?P<clock>\d{{1,2}}(?::\d{{2}})?\s*(?:a\.?m\.?|p\.?m\.?)(?![a-z])|\d{{1,2}}:\d{{2}}(?!\d))
   |(?P<code>[a-z]+\d[a-z0-9]*)
   |(?P<num>\d{{1,9}})\d*
   |(?P<word>[a-z]+(?:['’-][a-z]+)*)
   |(?P<cjk>[{_CJK}]+)
   |(?P<punct>[,、;:/&+~\-–—()\[\]"'“”‘’!?.。！？；])
   |(?P<other>\S)
    """,
    re.VERBOSE,
)
_PUNCT_SEMS = {",": Sem(lx.AND), "、": Sem(lx.AND), ";": Sem(lx.AND), "-": Sem(lx.SEP), "~": Sem(lx.SEP)}


def _clock_value(text: str) -> tuple[int, int, str | None]:
    m = re.match(r"(\d{1,2})(?::(\d{2}))?\s*([ap])?", text)
    assert m is not None
    mer = {"a": "am", "p": "pm"}.get(m.group(3) or "")
    return int(m.group(1)), int(m.group(2) or 0), mer


def _expand(surface: str, kind: str, sems: tuple[Sem, ...], zh: bool) -> list[Token]:
    return [Token(surface, kind, s, s.value if s.kind == lx.NUM else None, zh) for s in sems]


def _segment_zh(run: str) -> list[Token]:
    """Longest match over the Chinese lexicon; numeral runs become numbers; the rest unknown."""
    out: list[Token] = []
    i, n, unknown = 0, len(run), ""
    while i < n:
        best, sems = 0, None
        for j in range(min(lx.max_zh_len(), n - i), 0, -1):
            hit = lx.lookup_zh(run[i : i + j])
            if hit:
                best, sems = j, hit
                break
        num_len = 0
        while i + num_len < n and run[i + num_len] in lx.ZH_NUMERAL_CHARS:
            num_len += 1
        if num_len > best:
            if unknown:
                out.append(Token(unknown, "unk", zh=True))
                unknown = ""
            text = run[i : i + num_len]
            out.append(Token(text, "num", Sem(lx.NUM, lx.zh_number(text)), lx.zh_number(text), True))
            i += num_len
        elif sems:
            if unknown:
                out.append(Token(unknown, "unk", zh=True))
                unknown = ""
            out.extend(_expand(run[i : i + best], "cjk", sems, True))
            i += best
        else:
            unknown += run[i]
            i += 1
    if unknown:
        out.append(Token(unknown, "unk", zh=True))
    return out


def _lookup_word(word: str) -> tuple[Sem, ...] | None:
    hit = lx.lookup_en(word)
    if hit is None and word.endswith("s") and len(word) > 3:
        hit = lx.lookup_en(word[:-1])  # plural forms the lexicon did not list
    return hit


def _merge_en(words: list[str]) -> list[Token]:
    """Longest phrase match over a run of English words."""
    out: list[Token] = []
    i = 0
    while i < len(words):
        for j in range(min(lx.max_en_words(), len(words) - i), 0, -1):
            phrase = " ".join(words[i : i + j])
            sems = _lookup_word(phrase) if j == 1 else lx.lookup_en(phrase)
            if sems:
                out.extend(_expand(phrase, "word", sems, False))
                i += j
                break
        else:
            out.append(Token(words[i], "unk"))
            i += 1
    return out


def tokenize(text: str) -> list[Token]:
    """Tokens of a cleaned, lower-case query (place names already replaced)."""
    tokens: list[Token] = []
    words: list[str] = []

    def flush_words() -> None:
        if words:
            tokens.extend(_merge_en(words))
            words.clear()

    for m in _TOKEN_RE.finditer(text):
        kind, surface = m.lastgroup or "other", m.group(0)
        if kind == "word":
            words.append(surface.replace("’", "'"))
            continue
        flush_words()
        if kind == "place":
            tokens.append(Token(surface, "place", value=ord(surface) - _PLACE_BASE))
        elif kind == "date":
            y, mo, d = (int(x) for x in surface.split("-"))
            try:
                tokens.append(Token(surface, "date", value=date(y, mo, d)))
            except ValueError:
                tokens.append(Token(surface, "unk"))
        elif kind == "clock":
            tokens.append(Token(surface, "clock", value=_clock_value(surface)))
        elif kind == "code":  # plate numbers, camera ids like cam7: never a vocabulary word
            tokens.append(Token(surface, "unk"))
        elif kind == "num":
            n = int(m.group("num"))
            tokens.append(Token(surface, "num", Sem(lx.NUM, n), n))
        elif kind == "cjk":
            tokens.extend(_segment_zh(surface))
        elif kind == "punct":
            sem = _PUNCT_SEMS.get(surface)
            tokens.append(Token(surface, "punct", sem))
        else:
            tokens.append(Token(surface, "unk"))
    flush_words()
    return tokens


# ---------------------------------------------------------------- cleaning and places


def _clean(text: object, notes: list[str]) -> str:
    if text is None:
        return ""
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8", errors="replace")
        notes.append("the query was bytes; decoded as UTF-8")
    text = unicodedata.normalize("NFKC", str(text))
    if len(text) > MAX_CHARS * 4:  # bound the work before cleaning
        text = text[: MAX_CHARS * 4]
    kept = [ch if ch.isprintable() or ch.isspace() else "" for ch in text]
    removed = sum(1 for ch in kept if ch == "")
    if removed:
        notes.append(f"removed {removed} non-printable characters")
    text = " ".join("".join(kept).split())
    # private-use characters are our place markers; a query must not smuggle them in
    text = re.sub(r"[\ue000-\uf8ff]", "", text)
    if len(text) > MAX_CHARS:
        notes.append(f"query truncated to its first {MAX_CHARS} characters")
        text = text[:MAX_CHARS]
    return text


def _norm_name(name: str) -> str:
    return unicodedata.normalize("NFKC", name).strip().lower()


def _name_pattern(name: str) -> re.Pattern[str] | None:
    """A pattern for a configured name that tolerates case, spaces, '_' and '-' between parts."""
    parts = re.findall(rf"[a-z0-9]+|[{_CJK}]+|[^\s_\-a-z0-9{_CJK}]+", _norm_name(name))
    if not parts:
        return None
    body = r"[\s_\-]*".join(re.escape(p) for p in parts)
    left = r"(?<![a-z0-9])" if re.match(r"[a-z0-9]", parts[0]) else ""
    right = r"(?![a-z0-9])" if re.search(r"[a-z0-9]$", parts[-1]) else ""
    return re.compile(left + body + right)


def _mark_places(text: str, names: list[tuple[str, str]]) -> str:
    """Replace known names (longest first) by private-use characters indexing ``names``."""
    order = sorted(range(len(names)), key=lambda i: -len(names[i][0]))
    for i in order[:255]:
        pattern = _name_pattern(names[i][0])
        if pattern:
            text = pattern.sub(chr(_PLACE_BASE + i), text)
    return text


# ---------------------------------------------------------------- places


@dataclass(slots=True)
class _Places:
    cameras: list[str] = field(default_factory=list)
    zones: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _nameish(t: Token) -> bool:
    """Whether a token can be part of an unknown camera or zone name."""
    if t.used:
        return False
    return (
        t.sk in (None, lx.PLACE_WORD)
        and t.kind != "punct"
        or t.kind == "num"
        or (t.zh and t.sk == lx.DAYMARK)
    )


def _name_run(tokens: list[Token], i: int, step: int) -> list[int]:
    run: list[int] = []
    while 0 <= i < len(tokens) and len(run) < 4 and _nameish(tokens[i]):
        run.append(i)
        i += step
    return sorted(run)


def _run_text(tokens: list[Token], run: list[int]) -> str:
    sep = "" if all(tokens[i].zh or tokens[i].kind == "num" for i in run) else " "
    return sep.join(tokens[i].surface for i in run)


def _known(label: str, names: list[str]) -> str:
    if not names:
        return f"no {label}s are configured"
    more = ", ..." if len(names) > 8 else ""
    return f"known {label}s: {', '.join(names[:8])}{more}"


def _resolve_places(
    tokens: list[Token], names: list[tuple[str, str]], camera_names: list[str], zone_names: list[str]
) -> _Places:
    """Known names become cameras/zones; names next to a cue or generic place words are reported."""
    res = _Places()
    cues = (lx.CAMERA_CUE, lx.ZONE_CUE)
    for i, t in enumerate(tokens):
        if t.kind != "place":
            continue
        t.used = True
        name, kind = names[t.value]
        for j in (i + 1, i - 1):
            if 0 <= j < len(tokens) and not tokens[j].used and tokens[j].sk in cues:
                tokens[j].used = True
                if name in camera_names and name in zone_names:  # the cue decides an ambiguous name
                    kind = "camera" if tokens[j].sk == lx.CAMERA_CUE else "zone"
                break
        target = res.cameras if kind == "camera" else res.zones
        if name not in target:
            target.append(name)

    def report(run: list[int], label: str) -> None:
        text = _run_text(tokens, run)
        for j in run:
            tokens[j].used = True
        res.ignored.append(text)
        if label == "camera":
            res.notes.append(f"unknown camera '{text}' ({_known('camera', camera_names)})")
        elif label == "zone":
            res.notes.append(f"unknown zone '{text}' ({_known('zone', zone_names)})")
        else:
            res.notes.append(f"unknown camera or zone '{text}'")

    for i, t in enumerate(tokens):
        if t.used or t.sk not in cues:
            continue
        t.used = True
        for step in (-1, 1) if t.zh else (1, -1):
            run = _name_run(tokens, i + step, step)
            if run:
                report(run, "camera" if t.sk == lx.CAMERA_CUE else "zone")
                break
    for i, t in enumerate(tokens):
        if not t.used and t.sk == lx.PLACE_WORD:
            left = [j for j in _name_run(tokens, i - 1, -1) if tokens[j].kind != "num"]
            report(left + _name_run(tokens, i, 1), "place")
    return res


# ---------------------------------------------------------------- time

# part of day -> (start hour, end hour); the end may pass midnight (night runs to 06:00)
_PART_HOURS = {
    "early": (0, 6),
    "morning": (6, 12),
    "noon": (11, 14),
    "afternoon": (12, 18),
    "day": (6, 18),
    "evening": (18, 24),
    "night": (18, 30),
}


@dataclass(slots=True)
class _Window:
    start: datetime | None = None
    end: datetime | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Clock:
    h: int
    m: int
    mer: str | None
    first: int  # positions in the time sequence
    last: int
    part: str | None = None  # a part of day written right before it (下午三点)

    def hours(self, part: str | None) -> float:
        """Hours after midnight of the clock's day, reading am/pm or the part of day."""
        h, mer, part = self.h, self.mer, self.part or part
        if mer == "pm" and h < 12:
            h += 12
        elif mer == "am" and h == 12:
            h = 0
        elif mer is None and part and h < 12:
            if (
                part in ("afternoon", "evening")
                or (part == "night" and h >= 6)
                or (part == "noon" and h <= 5)
            ):
                h += 12
            elif part == "night":
                h += 24  # 夜里两点: the early hours after the night began
        return h + self.m / 60


def _find_clocks(seq: list[Token]) -> list[_Clock]:
    clocks: list[_Clock] = []
    i = 0

    def sk(j: int) -> str | None:
        return seq[j].sk if 0 <= j < len(seq) else None

    while i < len(seq):
        t, c = seq[i], None
        if t.kind == "clock":
            c = _Clock(*t.value, i, i)
        elif t.sk == lx.CLOCKWORD:
            c = _Clock(int(t.sem.value), 0, "am" if t.sem.value == 0 else None, i, i)
        elif t.sk == lx.NUM and sk(i + 1) == lx.MERIDIEM:
            c = _Clock(int(t.value), 0, str(seq[i + 1].sem.value), i, i + 1)
        elif t.sk == lx.NUM and sk(i + 1) == lx.HOURMARK:
            c = _Clock(int(t.value), 0, None, i, i + 1)
            if sk(i + 2) == lx.HALF:
                c.m, c.last = 30, i + 2
            elif sk(i + 2) == lx.NUM and seq[i + 2].zh:
                c.m, c.last = int(seq[i + 2].value), i + 2
                if sk(i + 3) == lx.MINMARK:
                    c.last = i + 3
        elif t.sk == lx.NUM and seq[i].value is not None and int(seq[i].value) <= 24:
            # a bare hour after 'after', 'between', or a range separator that follows a clock
            prev = sk(i - 1)
            after_clock = prev in (lx.SEP, lx.AND) and clocks and clocks[-1].last == i - 2
            if (prev in (lx.AFTER, lx.BEFORE, lx.BETWEEN) or after_clock) and sk(i + 1) not in (
                lx.UNIT,
                lx.CLASSIFIER,
                lx.OBJ,
                lx.MONTHMARK,
            ):
                c = _Clock(int(t.value), 0, None, i, i)
        if c and c.h <= 24 and c.m < 60:
            if sk(c.first - 1) == lx.PART:
                c.part, c.first = str(seq[c.first - 1].sem.value), c.first - 1
            clocks.append(c)
            i = c.last + 1
        else:
            i += 1
    return clocks


def _find_day(seq: list[Token], today: date, used: set[int]) -> date | None:
    for i, t in enumerate(seq):
        if t.sk == lx.DAY:
            used.add(i)
            return today + timedelta(days=int(t.sem.value))
        if t.sk == lx.WEEKDAY:
            used.add(i)
            if i > 0 and seq[i - 1].sk == lx.LAST:
                used.add(i - 1)
            return today - timedelta(days=(today.weekday() - int(t.sem.value)) % 7)
        if t.kind == "date":
            used.add(i)
            return t.value  # type: ignore[return-value]
        kinds = [s.sk for s in seq[i : i + 4]]
        if kinds == [lx.NUM, lx.MONTHMARK, lx.NUM, lx.DAYMARK]:
            try:
                d = date(today.year, int(t.value), int(seq[i + 2].value))
            except ValueError:
                continue
            used.update(range(i, i + 4))
            return d if d <= today else d.replace(year=d.year - 1)
    return None


def _find_relative(seq: list[Token], used: set[int], notes: list[str]) -> timedelta | None:
    for i, t in enumerate(seq):
        if t.sk == lx.RECENT:
            used.add(i)
            return timedelta(seconds=int(t.sem.value))
        # [last|past|最近] [n] [个] unit, or n unit 以内
        j, n, lead = i, 1, t.sk == lx.LAST
        if lead:
            j += 1
        if j < len(seq) and seq[j].sk == lx.NUM:
            n, j = int(seq[j].value), j + 1
            if j < len(seq) and seq[j].sk == lx.CLASSIFIER:
                j += 1
        if j >= len(seq) or seq[j].sk != lx.UNIT or j == i:
            continue
        within = j + 1 < len(seq) and (seq[j + 1].sk == lx.BEFORE or seq[j + 1].surface in ("内", "以内"))
        if not (lead or within):
            continue
        used.update(range(i, j + 1 + within))
        span = timedelta(seconds=min(n * int(seq[j].sem.value), MAX_WINDOW.total_seconds()))
        if span >= MAX_WINDOW:
            notes.append("time windows are limited to the last 366 days")
        return span
    return None


def _resolve_time(tokens: list[Token], now: datetime) -> _Window:
    """Find the time window in the tokens, mark the tokens it used, resolve it against ``now``."""
    seq = [t for t in tokens if not t.used and not (t.kind == "punct" and t.sem is None)]
    win, used = _Window(), set()
    rel = _find_relative(seq, used, win.notes)
    clocks = _find_clocks(seq)
    day = _find_day(seq, now.date(), used)
    part = next(
        (str(t.sem.value) for i, t in enumerate(seq) if t.sk == lx.PART and not _in_clock(i, clocks)), None
    )
    used.update(
        i for i, t in enumerate(seq) if t.sk == lx.PART and (part == t.sem.value or _in_clock(i, clocks))
    )
    for c in clocks:
        used.update(range(c.first, c.last + 1))
    if rel is None and day is None and part is None and not clocks:
        return win
    for i in used:
        seq[i].used = True
    implicit_day = day is None
    base = day or now.date()

    def at(hours: float) -> datetime:
        return datetime.combine(base, time(), tzinfo=now.tzinfo) + timedelta(hours=hours)

    p0, p1 = _PART_HOURS.get(part or "", (0, 24))
    start, end = at(p0), at(p1)
    if clocks:
        start, end = _clock_window(seq, clocks, part, at, (start, end))
    if rel is not None:
        if implicit_day and not clocks and part is None:
            start, end = now - rel, now
        else:
            start, end = max(start, now - rel), min(end, now)
    elif implicit_day and start > now:  # 'after 6pm' said in the morning means yesterday evening
        start, end = start - timedelta(days=1), end - timedelta(days=1)
    if start >= now:
        win.notes.append("the time asked for is in the future; nothing can match yet")
    else:
        end = min(end, now)
    win.start, win.end = start, end
    return win


def _in_clock(i: int, clocks: list[_Clock]) -> bool:
    return any(c.first <= i <= c.last for c in clocks)


def _clock_window(seq, clocks, part, at, bounds) -> tuple[datetime, datetime]:
    """Window from clock times: a range, 'after' / 'before' one time, or half an hour around it."""

    def sk(j: int) -> str | None:
        if 0 <= j < len(seq):
            return seq[j].sk
        return None

    def mark(j: int) -> None:
        seq[j].used = True

    c1 = clocks[0]
    if len(clocks) > 1 and clocks[1].first - c1.last <= 2:
        c2 = clocks[1]
        for j in range(c1.last + 1, c2.first):
            mark(j)
        if sk(c1.first - 1) in (lx.BETWEEN, lx.AFTER):
            mark(c1.first - 1)
        if c1.mer is None and c1.part is None:
            c1.mer, c1.part = c2.mer, c2.part
        if c2.mer is None and c2.part is None:
            c2.mer, c2.part = c1.mer, c1.part
        h1, h2 = c1.hours(part), c2.hours(part)
        if h2 <= h1 and c2.mer is None and h2 < 12:
            h2 += 12  # 'from 11 to 2'
        return at(h1), at(h2 if h2 > h1 else h2 + 24)
    h = c1.hours(part)
    if sk(c1.first - 1) in (lx.AFTER, lx.BETWEEN) or sk(c1.last + 1) == lx.AFTER:
        mark(c1.first - 1) if sk(c1.first - 1) in (lx.AFTER, lx.BETWEEN) else mark(c1.last + 1)
        return at(h), max(bounds[1], at(h))
    if sk(c1.first - 1) == lx.BEFORE or sk(c1.last + 1) == lx.BEFORE:
        mark(c1.first - 1) if sk(c1.first - 1) == lx.BEFORE else mark(c1.last + 1)
        return min(bounds[0], at(h)), at(h)
    return at(h - 0.5), at(h + 0.5)


# ---------------------------------------------------------------- clause binding

# time words that, left over, mean something was asked that could not be read
_TIME_KINDS = {
    lx.AFTER,
    lx.BEFORE,
    lx.LAST,
    lx.UNIT,
    lx.HOURMARK,
    lx.HALF,
    lx.MINMARK,
    lx.MONTHMARK,
    lx.DAYMARK,
    lx.CLOCKWORD,
    lx.PART,
    lx.DAY,
    lx.WEEKDAY,
    lx.RECENT,
}
_SILENT = {lx.FILLER, lx.PLACE_PREP, lx.CAMERA_CUE, lx.ZONE_CUE, lx.MERIDIEM, lx.SEP, lx.BETWEEN}
_PERSON_ATTRS = {"garment", "item", "posture"}


@dataclass(slots=True)
class _Bound:
    objects: list[ObjectClause]
    ignored: list[str]
    notes: list[str]


class _Binder:
    """Binds attributes to object clauses (see the module docstring for the rules)."""

    def __init__(self) -> None:
        self.objects: list[ObjectClause] = []
        self.ignored: list[str] = []
        self.notes: list[str] = []
        self.segment: list[tuple] = []  # attributes waiting for their object
        self.adj_from = 0  # segment[adj_from:] sits right before the next noun
        self.colours: list[Colour] = []  # colours waiting for a garment, item or noun
        self.shade: str | None = None
        self.current: ObjectClause | None = None
        self.closed = False  # after 'and': the next attributes belong to the next object
        self.after_de = False  # Chinese 的 seen: the segment modifies the coming noun
        self.more = False

    def run(self, tokens: list[Token]) -> _Bound:
        self.tokens = tokens
        for i, t in enumerate(tokens):
            self.i = i
            if t.used:
                self._break()
                continue
            handler = self._HANDLERS.get(t.sk)
            if handler:
                handler(self, t)
            elif t.sk in _TIME_KINDS or t.sk is None or t.kind in ("clock", "date"):
                if t.kind != "punct":
                    self.ignored.append(t.surface)
                self._break()
            elif t.sk in _SILENT:
                self._break()
        self._finish()
        return _Bound(self.objects, self.ignored, self.notes)

    def _next(self) -> Token | None:
        """The next unused token that carries meaning."""
        for t in self.tokens[self.i + 1 :]:
            if not t.used and t.sk not in (lx.DET, lx.DE, lx.CLASSIFIER) and t.kind != "punct":
                return t
        return None

    # --- handlers
    def _on_obj(self, t: Token) -> None:
        obj_colours, self.colours, self.shade = self.colours, [], None
        clause = ObjectClause(str(t.sem.value), t.sem.extra)  # type: ignore[arg-type]
        if self.current is None or self.closed or self.after_de:
            mine, theirs = self.segment, []
        else:
            mine, theirs = self.segment[self.adj_from :], self.segment[: self.adj_from]
        if theirs:
            _apply(self.current, theirs)
        _apply(clause, mine + [("colour", c) for c in obj_colours])
        self.objects.append(clause)
        self.current, self.closed, self.after_de = clause, False, False
        self.segment, self.adj_from = [], 0

    def _on_colour(self, t: Token) -> None:
        shade, also = t.sem.extra  # type: ignore[misc]
        self.colours.append(Colour(str(t.sem.value), self.shade or shade, tuple(also)))
        self.shade = None

    def _on_shade(self, t: Token) -> None:
        nxt = self._next()
        if nxt is not None and nxt.sk == lx.COLOUR:
            self.shade = str(t.sem.value)
        elif nxt is not None and nxt.sk in (lx.GARMENT, lx.ITEM, lx.OBJ):  # 'dark clothes'
            dark = t.sem.value == "dark"
            self.colours.append(
                Colour("black", "dark", ("grey",)) if dark else Colour("white", "light", ("grey",))
            )
        else:
            self.ignored.append(t.surface)

    def _on_garment(self, t: Token) -> None:
        self.segment.append(("garment", str(t.sem.value), t.sem.extra, self.colours))
        self.colours, self.shade = [], None

    def _on_item(self, t: Token) -> None:
        self.segment.append(("item", str(t.sem.value), self.colours[0] if self.colours else None))
        self.colours, self.shade = [], None

    def _on_attr(self, t: Token) -> None:
        self._flush_colours()
        self.segment.append((t.sk, str(t.sem.value)))

    def _on_num(self, t: Token) -> None:
        nxt = self._next()
        n = int(t.value) + (1 if self.more else 0)
        self.more = False
        countable = (lx.OBJ, lx.COLOUR, lx.SHADE, lx.GROUP, lx.STATE, lx.POSTURE, lx.GARMENT)
        classifier = self.i + 1 < len(self.tokens) and self.tokens[self.i + 1].sk == lx.CLASSIFIER
        if n > MAX_COUNT or not (classifier or (nxt is not None and nxt.sk in countable)):
            self.ignored.append(t.surface)
            self._break()
        elif n >= 2:
            self.segment.append(("count", n))

    def _on_group(self, t: Token) -> None:
        self.segment.append(("count", 3))

    def _on_more(self, t: Token) -> None:
        nxt = self._next()
        self.more = nxt is not None and nxt.sk == lx.NUM

    def _on_note(self, t: Token) -> None:
        self.notes.append(lx.NOTES[str(t.sem.value)])

    def _on_unsupported(self, t: Token) -> None:
        self.notes.append(lx.NOTES[str(t.sem.value)])
        self.ignored.append(t.surface)
        self._break()

    def _on_and(self, t: Token) -> None:
        nxt = self._next()
        if self.colours and nxt is not None and nxt.sk in (lx.COLOUR, lx.SHADE):
            return  # 'red and white': one list of colours
        self._flush_colours()
        if self.current is not None:
            _apply(self.current, self.segment)
            self.segment, self.closed = [], True
        self.adj_from, self.after_de = len(self.segment), False

    def _on_de(self, t: Token) -> None:
        self.after_de = True

    def _noop(self, t: Token) -> None:
        pass

    _HANDLERS = {
        lx.OBJ: _on_obj,
        lx.COLOUR: _on_colour,
        lx.SHADE: _on_shade,
        lx.GARMENT: _on_garment,
        lx.ITEM: _on_item,
        lx.POSTURE: _on_attr,
        lx.STATE: _on_attr,
        lx.DIRECTION: _on_attr,
        lx.SPEED: _on_attr,
        lx.NUM: _on_num,
        lx.GROUP: _on_group,
        lx.MORE: _on_more,
        lx.NOTE: _on_note,
        lx.UNSUPPORTED: _on_unsupported,
        lx.AND: _on_and,
        lx.DE: _on_de,
        lx.DET: _noop,
        lx.CLASSIFIER: _noop,
    }

    # --- helpers
    def _flush_colours(self) -> None:
        self.segment.extend(("colour", c) for c in self.colours)
        self.colours, self.shade = [], None

    def _break(self) -> None:
        """A word between an adjective and a noun: the adjective no longer sits next to it."""
        self._flush_colours()
        self.adj_from = len(self.segment)

    def _finish(self) -> None:
        self._flush_colours()
        if not self.segment:
            return
        if self.objects:
            _apply(self.current or self.objects[-1], self.segment)
            return
        kinds = {a[0] for a in self.segment}
        if kinds <= {"count"}:
            return
        person = bool(kinds & _PERSON_ATTRS) or any(
            a[0] == lx.STATE and a[1] in ("running", "walking") for a in self.segment
        )
        clause = ObjectClause("person" if person else None)
        _apply(clause, self.segment)
        self.objects.append(clause)


def _apply(clause: ObjectClause, attrs: list[tuple]) -> None:
    whole = "any" if clause.cls in ("person", None) else "body"
    for attr in attrs:
        kind = attr[0]
        if kind == "colour":
            clause.add_colour(whole, attr[1])
        elif kind == "garment":
            _, name, parts, colours = attr
            if name not in clause.garments and name != "clothes":
                clause.garments.append(name)
            for part in parts:
                for c in colours:
                    clause.add_colour(part if clause.cls in ("person", None) else whole, c)
        elif kind == "item":
            clause.carried.append(CarriedItem(attr[1], attr[2]))
        elif kind == lx.POSTURE:
            clause.posture = attr[1]
        elif kind == lx.STATE:
            clause.motion.state = attr[1]
        elif kind == lx.DIRECTION:
            clause.motion.direction = attr[1]
        elif kind == lx.SPEED:
            clause.motion.speed = attr[1]
        elif kind == "count" and clause.count is None:
            clause.count = attr[1]


# ---------------------------------------------------------------- parse_query


def parse_query(
    text: str,
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
    clean = _clean(text, notes)
    camera_names = [str(c) for c in cameras if str(c).strip()]
    zone_names = [str(z) for z in zones if str(z).strip()]
    names = [(c, "camera") for c in camera_names] + [(z, "zone") for z in zone_names]
    tokens = tokenize(_mark_places(clean.lower(), names))
    query = Query(text=clean, language=_language(tokens))
    places = _resolve_places(tokens, names, camera_names, zone_names)
    query.cameras, query.zones = places.cameras, places.zones
    window = _resolve_time(tokens, now)
    query.start, query.end = window.start, window.end
    bound = _Binder().run(tokens)
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
