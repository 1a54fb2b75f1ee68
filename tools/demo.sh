#!/usr/bin/env bash
# Quick start: set up .venv if needed, then run the shapes detection demo
# (tools/demo.py). Extra arguments go to tools/demo.py, e.g. --baseline.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash tools/setup_env.sh
exec .venv/bin/python tools/demo.py "$@"
