"""Clause binding: attributes attached to the objects they describe (rules in ``query.py``)."""

from __future__ import annotations

from dataclasses import dataclass

from scenewatch.search import lexicon as lx
from scenewatch.search.model import CarriedItem, Colour, ObjectClause
from scenewatch.search.tokenizer import Token

COPULAS = ("是", "为")  # '上衣是蓝色的': the top is blue
MAX_COUNT = 100  # a larger number before a noun is not a head count (a plate number, an id)

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
_PERSON_ATTRS = {"garment", "item", "posture", "outfit"}


@dataclass(slots=True)
class _Bound:
    objects: list[ObjectClause]
    ignored: list[str]
    notes: list[str]


class Binder:
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
        # Chinese names a garment before its colour ('上衣是蓝色的', '裤子黑色'): the garment that
        # takes the colours coming next, until another kind of word
        self.garment_first: tuple[str, tuple[str, ...]] | None = None

    def run(self, tokens: list[Token]) -> _Bound:
        self.tokens = tokens
        for i, t in enumerate(tokens):
            self.i = i
            if t.sk not in (lx.COLOUR, lx.SHADE, lx.DE) and t.surface not in COPULAS:
                self.garment_first = None
            if t.used:
                self._break()
                continue
            handler = self._HANDLERS.get(t.sk or "")
            if handler:
                handler(self, t)
            elif t.sk in _TIME_KINDS or t.sk is None or t.kind in ("clock", "date"):
                if t.kind != "punct":
                    self.ignored.append(t.surface)
                self._break()
            elif t.sk in _SILENT:
                self._break()
        self._finish()
        self._person_words_on_vehicles()
        return _Bound(self.objects, self.ignored, self.notes)

    def _person_words_on_vehicles(self) -> None:
        """Clothes, carried items and postures bound to a vehicle ('a car with a hood') are
        person words: said in a note and dropped, rather than silently matching nothing."""
        people = any(c.cls == "person" for c in self.objects)
        for clause in self.objects:
            if clause.cls != "vehicle" or not (clause.garments or clause.carried or clause.posture):
                continue
            asked = [*clause.garments, *(i.item for i in clause.carried), *filter(None, [clause.posture])]
            kinds = (lx.GARMENT, lx.ITEM, lx.POSTURE)
            words = asked if people else [t.surface for t in self.tokens if t.sk in kinds] or asked
            noun = (clause.vehicle_type or "vehicle").replace("_", " ")
            self.notes.append(f"{', '.join(words)}: said of people, not vehicles; ignored for the {noun}")
            self.ignored.extend(words)
            clause.garments, clause.carried, clause.posture = [], [], None

    def _next(self) -> Token | None:
        """The next unused token that carries meaning."""
        for t in self.tokens[self.i + 1 :]:
            if not t.used and t.sk not in (lx.DET, lx.DE, lx.CLASSIFIER) and t.kind != "punct":
                return t
        return None

    # --- handlers
    def _on_obj(self, t: Token) -> None:
        obj_colours, self.colours, self.shade = self.colours, [], None
        clause = ObjectClause(str(t.meaning), t.detail)  # type: ignore[arg-type]
        if self.current is None or self.closed or self.after_de:
            mine, theirs = self.segment, []
        else:
            mine, theirs = self.segment[self.adj_from :], self.segment[: self.adj_from]
        if theirs and self.current is not None:
            _apply(self.current, theirs)
        _apply(clause, mine + [("colour", c) for c in obj_colours])
        self.objects.append(clause)
        self.current, self.closed, self.after_de = clause, False, False
        self.segment, self.adj_from = [], 0

    def _on_colour(self, t: Token) -> None:
        shade, also = t.detail  # type: ignore[misc]
        self._take_colour(Colour(str(t.meaning), self.shade or shade, tuple(also)))
        self.shade = None

    def _take_colour(self, colour: Colour) -> None:
        """A colour waits for the noun after it, unless a Chinese garment named before it takes it."""
        if self.garment_first is None:
            self.colours.append(colour)
        else:
            name, parts = self.garment_first
            self.segment.append(("garment", name, parts, [colour]))

    def _on_shade(self, t: Token) -> None:
        nxt = self._next()
        if nxt is not None and nxt.sk == lx.COLOUR:
            self.shade = str(t.meaning)
        elif nxt is not None and nxt.sk in (lx.GARMENT, lx.ITEM, lx.OBJ):  # 'dark clothes'
            dark = t.meaning == "dark"
            self._take_colour(
                Colour("black", "dark", ("grey",)) if dark else Colour("white", "light", ("grey",))
            )
        else:
            self.ignored.append(t.surface)
            if nxt is not None and nxt.sk is None:  # 'light fuchsiaish': a colour we do not know
                self.notes.append(
                    f"'{t.surface}' needs a colour we know after it (e.g. 'light blue'); ignored"
                )

    def _on_outfit(self, t: Token) -> None:
        self.segment.append(("outfit",))

    def _on_garment(self, t: Token) -> None:
        self.segment.append(("garment", str(t.meaning), t.detail, self.colours))
        # ('上身' / '下身' and plain clothes follow the body-half rule in ``_apply``)
        if t.zh and not self.colours and t.meaning != "clothes" and self._colour_said_after():
            self.garment_first = (str(t.meaning), tuple(t.detail))  # type: ignore[arg-type]
        self.colours, self.shade = [], None

    def _colour_said_after(self) -> bool:
        """Chinese: the garment just read has its colour after it ('上衣是蓝色的', '上衣蓝色裤子黑色'),
        not a colour that modifies the next garment ('兜帽浅蓝色大衣': a light blue coat)."""
        toks, j = self.tokens, self.i + 1
        copula = j < len(toks) and toks[j].surface in COPULAS
        j += copula
        k = j
        while k < len(toks) and toks[k].sk in (lx.COLOUR, lx.SHADE):
            k += 1
        if k == j or copula:
            return k > j
        while k < len(toks) and toks[k].sk == lx.DE:
            k += 1
        if k == len(toks) or toks[k].sk not in (lx.GARMENT, lx.ITEM):
            return True
        # the next garment has its own colour after it: the same pattern, said twice
        return k + 1 < len(toks) and toks[k + 1].sk in (lx.COLOUR, lx.SHADE)

    def _on_item(self, t: Token) -> None:
        self.segment.append(("item", str(t.meaning), self.colours[0] if self.colours else None))
        self.colours, self.shade = [], None

    def _on_attr(self, t: Token) -> None:
        self._flush_colours()
        self.segment.append((t.sk, str(t.meaning)))

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
        self.notes.append(lx.NOTES[str(t.meaning)])

    def _on_unsupported(self, t: Token) -> None:
        self.notes.append(lx.NOTES[str(t.meaning)])
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
        lx.OUTFIT: _on_outfit,
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
        if kinds <= {"item", "colour"} and clause.carried:  # 'a bag' on its own
            items = ", ".join(c.item for c in clause.carried)
            self.notes.append(f"no one named with the {items}: searching for people carrying it")


