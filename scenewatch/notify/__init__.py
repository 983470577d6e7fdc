"""Alert delivery: a durable outbox feeding webhooks and MQTT, and a live stream for the UI.

The pipeline builds an :class:`~scenewatch.notify.alert.Alert` and calls
:meth:`Dispatcher.submit <scenewatch.notify.dispatcher.Dispatcher.submit>`; that writes the outbox
and returns at once. Worker threads, one per destination, deliver with retries and backoff.
"""

from scenewatch.notify.alert import Alert, alert_from_health
from scenewatch.notify.dispatcher import Dispatcher
from scenewatch.notify.stream import AlertStream, sse_lines

__all__ = ["Alert", "AlertStream", "Dispatcher", "alert_from_health", "sse_lines"]
