#!/usr/bin/env bash
# Runs a project entry point on Node.js 24 (fetched if the machine's node is older).
#   with-node.sh src/main.ts [args]   run a TypeScript/JavaScript file (Node strips types)
#   with-node.sh --jest [jest args]   run jest under ESM
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/node-env.sh
. "$root/scripts/node-env.sh"
cd "$root"
if [ "${1:-}" = "--jest" ]; then
  shift
  export NODE_OPTIONS="--experimental-vm-modules --no-warnings=ExperimentalWarning ${NODE_OPTIONS:-}"
  exec node node_modules/jest/bin/jest.js "$@"
fi
exec node --disable-warning=ExperimentalWarning "$@"
