"""Camera and zone names in a query: known names become filters, unknown ones are reported."""

from __future__ import annotations

from dataclasses import dataclass, field

from scenewatch.search import lexicon as lx
from scenewatch.search.tokenizer import Token


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


def resolve_places(
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
