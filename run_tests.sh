#!/usr/bin/env bash
# Sets up everything the test suite needs on a fresh Debian machine (chromium, ffmpeg, nodejs,
# the `test` extra), then runs it all:
# unit tests, kernel tests (nbclient) and browser tests (JupyterLab + headless Chromium).
# Usage: bash run_tests.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")"

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v ffprobe >/dev/null 2>&1 || need_apt+=(ffmpeg)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)  # the views' front-end rules (test_views_js)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

python3 -m pip install -q --disable-pip-version-check -e ".[test]"
# Never `playwright install`: it downloads browsers; the tests use Debian's /usr/bin/chromium.
exec python3 -m pytest "$@"
