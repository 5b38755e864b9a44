#!/bin/sh
# report.html in headless Chromium: the page must load with no console error
# (a Content-Security-Policy violation would be one: any script or network
# fetch the page tried) and the rendered DOM must show the property table.
# First, the same check on a page that breaks the policy must fail, so we
# know console errors are really seen.
# usage: html_in_chromium.sh SAMPLE_TOOL [CHROMIUM]   (exit 77: skipped)
set -u
sample=$1
chromium=${2:-}
case "$chromium" in *NOTFOUND*|"") chromium=$(command -v chromium || command -v chromium-browser || true) ;; esac
if [ -z "$chromium" ]; then
  echo "SKIPPED: chromium is not installed (apt-get install chromium)"
  exit 77
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# load PAGE NAME: dumps the DOM to $work/NAME.dom, browser log to $work/NAME.log;
# prints the console errors found.
load() {
  timeout 90 "$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$work/profile-$2" \
    --enable-logging=stderr --v=0 --dump-dom "file://$1" >"$work/$2.dom" 2>"$work/$2.log"
  status=$?
  if [ "$status" -ne 0 ]; then
    echo "FAIL: chromium exited $status on $1"; cat "$work/$2.log"; exit 1
  fi
  grep -E 'CONSOLE|Uncaught|Refused to|net::ERR_' "$work/$2.log" || true
}

# 1. The detector works: a page whose policy blocks its own script.
cat >"$work/broken.html" <<'HTML'
<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="default-src 'none'">
</head><body><script>document.body.textContent = "ran";</script><p>broken</p></body></html>
HTML
if [ -z "$(load "$work/broken.html" broken)" ]; then
  echo "FAIL: a page that violates its Content-Security-Policy logged no console error; the check below would prove nothing"
  cat "$work/broken.log"; exit 1
fi

# 2. The real report.
"$sample" "$work/out" failing || { echo "FAIL: could not write the sample report"; exit 1; }
errors=$(load "$work/out/report.html" report)
if [ -n "$errors" ]; then
  echo "FAIL: console errors while loading report.html:"; echo "$errors"; exit 1
fi
dom="$work/report.dom"
fail=0
expect() {  # expect COUNT PATTERN WHAT
  found=$(grep -o -- "$2" "$dom" | wc -l)
  if [ "$found" -ne "$1" ]; then echo "FAIL: expected $1 of $3 in the rendered page, found $found"; fail=1; fi
}
expect 1 '<table id="property-table">' "property table"
expect 13 '<tr class="property"' "property rows"  # one per reports::kProperties
expect 2 'data-verdict="fail"' "failing properties"
expect 1 'data-property="durable" data-verdict="not_run"' "not-run durable row"
expect 0 '<script' "script elements (subject strings must stay text)"
expect 4 '<article class="cx">' "counterexamples"
expect 1 '<svg ' "picture"
expect 2 '<li class="fix"' "Fix lines (one per failing property)"
expect 6 '<code class="site"' "call sites (three calls, three counterexamples)"
expect 1 'At call 1 <code title="/home/me/src/writer.py:12">writer.py:12 openat(' "the Fix line's call site"
if ! grep -q 'crashcheck replay' "$dom"; then echo "FAIL: no replay command in the page"; fail=1; fi
[ "$fail" -eq 0 ] || { echo "--- browser log:"; cat "$work/report.log"; exit 1; }
echo "report.html rendered in $("$chromium" --version 2>/dev/null | head -1) with no console error; property table shown"
