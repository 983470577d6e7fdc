"""Cleaning and tokenising a query in both scripts; known camera/zone names become place tokens."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from scenewatch.search import lexicon as lx
from scenewatch.search.lexicon import Sem

MAX_CHARS = 500  # longer queries are truncated: no operator types more, and it bounds all work


@dataclass(slots=True)
class Token:
    surface: str
    kind: str  # word | cjk | num | clock | date | place | punct | unk
    sem: Sem | None = None
    value: Any = None  # number, (h, m, meridiem), date, or place index
    zh: bool = False
    used: bool = False

    @property
    def sk(self) -> str | None:
        """The semantic kind, or None for unknown words."""
        return self.sem.kind if self.sem else None

    @property
    def meaning(self) -> Any:
        """What the word stands for (``Sem.value``), or None for unknown words."""
        return self.sem.value if self.sem else None

    @property
    def detail(self) -> Any:
        """The word's second value (``Sem.extra``), or None."""
        return self.sem.extra if self.sem else None


CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
PLACE_BASE = 0xE000  # private-use characters stand for matched camera/zone names
_TOKEN_RE = re.compile(
    rf"""
    (?P<place>[\ue000-\ue0ff])
   |(?P<date>\d{{4}}-\d{{1,2}}-\d{{1,2}})
   |(?P<clock>\d{{1,2}}(?::\d{{2}})?\s*(?:a\.?m\.?|p\.?m\.?)(?![a-z])|\d{{1,2}}:\d{{2}}(?!\d))
   |(?P<code>[a-z]+\d[a-z0-9]*)
   |(?P<num>\d{{1,9}})\d*
   |(?P<word>[a-z]+(?:['’-][a-z]+)*)
   |(?P<cjk>[{CJK}]+)
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
            tokens.append(Token(surface, "place", value=ord(surface) - PLACE_BASE))
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


def clean_query(text: object, notes: list[str]) -> str:
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
    parts = re.findall(rf"[a-z0-9]+|[{CJK}]+|[^\s_\-a-z0-9{CJK}]+", _norm_name(name))
    if not parts:
        return None
    body = r"[\s_\-]*".join(re.escape(p) for p in parts)
    left = r"(?<![a-z0-9])" if re.match(r"[a-z0-9]", parts[0]) else ""
    right = r"(?![a-z0-9])" if re.search(r"[a-z0-9]$", parts[-1]) else ""
    return re.compile(left + body + right)


def mark_places(text: str, names: list[tuple[str, str]]) -> str:
    """Replace known names (longest first) by private-use characters indexing ``names``."""
    order = sorted(range(len(names)), key=lambda i: -len(names[i][0]))
    for i in order[:255]:
        pattern = _name_pattern(names[i][0])
        if pattern:
            text = pattern.sub(chr(PLACE_BASE + i), text)
    return text