def _apply(clause: ObjectClause, attrs: list[tuple]) -> None:
    whole = "any" if clause.cls in ("person", None) else "body"
    # '上身' / '下身' name a body half: the colours after it, up to the next half, are that half's
    # ('上身黑色下身蓝色', '上身穿浅色衣服'), where plain 'clothes' would mean the whole outfit
    half: tuple[str, ...] | None = None
    for attr in attrs:
        kind = attr[0]
        if kind == "garment" and attr[1] == "clothes" and attr[2] != ("outfit",):
            attr, half = (*attr[:2], half or (whole,), attr[3]), attr[2]
        elif half is not None and kind == "garment" and attr[1] == "clothes":
            attr = (*attr[:2], half, attr[3])
        elif half is not None and kind == "colour":
            kind, attr = "garment", ("garment", "clothes", half, [attr[1]])
        if kind == "outfit" and clause.cls in ("person", None):  # 'all in black': every part
            whole = "outfit"
        elif kind == "colour":
            clause.add_colour(whole, attr[1])
        elif kind == "garment":
            _, name, parts, colours = attr
            if name not in clause.garments and name != "clothes":
                clause.garments.append(name)
            for part in parts:
                for c in colours:
                    if clause.cls in ("person", None):  # a vehicle wears no clothes (noted later)
                        clause.add_colour(part, c)
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
