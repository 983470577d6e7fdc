#!/usr/bin/env bash
# Installs the Debian packages SceneWatch and its tests use, when they are missing:
# FFmpeg and GStreamer's RTSP server (live-stream tests), mosquitto (MQTT delivery tests),
# chromium with fonts-noto-cjk (browser tests of the web UI; Chinese text in screenshots) and
# opencv-doc (the sample footage).
# Needs root (or sudo); prints what is missing otherwise. apt's own output goes to a log file,
# shown only when it fails; the terminal gets one progress line (a line per 10 % when not a terminal).
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
if [ ${#missing[@]} -eq 0 ]; then
  echo "  all ${#packages[@]} present"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "missing system packages (install them with your package manager): ${missing[*]}" >&2
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
log=$(mktemp "${TMPDIR:-/tmp}/scenewatch-apt.XXXXXX")

# Reads apt's status lines (APT::Status-Fd: "dlstatus:N:PERCENT:TEXT", "pmstatus:PKG:PERCENT:TEXT")
# and shows them as one progress line; everything else apt and dpkg print goes to the log.
show_progress() {
  local line kind field percent text phase shown="" tty=""
  [ -t 1 ] && tty=1
  while IFS= read -r line; do
    case $line in
      dlstatus:*) phase="downloading" ;;
      pmstatus:*) phase="installing" ;;
      *) echo "$line" >>"$log"; continue ;;
    esac
    IFS=: read -r kind field percent text <<<"$line"
    percent=${percent%%.*}
    if [ -n "$tty" ]; then
      printf '\r  %s %3s %% %.60s\033[K' "$phase" "$percent" "$text"
    elif [ "$phase $((percent / 10))" != "$shown" ]; then
      shown="$phase $((percent / 10))"
      echo "  $phase $percent % $text"
    fi
  done
  [ -z "$tty" ] || printf '\r\033[K'
}

fail() {
  echo "  $1; the end of apt's output ($log):" >&2
  tail -n 20 "$log" >&2
  exit 1
}

started=$SECONDS
echo "  installing (with what they need): ${missing[*]}"
echo "  updating the package lists"
$sudo apt-get update -q >"$log" 2>&1 || fail "apt-get update failed"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  -o APT::Status-Fd=1 "${missing[@]}" 2>>"$log" | show_progress || fail "apt-get install failed"
echo "  installed in $((SECONDS - started)) s"
rm -f "$log"
