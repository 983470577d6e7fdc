"""The node's role in a multi-site installation: standalone (default), edge or central.

An edge analyses its cameras into its own SQLite and ships finished tracks, events and health
to the central through a durable local outbox (``scenewatch/central/sync.py``); the central
serves one API over all edges from PostgreSQL.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from scenewatch.config.base import Section
from scenewatch.errors import ConfigError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


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
        None, description="URL the central uses to reach this edge's media; default http://<media_listen>."
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
