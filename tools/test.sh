#!/usr/bin/env bash
# `npm test`: install what is missing, build, lint and test every project, then one closing line
# with the counts of every project's tests (printed even when something failed).
set -uo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh || exit 1
npx nx run-many -t build --outputStyle=stream || exit 1
npx nx run-many -t lint test --outputStyle=stream
status=$?
node tools/test-summary.mjs || status=1
exit $status
