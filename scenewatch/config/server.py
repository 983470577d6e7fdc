"""The web server (``scenewatch serve``, ``serve --central``): which reverse proxies it trusts."""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator

from scenewatch.config.base import Section


class ServerConfig(Section):
    trusted_proxies: list[str] = Field(
        default_factory=list,
        max_length=100,
        description=(
            "Addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For and "
            "X-Forwarded-Proto headers are believed: the client address of the login limit and the "
            "audit log. Empty (the default): no proxy is trusted and the socket's address counts."
        ),
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                # '*' and host names would let any client pick its own address
                raise ValueError(
                    f"{value!r} is not an IP address or network; give the proxy's address, "
                    "e.g. 127.0.0.1 or 10.0.0.0/24"
                ) from None
        return values
