#!/usr/bin/env bash
# Installs the Debian packages SceneWatch and its tests use, when they are missing:
# FFmpeg and GStreamer's RTSP server (live-stream tests), mosquitto (MQTT delivery tests),
# chromium with fonts-noto-cjk (browser tests of the web UI; Chinese text in screenshots) and
# opencv-doc (the sample footage).
# Needs root (or sudo); prints what is missing otherwise.
set -euo pipefail
packages=(ffmpeg opencv-doc python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp
  gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  gstreamer1.0-tools mosquitto chromium fonts-noto-cjk ${EXTRA_DEBIAN_PACKAGES:-})
# PostgreSQL's server binaries (central-platform tests) may come with the machine image already.
if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  packages+=(postgresql)
fi
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "missing system packages (install them with your package manager): ${missing[*]}" >&2
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing system packages: ${missing[*]}" >&2
$sudo apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
