#!/usr/bin/env bash
# Installs the independent implementations the interop tests compare against into
# interop/node_modules (git-ignored). Tests that need them skip only when this was not run.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error
