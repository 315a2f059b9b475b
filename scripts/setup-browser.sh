#!/usr/bin/env bash
# Installs what the status page's browser test drives: Debian's Chromium (playwright-core, a dev
# dependency, drives it; it downloads no browser of its own). Does nothing when a Chromium is
# already there. CI runs it after `npm ci` (.ci/run); on a developer machine the browser test
# skips with a hint when no Chromium is found.
set -euo pipefail
for candidate in "${ACU_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then
    echo "setup-browser: using $candidate"
    exit 0
  fi
done
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: no Chromium found, and this machine has no apt-get to install Debian's" >&2
  echo "hint: install Chromium and set ACU_CHROMIUM to its path" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -q chromium >/dev/null || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q chromium >/dev/null; }
echo "setup-browser: installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
