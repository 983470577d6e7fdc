"""MQTT publisher: each alert as JSON on ``{prefix}/{camera}/{rule}`` (health: ``.../health/{fault}``).

paho-mqtt's network thread keeps the connection and reconnects with backoff; an alert counts as
delivered when the broker acknowledges it (QoS 1 PUBACK), otherwise the outbox retries it.
"""

from __future__ import annotations

import logging
import re
import socket
import ssl

import paho.mqtt.client as paho

from scenewatch.config.delivery import MqttConfig
from scenewatch.notify.alert import Alert
from scenewatch.notify.outcome import DELIVERED, Outcome, retry

log = logging.getLogger(__name__)
# Topic levels come from user names: keep them to one level and free of wildcards.
_UNSAFE = re.compile(r"[+#/\x00]")


def topic(prefix: str, alert: Alert) -> str:
    """The MQTT topic of an alert: one level per name, with wildcards and slashes replaced.

    >>> topic("site", Alert("behaviour", "gate", "a/b#", 0.0, key="k"))
    'site/gate/a_b_'
    """
    return "/".join([prefix, *(_UNSAFE.sub("_", level) or "_" for level in alert.topic_levels())])


class MqttSender:
    def __init__(self, config: MqttConfig):
        self.config = config
        self.shown = f"mqtt://{config.host}:{config.broker_port}"
        client_id = config.client_id or f"scenewatch-{socket.gethostname()}"[:64]
        self._client = paho.Client(
            paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311
        )
        if config.username is not None:
            self._client.username_pw_set(config.username, config.password)
        if config.tls:
            self._client.tls_set_context(ssl.create_default_context())
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._last_error = "not connected yet"
        # connect in the background: a broker that is down must not stop the program starting
        self._client.connect_async(config.host, config.broker_port, keepalive=config.keepalive_s)
        self._client.loop_start()

    def _on_connect(self, _client, _userdata, _flags, reason, _props) -> None:
        if reason.is_failure:
            self._last_error = f"broker refused the connection: {reason}"
            log.warning("MQTT %s: %s", self.shown, self._last_error)
        else:
            log.info("MQTT %s: connected", self.shown)

    def _on_disconnect(self, _client, _userdata, _flags, reason, _props) -> None:
        self._last_error = f"disconnected: {reason}"
        if reason.is_failure:
            log.warning("MQTT %s: %s; reconnecting", self.shown, reason)

    @property
    def connected(self) -> bool:
        return self._client.is_connected()

    def send(self, alert: Alert, attempt: int = 1) -> Outcome:
        if not self._client.is_connected():
            return retry(f"broker {self.shown} unreachable ({self._last_error})")
        info = self._client.publish(
            topic(self.config.topic_prefix, alert),
            alert.body_bytes(),
            qos=self.config.qos,
            retain=self.config.retain,
        )
        if info.rc != paho.MQTT_ERR_SUCCESS:
            return retry(f"publish failed: {paho.error_string(info.rc)}")
        try:
            info.wait_for_publish(timeout=self.config.publish_timeout_s)
        except (RuntimeError, ValueError) as exc:
            return retry(f"publish failed: {exc}")
        if not info.is_published():
            return retry(f"no acknowledgement within {self.config.publish_timeout_s:g} s")
        return DELIVERED

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
