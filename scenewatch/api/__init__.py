"""The HTTP API and web UI server: ``create_app(store, settings, runner=None)``.

One router per resource under ``routes/``; access control in ``auth.py`` and ``permissions.py``,
the tamper-evident log in ``audit.py``, privacy masking of every image and clip in ``privacy.py``.
"""

from scenewatch.api.app import ServerOptions, create_app

__all__ = ["ServerOptions", "create_app"]
