#!/usr/bin/env bash
# Brings the npm dependencies, Node 24 among them (the `node` package pins it), up to date
# with package-lock.json. Runs before `npm start`, `npm test` and `npm run stack`, with
# whatever Node and npm the machine has: everything after it runs on the pinned Node.
set -euo pipefail
cd "$(dirname "$0")/.."

stamp=node_modules/.bootstrap-stamp
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -x node_modules/.bin/node ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$lock_hash" ]; then
  exit 0
fi

# Under `npm run`, node_modules/.bin (our Node 24) comes first on PATH; install with the
# machine's own Node instead, the one the lock file was resolved with.
PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -v '/node_modules/\.bin$' | paste -sd: -)

if ! command -v npm >/dev/null 2>&1; then
  echo "error: npm is needed once, to install the pinned Node.js and the project's packages." >&2
  echo "       Install Node.js (any version with npm 10 or newer) and run the command again." >&2
  exit 1
fi
echo "==> Installing npm packages (Node $(node -p 'require("./package.json").devDependencies.node') comes with them)" >&2
# Also drop the npm_* variables of the enclosing `npm run`: they change how `npm ci` reads the lock file.
env $(env | sed -n 's/^\(npm_[A-Za-z0-9_]*\)=.*/-u \1/p') npm ci --no-audit --no-fund --loglevel=error
echo "$lock_hash" > "$stamp"
echo "    ✓ npm packages installed" >&2
