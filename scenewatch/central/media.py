"""Media stay on the edge: the edge serves them on a signed URL, the central fetches them.

The edge's server answers only ``GET /media/<path>?exp=..&sig=..`` for JPEGs under
``thumbnails/``, ``events/`` or ``health/`` of its media folder, signed with the edge's media key
(``edge_tokens.py``) and valid for minutes at most; everything else is 404 or 403. It blacks out the
camera's privacy zones before the image leaves the edge. With ``tls_cert`` and ``tls_key`` it
speaks HTTPS.

The central fetches from the base URL an admin registered for the edge (``scenewatch edges
add/set --media-url``), never from one an edge sent, without following redirects and with a size
cap; what went wrong on the network goes to the central's log, not to the user.
"""

from __future__ import annotations

import functools
import logging
import re
import ssl
import threading
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NoReturn

import cv2
import httpx
import numpy as np

from scenewatch.api import privacy
from scenewatch.central import edge_tokens as tokens
from scenewatch.config.central import CentralConfig, media_url_problem
from scenewatch.errors import SceneWatchError
from scenewatch.store.data import DataStore

log = logging.getLogger(__name__)
KINDS = ("thumbnails", "events", "health")
PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")  # camera names, run folders, keys, ids
MAX_MEDIA_BYTES = 8 * 1024 * 1024  # a snapshot is a few hundred KB; anything bigger is not one
CROP_HEADER = "X-SceneWatch-Crop-Origin"  # where a thumbnail was cut from the frame: "left,top"
NOT_DELIVERED = (
    "the edge did not deliver the media; try again later (an admin finds why in the central's log)"
)


def allowed_path(relative: str) -> bool:
    """Whether ``relative`` names a media file edges serve: KIND/CAMERA/.../NAME.jpg, plain parts."""
    parts = relative.split("/")
    return (
        len(parts) >= 3
        and parts[0] in KINDS
        and all(PART.match(part) for part in parts)
        and relative.endswith(".jpg")
    )


# ---------------------------------------------------------------- the edge side


class _Handler(BaseHTTPRequestHandler):
    server: EdgeMediaServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        relative = urllib.parse.unquote(url.path.removeprefix("/media/"))
        if not url.path.startswith("/media/") or not allowed_path(relative):
            return self._answer(404, b"not found")
        try:
            exp, sig = int(query["exp"][0]), query["sig"][0]
        except (KeyError, ValueError, IndexError):
            return self._answer(403, b"unsigned")
        if not tokens.verify(self.server.key, relative, exp, sig):
            return self._answer(403, b"bad or expired signature")
        try:
            body, origin = zones_blacked(self.server.store, relative)
        except (ValueError, OSError):
            return self._answer(404, b"not found")
        headers = {} if origin is None else {CROP_HEADER: f"{origin[0]:g},{origin[1]:g}"}
        self._answer(200, body, "image/jpeg", headers)

    def _answer(self, status: int, body: bytes, kind: str = "text/plain", headers=None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args) -> None:  # quiet: the central logs what it asks for
        pass


def zones_blacked(store: DataStore, relative: str) -> tuple[bytes, tuple[float, float] | None]:
    """The JPEG at ``relative`` with its camera's privacy zones black, and for a thumbnail where
    it was cut from the frame (None when unknown). A thumbnail whose place is unknown while the
    camera has zones is all black: better nothing than a zone in the clear."""
    from scenewatch.api.routes.media import frame_scale

    data = store.media.absolute(relative).read_bytes()
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{relative} is not an image")
    parts = relative.split("/")
    camera = parts[1]
    zones = tuple(np.asarray(z, np.float32) for z in privacy.privacy_zones(store.engine, camera))
    mask = privacy.Mask(zones, False, None)
    if parts[0] != "thumbnails":
        if not zones:
            return data, None
        return privacy.encode_jpeg(
            privacy.apply(image, mask, frame_scale(store.engine, camera, image)[0])
        ), None
    origin = _thumbnail_origin(store, parts, image.shape)
    if not zones:
        return data, origin
    if origin is None:
        return privacy.encode_jpeg(np.zeros_like(image)), None
    return privacy.encode_jpeg(privacy.apply(image, mask, (1.0, 1.0), origin)), origin


