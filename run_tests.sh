#!/usr/bin/env bash
# Sets up everything the test suite needs on a fresh Debian machine (chromium, ffmpeg, nodejs,
# the `test` extra), lints, then runs the tiers on every core:
#   bash run_tests.sh           everything: the fast tier, then the slow, kernel and browser tiers
#   bash run_tests.sh --fast    the fast tier only: no browser, no kernel, no real-time waits
# Any other argument goes to pytest (both tiers), e.g. `bash run_tests.sh --fast -k camera`.
set -euo pipefail
cd "$(dirname "$0")"

fast_only=0
args=()
for arg in "$@"; do
  if [ "$arg" = "--fast" ]; then fast_only=1; else args+=("$arg"); fi
done

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

python3 -m ruff check hailuo_nb tests bench

cores=$(python3 -c "import os; print(max(2, len(os.sched_getaffinity(0))))")
tier() {  # one tier: its number of workers, its marker expression, then pytest's own arguments
  local workers=$1 marks=$2; shift 2
  local rc=0
  python3 -m pytest -m "$marks" -n "$workers" --dist loadfile --durations=15 "$@" || rc=$?
  [ "$rc" -eq 0 ] || [ "$rc" -eq 5 ] || exit "$rc"  # 5: a -k filter left this tier empty
}
tier "$cores" "not browser and not kernel and not slow" ${args[@]+"${args[@]}"}
[ "$fast_only" -eq 1 ] && exit 0
# One worker a core for the slow tier too: three browser modules at once on two cores made
# JupyterLab miss its waits (a form not drawn in 180 s), and a red run costs more than a minute.
tier "$cores" "browser or kernel or slow" ${args[@]+"${args[@]}"}
