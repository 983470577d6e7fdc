"""A tiny RTSP server for tests, run with Debian's system Python (it needs ``gi`` and GstRtspServer).

Usage: /usr/bin/python3 gst_rtsp_server.py PORT CLIP [MOUNT]

Serves CLIP at rtsp://127.0.0.1:PORT/MOUNT (default ``/cam``), played in real time. H.264 in MP4 is
sent as is (no encoding, so it costs almost no CPU); anything else is re-encoded with x264.
Each client gets its own pipeline starting at the beginning of the clip. Prints ``READY`` once
it listens and runs until killed.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def launch_line(clip: str) -> str:
    """The media pipeline for ``clip``; ``pay0`` is the payloader the RTSP server looks for."""
    location = clip.replace("\\", "\\\\").replace('"', '\\"')
    if clip.lower().endswith((".mp4", ".mov", ".m4v")):
        return (
            f'( filesrc location="{location}" ! qtdemux ! h264parse config-interval=-1 '
            "! rtph264pay name=pay0 pt=96 config-interval=1 )"
        )
    return (
        f'( filesrc location="{location}" ! decodebin ! videoconvert '
        "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 "
        "! video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )


def main() -> None:
    port, clip = sys.argv[1], sys.argv[2]
    mount = sys.argv[3] if len(sys.argv) > 3 else "/cam"
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch_line(clip))
    factory.set_shared(False)
    server.get_mount_points().add_factory(mount, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on port {port}", file=sys.stderr, flush=True)
        sys.exit(1)
    print("READY", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
