"""The HTTP API and web UI server: ``create_app(store, settings, runner=None)``.

One router per resource under ``routes/``; access control in ``auth.py`` and ``permissions.py``,
the tamper-evident log in ``audit.py``, privacy masking of every image and clip in ``privacy.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scenewatch.api.app import ServerOptions, create_app

__all__ = ["ServerOptions", "create_app"]


def __getattr__(name: str) -> Any:
    """The app (FastAPI and every route) loads when first asked for, not with the package: the
    pipeline's own process uses modules of this package and answers no HTTP."""
    if name in __all__:
        from scenewatch.api import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
