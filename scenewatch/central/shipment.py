"""What an edge may send the central: every shipment is checked against these models before any
SQL runs.

A row's fields are its edge table's columns (``store/schema.py``) less ``edge_id`` and
``edge_row``, which only the central sets. Unknown keys, wrong types, ids that are not positive
32-bit integers and oversize values are refused, naming the field
(``rows.track[0]: unknown field 'x'``). The bounds are generous for what an edge writes, so a real
shipment always passes, while one row cannot carry megabytes, a NUL byte PostgreSQL refuses, a
time far in the future or a flood of new day partitions.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationError,
    model_validator,
)

from scenewatch.config.camera import CAMERA_NAME
from scenewatch.config.central import NAME
from scenewatch.errors import SceneWatchError
from scenewatch.rules.events import STATES
from scenewatch.store.partitions import day_of

INT32 = 2**31 - 1  # PostgreSQL ``integer``
MAX_AHEAD_S = 86_400.0  # an edge clock may run this far ahead of the central's
MAX_ROWS = 10_000  # per kind and shipment (an edge ships at most ``central.batch`` <= 10000)
MAX_DAYS = 62  # distinct days of track start times per shipment: one partition each
MAX_BLOB = 65_536  # bytes of one JSON value (attributes, detail, status, clip)
MAX_PATH = 100_000  # points of one track's path
MAX_TERMS = 2_000  # search terms of one track
MAX_EVENT_TRACKS = 1_000  # tracker ids of one event
UNMAPPED = "unmapped_track_ids"  # key the central keeps in an event's detail (``ingest.py``)


class IngestError(SceneWatchError):
    """A shipment the central refuses; ``status`` is the HTTP status the API answers with."""

    status = 400


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("NUL characters are not allowed")
    return value


def _not_ahead(value: float) -> float:
    if value > time.time() + MAX_AHEAD_S:
        raise ValueError("more than a day ahead of the central's clock (check the edge's clock)")
    return value


def _bounded_json(value: Any) -> Any:
    try:
        text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    except ValueError:
        raise ValueError("NaN and infinite numbers are not JSON") from None
    if len(text) > MAX_BLOB:
        raise ValueError(f"{len(text)} bytes of JSON; at most {MAX_BLOB}")
    if "\\u0000" in text:
        raise ValueError("NUL characters are not allowed")
    return value


Id = Annotated[int, Field(ge=1, le=INT32)]
Count = Annotated[int, Field(ge=0, le=INT32)]
Number = Annotated[float, Field(allow_inf_nan=False, ge=-1e13, le=1e13)]
Time = Annotated[float, Field(ge=0, allow_inf_nan=False), AfterValidator(_not_ahead)]
NoNul = AfterValidator(_no_nul)
Word = Annotated[str, StringConstraints(max_length=16), NoNul]  # mode, status, state, severity
MediaPath = Annotated[str, StringConstraints(max_length=1024), NoNul]  # a media-relative file on the edge
Text = Annotated[str, StringConstraints(max_length=4096), NoNul]
Label = Annotated[str, StringConstraints(max_length=32), NoNul]  # class, rule type, fault, version
Name = Annotated[str, StringConstraints(max_length=64), NoNul]  # a rule's name
Url = Annotated[str, StringConstraints(max_length=2048), NoNul]
Blob = Annotated[dict[str, Any], AfterValidator(_bounded_json)]
Point = Annotated[list[Number], Field(min_length=2, max_length=4)]  # (time, x, y)
Term = Annotated[
    tuple[
        Annotated[str, Strict(), StringConstraints(min_length=1, max_length=80), NoNul],
        Annotated[float, Strict(), Field(ge=-1e6, le=1e6)],
    ],
    Strict(False),  # JSON has no tuples: [term, weight] arrives as a list
]


class _Row(BaseModel):
    """Exact types (no "1" for 1, no 1 for true) and no key the model does not name."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


class CameraRow(_Row):
    id: Id
    name: Annotated[str, StringConstraints(pattern=CAMERA_NAME.pattern)]
    source: Text
    width: Annotated[int, Field(ge=0, le=100_000)] | None = None
    height: Annotated[int, Field(ge=0, le=100_000)] | None = None
    fps: Annotated[float, Field(ge=0, le=1e6)] | None = None  # some streams report odd rates
    created_at: Time


class RunRow(_Row):
    id: Id
    camera_id: Id
    source: Text
    mode: Word
    started_at: Time
    ended_at: Time | None = None
    status: Word
    frames_decoded: Count = 0
    frames_detected: Count = 0
    note: Text | None = None


