"""Media stay on the edge: the edge serves them on a signed URL, the central fetches them.

The edge's server answers only ``GET /media/<path>?exp=..&sig=..`` for JPEGs under
``thumbnails/``, ``events/`` or ``health/`` of its media folder, signed by the central with the
edge's token hash (``tokens.py``); everything else is 404 or 403. With ``tls_cert`` and
``tls_key`` it speaks HTTPS.
"""

from __future__ import annotations

import logging
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import PurePosixPath

from scenewatch.central import tokens
from scenewatch.config.central import CentralConfig
from scenewatch.errors import SceneWatchError
from scenewatch.store.media import MediaStore

log = logging.getLogger(__name__)
KINDS = ("thumbnails", "events", "health")


def allowed_path(relative: str) -> bool:
    parts = PurePosixPath(relative).parts
    return (
        len(parts) >= 3
        and parts[0] in KINDS
        and ".." not in parts
        and not relative.startswith("/")
        and relative.endswith(".jpg")
        and "\\" not in relative
    )


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
        if not tokens.verify(self.server.token, relative, exp, sig):
            return self._answer(403, b"bad or expired signature")
        try:
            data = self.server.media.absolute(relative).read_bytes()
        except (ValueError, OSError):
            return self._answer(404, b"not found")
        self._answer(200, data, "image/jpeg")

    def _answer(self, status: int, body: bytes, kind: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args) -> None:  # quiet: the central logs what it asks for
        pass


class EdgeMediaServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, media: MediaStore, config: CentralConfig):
        host, _, port = config.media_listen.rpartition(":")
        super().__init__((host or "127.0.0.1", int(port)), _Handler)
        self.media = media
        self.token = config.read_token()
        if config.tls_cert and config.tls_key:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(config.tls_cert), str(config.tls_key))
            self.socket = context.wrap_socket(self.socket, server_side=True)

    def start(self) -> EdgeMediaServer:
        threading.Thread(target=self.serve_forever, name="edge-media", daemon=True).start()
        return self


class EdgeUnavailable(SceneWatchError):
    """The owning edge did not hand out the file (down, unreachable, or refused)."""


def fetch_from_edge(
    media_url: str, token_hash: str, relative: str, timeout: float = 10.0, context=None
) -> bytes:
    """The bytes of media path ``relative`` from the edge at ``media_url`` (central side)."""
    if not allowed_path(relative):
        raise EdgeUnavailable(f"media path {relative!r} is not served by edges")
    exp, sig = tokens.sign(token_hash, relative)
    url = f"{media_url.rstrip('/')}/media/{urllib.parse.quote(relative)}?exp={exp}&sig={sig}"
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as answer:
            return answer.read()
    except urllib.error.HTTPError as exc:
        raise EdgeUnavailable(f"edge refused {relative} ({exc.code})") from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise EdgeUnavailable(f"edge at {media_url} unreachable: {getattr(exc, 'reason', exc)}") from None
