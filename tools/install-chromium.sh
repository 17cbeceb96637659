#!/bin/sh
# Debian's Chromium for the browser tests (Playwright drives it with executable_path; it never
# downloads a browser of its own), and a CJK font so the Chinese pages' screenshots are legible.
# Installs only what is missing; with ONRAMP_CHROMIUM set to a browser binary it does nothing.
set -eu
if [ -n "${ONRAMP_CHROMIUM:-}" ] && [ -x "$ONRAMP_CHROMIUM" ]; then
    exit 0
fi
missing=""
[ -x /usr/bin/chromium ] || missing="chromium"
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing="$missing fonts-wqy-microhei"
[ -n "$missing" ] || exit 0

if [ "$(id -u)" -eq 0 ]; then
    run() { "$@"; }
elif command -v sudo >/dev/null 2>&1; then
    run() { sudo "$@"; }
else
    echo "Missing for the browser tests: $missing. Install them as root (apt-get install$missing)," >&2
    echo "or set ONRAMP_CHROMIUM to a Chromium binary." >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086  # $missing is a list of package names
run apt-get install -y -q --no-install-recommends $missing \
    || { run apt-get update -q && run apt-get install -y -q --no-install-recommends $missing; }
