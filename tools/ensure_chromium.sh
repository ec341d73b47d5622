#!/usr/bin/env bash
# Install headless Chromium (Debian package `chromium`) when /usr/bin/chromium is missing.
# Quiet and non-interactive: works as root in CI with no stdin (uses `sudo -n` when not root).
# The apt log is printed only if the installation fails.
set -euo pipefail
[ -x /usr/bin/chromium ] && exit 0
SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "ensure_chromium: not root and no sudo; install the 'chromium' package" >&2; exit 1; }
  SUDO="sudo -n"
fi
log=$(mktemp)
export DEBIAN_FRONTEND=noninteractive
install() { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends chromium; }
# a mirror hiccup should not fail a CI run: try three times, a little apart
if ! { install || { sleep 5; install; } || { sleep 15; install; }; } </dev/null >"$log" 2>&1; then
  cat "$log" >&2; rm -f "$log"; echo "ensure_chromium: apt-get install chromium failed" >&2; exit 1
fi
rm -f "$log"
[ -x /usr/bin/chromium ] || { echo "ensure_chromium: /usr/bin/chromium still missing after apt-get install" >&2; exit 1; }
