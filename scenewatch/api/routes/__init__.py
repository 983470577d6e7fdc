"""One router per resource; ``ROUTERS`` is what the app includes, in this order."""

from scenewatch.api.routes import (
    audit,
    cameras,
    clips,
    config,
    events,
    health,
    live,
    live_feed,
    media,
    review,
    rule_trial,
    search,
    session,
    suppressions,
    tracks,
    users,
)

ROUTERS = [
    session.router,
    cameras.router,
    suppressions.router,
    live.router,
    live_feed.router,
    tracks.router,
    search.router,
    events.router,
    health.router,
    media.router,
    clips.router,
    review.router,
    config.router,
    rule_trial.router,
    users.router,
    audit.router,
]