def _thumbnail_origin(store: DataStore, parts: list[str], shape) -> tuple[float, float] | None:
    """thumbnails/CAMERA/runR/NNNN/TRACKER.jpg: the top left of its crop in the camera frame."""
    from scenewatch.api import queries
    from scenewatch.api.routes.media import crop_origin

    if len(parts) != 5 or not parts[2].startswith("run"):
        return None
    try:
        run_id, tracker_id = int(parts[2][3:]), int(parts[4][:-4])
    except ValueError:
        return None
    track = queries.track_by_tracker(store.engine, run_id, tracker_id)
    return None if track is None else crop_origin(store.engine, parts[1], track["id"], shape)


class EdgeMediaServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, store: DataStore, config: CentralConfig):
        host, _, port = config.media_listen.rpartition(":")
        super().__init__((host or "127.0.0.1", int(port)), _Handler)
        self.store = store
        self.key = tokens.media_key(config.read_token())
        if config.tls_cert and config.tls_key:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(config.tls_cert), str(config.tls_key))
            self.socket = context.wrap_socket(self.socket, server_side=True)

    def start(self) -> EdgeMediaServer:
        threading.Thread(target=self.serve_forever, name="edge-media", daemon=True).start()
        return self


# ---------------------------------------------------------------- the central side


class EdgeUnavailable(SceneWatchError):
    """The owning edge did not hand out the file (down, unreachable, or refused)."""


@dataclass(frozen=True)
class EdgeImage:
    data: bytes
    crop_origin: tuple[float, float] | None  # thumbnails: where the edge cut it from the frame


@functools.cache
def _system_trust() -> ssl.SSLContext:
    """The system's CA store (and $SSL_CERT_FILE), where an edge's private CA is installed."""
    return ssl.create_default_context()


def fetch_from_edge(
    media_url: str, key: bytes, relative: str, timeout: float = 10.0, verify: ssl.SSLContext | None = None
) -> EdgeImage:
    """Media path ``relative`` from the edge whose registered base URL is ``media_url`` and media
    key ``key`` (central side). Any failure is an EdgeUnavailable with :data:`NOT_DELIVERED`."""
    if not allowed_path(relative):
        raise EdgeUnavailable(f"media path {relative!r} is not served by edges")
    problem = media_url_problem(media_url)
    if problem:  # a URL stored before URLs were checked
        _failed(media_url, problem)
    exp, sig = tokens.sign(key, relative)
    url = f"{media_url.rstrip('/')}/media/{urllib.parse.quote(relative)}"
    try:
        with (
            httpx.Client(
                follow_redirects=False, timeout=timeout, verify=verify or _system_trust(), trust_env=False
            ) as client,
            client.stream("GET", url, params={"exp": exp, "sig": sig}) as answer,
        ):
            if answer.status_code != 200:
                _failed(url, f"answered {answer.status_code}")
            data = bytearray()
            for chunk in answer.iter_bytes():
                data += chunk
                if len(data) > MAX_MEDIA_BYTES:
                    _failed(url, f"sent more than {MAX_MEDIA_BYTES} bytes")
            return EdgeImage(bytes(data), _origin(answer.headers.get(CROP_HEADER)))
    except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
        _failed(url, f"{type(exc).__name__}: {exc}")


def _failed(url: str, why: str) -> NoReturn:
    """Log what went wrong (for the admin); tell the user only that the media did not come."""
    log.warning("media from edge: GET %s %s", url, why)
    raise EdgeUnavailable(NOT_DELIVERED)


def _origin(header: str | None) -> tuple[float, float] | None:
    try:
        left, top = (float(v) for v in (header or "").split(","))
    except ValueError:
        return None
    return (left, top) if np.isfinite([left, top]).all() else None
