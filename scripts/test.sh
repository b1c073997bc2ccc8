#!/usr/bin/env bash
# The README's test command (npm test): every suite, on a fresh machine.
#   1. Node 24 (fetched from the npm registry when the system node is older)
#   2. packages, when node_modules is missing
#   3. redis-server and a MongoDB wire-protocol server (FerretDB), unless REDIS_URL/MONGODB_URI are set,
#      and Chromium for the browser tests (test/e2e/browser/)
#   4. unit, integration and e2e suites (jest), then the scan of all their logs for secrets
# Extra arguments go to the main jest run (e.g. `npm test -- test/unit`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/node-env.sh
. scripts/node-env.sh

if [ ! -d node_modules ] || [ package.json -nt node_modules ]; then
  echo "tessera: installing packages (npm install)" >&2
  npm install --no-audit --no-fund --loglevel=error
fi
bash scripts/provision.sh

export TESSERA_TEST_LOG_DIR="$root/test-logs"
rm -rf "$TESSERA_TEST_LOG_DIR" && mkdir -p "$TESSERA_TEST_LOG_DIR/secrets"
# The log scan insists on a run's worth of logs only when every suite ran.
if [ "$#" -eq 0 ]; then export TESSERA_TEST_WHOLE_RUN=1; else export TESSERA_TEST_WHOLE_RUN=0; fi
export NODE_OPTIONS="--experimental-vm-modules --no-warnings=ExperimentalWarning ${NODE_OPTIONS:-}"
results="$TESSERA_TEST_LOG_DIR/../.jest-results.json"

status=0
node node_modules/jest/bin/jest.js --json --outputFile="$results" "$@" || status=$?
leaks=0
node node_modules/jest/bin/jest.js -c jest.leaks.config.js || leaks=$?

# One plain closing line for the whole run.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const leak = Number(process.argv[2]);
  const passed = r.numPassedTests + (leak === 0 ? 2 : 0);
  const failed = r.numFailedTests + (leak === 0 ? 0 : 1);
  const per = {};
  for (const file of r.testResults) {
    const kind = (file.name.match(/\/test\/(unit|integration|e2e)\//) || [])[1] || "other";
    const t = (per[kind] ??= { passed: 0, failed: 0 });
    t.passed += file.assertionResults.filter((a) => a.status === "passed").length;
    t.failed += file.assertionResults.filter((a) => a.status === "failed").length;
  }
  for (const [kind, t] of Object.entries(per)) console.log(`tessera: ${kind}: ${t.passed} passed, ${t.failed} failed`);
  console.log(`tessera: ${r.numPassedTestSuites} suites passed, ${r.numFailedTestSuites} failed; leak scan ${leak === 0 ? "clean" : "FAILED"}`);
  console.log(`tests: ${passed} passed, ${failed} failed`);
' "$results" "$leaks" || true
rm -f "$results"
[ "$status" -eq 0 ] && [ "$leaks" -eq 0 ]
