"""One router per resource; ``ROUTERS`` is what the app includes, in this order."""

from scenewatch.api.routes import (
    audit,
    cameras,
    clips,
    config,
    events,
    health,
    live,
    media,
    rule_trial,
    search,
    session,
    tracks,
    users,
)

ROUTERS = [
    session.router,
    cameras.router,
    live.router,
    tracks.router,
    search.router,
    events.router,
    health.router,
    media.router,
    clips.router,
    config.router,
    rule_trial.router,
    users.router,
    audit.router,
]
