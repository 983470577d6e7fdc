"""Real stream servers for tests: GStreamer's RTSP server and FFmpeg's HTTP listen mode.

Both bind to 127.0.0.1 on a free port, serve a real clip in real time, and can be killed and
started again on the same port to simulate a camera dropping off the network.
"""

from __future__ import annotations

import functools
import shutil
import socket
import subprocess
import time
from pathlib import Path

GST_PYTHON = "/usr/bin/python3"  # Debian's python: the one with gi and GstRtspServer
GST_SERVER_SCRIPT = Path(__file__).with_name("gst_rtsp_server.py")
GST_ELEMENTS = ("qtdemux", "h264parse", "rtph264pay")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def is_listening(port: int) -> bool:
    """Whether something listens on TCP ``port``, checked without connecting (a connection would use
    up FFmpeg's single listen-mode client)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False


def wait_listening(port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not is_listening(port):
        if proc is not None and proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"stream server exited with {proc.returncode}: {err}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")
        time.sleep(0.05)


@functools.cache
def gst_rtsp_missing() -> str | None:
    """Why the GStreamer RTSP server cannot run here, or None if it can."""
    probe = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"
    if not Path(GST_PYTHON).exists():
        return f"{GST_PYTHON} not found (Debian package python3-gi)"
    if subprocess.run([GST_PYTHON, "-c", probe], capture_output=True, timeout=30).returncode != 0:
        return "GstRtspServer not importable (Debian packages python3-gi gir1.2-gst-rtsp-server-1.0)"
    inspect = shutil.which("gst-inspect-1.0")
    if inspect is None:
        return "gst-inspect-1.0 not found (Debian package gstreamer1.0-tools)"
    for element in GST_ELEMENTS:
        if subprocess.run([inspect, element], capture_output=True, timeout=30).returncode != 0:
            return f"GStreamer element {element} missing (gstreamer1.0-plugins-good/-bad)"
    return None


def ffmpeg_missing() -> str | None:
    return None if shutil.which("ffmpeg") else "ffmpeg not found (Debian package ffmpeg)"


class _Server:
    """A server subprocess that can be killed and started again on the same port."""

    def __init__(self, clip: Path, port: int | None = None):
        self.clip = clip
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self, timeout: float = 15.0) -> None:
        self.proc = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        wait_listening(self.port, timeout, self.proc)

    def kill(self) -> None:
        """Kill hard (SIGKILL), as a camera losing power would drop its connections."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait(timeout=10)
            if self.proc.stderr:
                self.proc.stderr.close()
        self.proc = None

    def __enter__(self) -> _Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


class RtspServer(_Server):
    """GStreamer's RTSP server in Debian's python, serving ``clip`` (H.264 MP4) in real time."""

    mount = "/cam"

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}{self.mount}"

    def command(self) -> list[str]:
        return [GST_PYTHON, str(GST_SERVER_SCRIPT), str(self.port), str(self.clip), self.mount]


class HttpTsServer(_Server):
    """``ffmpeg -re ... -listen 1``: one client gets ``clip`` as a live MPEG-TS over HTTP."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/live.ts"

    def command(self) -> list[str]:
        return [
            "ffmpeg", "-nostdin", "-loglevel", "error", "-re", "-i", str(self.clip),
            "-an", "-c:v", "copy", "-f", "mpegts", "-listen", "1", self.url,
        ]  # fmt: skip
