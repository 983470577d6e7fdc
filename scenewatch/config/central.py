"""The node's role in a multi-site installation: standalone (default), edge or central.

An edge analyses its cameras into its own SQLite and ships finished tracks, events and health
to the central through a durable local outbox (``scenewatch/central/sync.py``); the central
serves one API over all edges from PostgreSQL.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from scenewatch.config.base import Section
from scenewatch.errors import ConfigError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
MEDIA_URL_HINT = "give a base URL like https://edge-1.example:8090 (http or https, host and port only)"


def media_url_problem(url: str) -> str | None:
    """What is wrong with ``url`` as an edge's media base URL, or None.

    The central fetches ``<url>/media/<path>`` from it, so it must be plain http(s) to a host:
    no credentials, query or fragment that could bend the URL the path is appended to.

    >>> media_url_problem("https://edge-1.example:8090"), media_url_problem("http://10.0.0.5:8090/sw")
    (None, None)
    >>> media_url_problem("file:///etc/passwd#")
    "scheme 'file' is not allowed: use http or https"
    >>> media_url_problem("http://127.0.0.1:18099/internal.jpg#")
    'a fragment (#) is not allowed'
    """
    if len(url) > 500 or any(c.isspace() or ord(c) < 32 or c == "\\" for c in url):
        return "it must be at most 500 characters without spaces, control characters or backslashes"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return f"scheme {parts.scheme!r} is not allowed: use http or https"
    if "@" in parts.netloc:
        return "user name or password (user@host) is not allowed"
    if "?" in url:
        return "a query (?) is not allowed"
    if "#" in url:
        return "a fragment (#) is not allowed"
    try:
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        return "the port must be a number from 1 to 65535"
    if not parts.hostname:
        return "it needs a host"
    if ".." in parts.path.split("/"):
        return "'..' is not allowed in the path"
    return None


class CentralConfig(Section):
    role: Literal["standalone", "edge", "central"] = Field(
        "standalone",
        description="standalone: one node; edge: ship results to a central; central: serve all edges.",
    )
    edge_id: str | None = Field(None, description="Edge name, unique across the installation (edge role).")
    site: str | None = Field(
        None, description="Site of this edge; central camera names are 'site/camera' (edge role)."
    )
    central_url: str | None = Field(
        None, description="Base URL of the central server, e.g. https://central.example:8080 (edge role)."
    )
    token: str | None = Field(None, description="This edge's token from `scenewatch edges add` (edge role).")
    token_file: Path | None = Field(None, description="A file holding the token instead of `token`.")
    ca_file: Path | None = Field(None, description="CA bundle to verify a TLS central or edge (optional).")
    media_listen: str = Field(
        "127.0.0.1:8090", description="host:port where the edge serves its media to the central."
    )
    media_url: str | None = Field(
        None,
        description="This edge's media URL as printed at start (default http://<media_listen>); the "
        "central uses the one an admin set with `scenewatch edges add/set --media-url`.",
    )
    tls_cert: Path | None = Field(None, description="Certificate for the edge media server (HTTPS).")
    tls_key: Path | None = Field(None, description="Private key for the edge media server (HTTPS).")
    database_url: str | None = Field(
        None, description="Central role: the PostgreSQL URL (postgresql+psycopg://user:pass@host/db)."
    )
    batch: int = Field(500, ge=1, le=10000, description="Rows per shipment to the central.")
    backoff_initial_s: float = Field(1.0, gt=0, description="First wait after a failed shipment.")
    backoff_max_s: float = Field(
        30.0, gt=0, description="Longest wait between tries while the central is away."
    )

    @field_validator("edge_id", "site")
    @classmethod
    def _valid_name(cls, value: str | None) -> str | None:
        if value is not None and not NAME.match(value):
            raise ValueError("use 1-32 letters, digits, '_', '-' or '.', starting with a letter or digit")
        return value

    @field_validator("media_url")
    @classmethod
    def _valid_media_url(cls, value: str | None) -> str | None:
        problem = None if value is None else media_url_problem(value)
        if problem:
            raise ValueError(f"{problem}; {MEDIA_URL_HINT}")
        return value

    @model_validator(mode="after")
    def _edge_needs(self) -> CentralConfig:
        if self.role == "edge":
            missing = [k for k in ("edge_id", "site", "central_url") if getattr(self, k) is None]
            if self.token is None and self.token_file is None:
                missing.append("token (or token_file)")
            if missing:
                raise ValueError(f"an edge needs {', '.join(missing)}")
        return self

    def read_token(self) -> str:
        if self.token is not None:
            return self.token
        assert self.token_file is not None
        try:
            return Path(self.token_file).read_text().strip()
        except OSError as exc:
            raise ConfigError(
                f"central.token_file {self.token_file} cannot be read: {exc.strerror}",
                "put the token from `scenewatch edges add` there",
            ) from None

    def public_media_url(self) -> str:
        scheme = "https" if self.tls_cert else "http"
        return (self.media_url or f"{scheme}://{self.media_listen}").rstrip("/")
