#!/usr/bin/env bash
# The CLI on a batch file: requests.jsonl names a test server on http://127.0.0.1:8080; this script points it
# at another one if asked, sends it with `loamy send` and shows what came back.
#
#   bash examples/cli-batch.sh [URL]
#
# URL: the argument, else $LOAMY_EXAMPLE_URL, else http://127.0.0.1:8080. `loamy` is the installed command
# (node_modules/.bin/loamy, found by npx); set $LOAMY to run another.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
url="${1:-${LOAMY_EXAMPLE_URL:-http://127.0.0.1:8080}}"
loamy="${LOAMY:-npx --no-install loamy}"

# One JSON line per response on stdout (in input order with --ordered), the summary on stderr.
sed "s#http://127.0.0.1:8080#${url}#g" "$here/requests.jsonl" |
  $loamy send --ordered --concurrency 4 --timeout 5s --retry 2 -
