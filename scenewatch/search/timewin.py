"""The time window of a query: days, parts of day, clock times and relative windows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from scenewatch.search import lexicon as lx
from scenewatch.search.tokenizer import Token

MAX_WINDOW = timedelta(days=366)  # relative windows are capped so a search is never unbounded

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
        elif mer is None and h == 12 and part in ("evening", "night", "early"):
            h = 0 if part == "early" else 24  # 晚上十二点: the midnight that ends the evening
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
            hour, minute, meridiem = t.value
            c = _Clock(hour, minute, meridiem, i, i)
        elif t.sk == lx.CLOCKWORD:
            c = _Clock(int(t.meaning), 0, "am" if t.meaning == 0 else None, i, i)
        elif t.sk == lx.NUM and sk(i + 1) == lx.MERIDIEM:
            c = _Clock(int(t.value), 0, str(seq[i + 1].meaning), i, i + 1)
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
                c.part, c.first = str(seq[c.first - 1].meaning), c.first - 1
            clocks.append(c)
            i = c.last + 1
        else:
            i += 1
    return clocks


def _find_day(seq: list[Token], today: date, used: set[int]) -> date | None:
    for i, t in enumerate(seq):
        if t.sk == lx.DAY:
            used.add(i)
            return today + timedelta(days=int(t.meaning))
        if t.sk == lx.WEEKDAY:
            used.add(i)
            if i > 0 and seq[i - 1].sk == lx.LAST:
                used.add(i - 1)
            return today - timedelta(days=(today.weekday() - int(t.meaning)) % 7)
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
            return timedelta(seconds=int(t.meaning))
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
        span = timedelta(seconds=min(n * int(seq[j].meaning), MAX_WINDOW.total_seconds()))
        if span >= MAX_WINDOW:
            notes.append("time windows are limited to the last 366 days")
        return span
    return None


def resolve_time(tokens: list[Token], now: datetime) -> _Window:
    """Find the time window in the tokens, mark the tokens it used, resolve it against ``now``."""
    seq = [t for t in tokens if not t.used and not (t.kind == "punct" and t.sem is None)]
    win, used = _Window(), set[int]()
    rel = _find_relative(seq, used, win.notes)
    clocks = _find_clocks(seq)
    day = _find_day(seq, now.date(), used)
    part = next(
        (str(t.meaning) for i, t in enumerate(seq) if t.sk == lx.PART and not _in_clock(i, clocks)), None
    )
    used.update(
        i for i, t in enumerate(seq) if t.sk == lx.PART and (part == t.meaning or _in_clock(i, clocks))
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
