#!/bin/sh
# Debian's Chromium for the browser tests (Playwright drives it with executable_path; it never
# downloads a browser of its own). Does nothing when a Chromium is already installed.
set -eu
for candidate in "${ONRAMP_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then
        exit 0
    fi
done
if [ "$(id -u)" -eq 0 ]; then
    run() { "$@"; }
elif command -v sudo >/dev/null 2>&1; then
    run() { sudo "$@"; }
else
    echo "Chromium is missing and this user cannot install it: run 'apt-get install chromium' as root," >&2
    echo "or set ONRAMP_CHROMIUM to a Chromium binary." >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
run apt-get install -y -q --no-install-recommends chromium \
    || { run apt-get update -q && run apt-get install -y -q --no-install-recommends chromium; }