class TrackRow(_Row):
    id: Id
    camera_id: Id
    run_id: Id
    tracker_id: Count
    class_name: Label
    first_ts: Time
    last_ts: Time
    first_frame: Count
    last_frame: Count
    detections: Count
    score: Annotated[float, Field(ge=0, le=1)]
    path: Annotated[list[Point], Field(max_length=MAX_PATH)]
    thumbnail: MediaPath | None = None
    finished: bool
    attributes: Blob | None = None
    terms: Annotated[list[Term], Field(max_length=MAX_TERMS)] = []

    @model_validator(mode="after")
    def _distinct_terms(self) -> TrackRow:
        seen: set[str] = set()
        for term, _ in self.terms:
            if term in seen:
                raise ValueError(f"term {term[:80]!r} listed twice")
            seen.add(term)
        return self


class EventRow(_Row):
    id: Id
    key: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    camera_id: Id
    run_id: Id | None = None
    rule: Name
    rule_type: Label
    start_ts: Time
    end_ts: Time | None = None
    # tracker ids within the run; the stitcher's made-up identities go up to 2**40 and beyond
    track_ids: Annotated[list[Annotated[int, Field(ge=0, le=2**53)]], Field(max_length=MAX_EVENT_TRACKS)]
    detail: Blob
    snapshot: MediaPath | None = None
    clip: Blob | None = None
    state: Annotated[str, StringConstraints(pattern="^(" + "|".join(STATES) + ")$")]
    state_changed_at: Time | None = None
    created_at: Time


class HealthRow(_Row):
    id: Id
    camera_id: Id
    fault: Label
    state: Word
    severity: Word
    start_ts: Time
    end_ts: Time | None = None
    detail: Blob
    snapshot: MediaPath | None = None


class StatusRow(_Row):
    camera_id: Id
    updated_at: Time
    online: bool
    severity: Word
    status: Blob


R = TypeVar("R", bound=BaseModel)
RowList = Annotated[list[R], Field(max_length=MAX_ROWS)]


class Rows(_Row):
    camera: RowList[CameraRow] = []
    run: RowList[RunRow] = []
    track: RowList[TrackRow] = []
    event: RowList[EventRow] = []
    health: RowList[HealthRow] = []
    status: RowList[StatusRow] = []

    @model_validator(mode="after")
    def _one_row_per_id(self) -> Rows:
        for kind in ("camera", "run", "track", "event", "health"):
            _distinct(kind, [row.id for row in getattr(self, kind)])
        _distinct("status", [row.camera_id for row in self.status])
        _distinct("event key", [row.key for row in self.event])
        days = {day_of(row.first_ts) for row in self.track}
        if len(days) > MAX_DAYS:
            raise ValueError(f"tracks start on {len(days)} different days; at most {MAX_DAYS} per shipment")
        return self


def _distinct(kind: str, ids: list) -> None:
    if len(set(ids)) != len(ids):
        twice = next(i for i in ids if ids.count(i) > 1)
        raise ValueError(f"{kind} {str(twice)[:40]} appears twice")


class Shipment(_Row):
    """One POST from an edge: who sends it, its bookkeeping, and the rows by kind."""

    edge: Annotated[str, StringConstraints(pattern=NAME.pattern)] | None = None
    site: Annotated[str, StringConstraints(pattern=NAME.pattern)] | None = None
    version: Label | None = None
    revision: Label | None = Field(None, alias="schema")
    instance: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,36}$")] | None = None
    backlog: Count | None = None
    # sent by older edges; ignored: the media address is an admin's setting on the central
    media_url: Url | None = None
    rows: Rows = Rows()


def parse(raw: Any) -> Shipment:
    """``raw`` (a decoded JSON body) as a Shipment, or IngestError naming the first bad field."""
    try:
        return Shipment.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        # an unknown key is the telling problem (a key standing in for columns), so it comes first
        error = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        where, message = describe(tuple(error["loc"]), error)
        raise IngestError(
            f"shipment refused: {where}: {message}",
            "the central files only the fields, types and sizes of its own schema",
        ) from None


def describe(loc: tuple, error: Mapping[str, Any]) -> tuple[str, str]:
    """(where, what) of one pydantic error: ('rows.track[0]', "unknown field 'x'")."""
    if error["type"] == "extra_forbidden":
        key = str(loc[-1])
        # control characters escaped: the key is the sender's text, and it ends up in logs
        shown = key[:100].encode("unicode_escape").decode("ascii") + ("..." if len(key) > 100 else "")
        return _where(loc[:-1]), f"unknown field '{shown}'"
    return _where(loc), error["msg"].removeprefix("Value error, ")


def _where(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "shipment"


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def load(body: bytes) -> dict[str, Any]:
    """The decoded body: a JSON object naming its edge; NaN and Infinity refused."""
    try:
        raw = json.loads(body, parse_constant=_refuse_constant)
    except RecursionError:
        raise IngestError("shipment is not JSON: nested too deeply") from None
    except ValueError as exc:
        raise IngestError(f"shipment is not JSON: {str(exc)[:200]}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("edge"), str):
        raise IngestError("shipment is not a JSON object with an 'edge' field")
    return raw
