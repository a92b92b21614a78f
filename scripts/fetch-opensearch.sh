#!/usr/bin/env bash
# Fetch (once) and unpack the OpenSearch distribution used by the local stack,
# then print its directory. All logic lives in devstack/opensearch_dist.py;
# this wrapper only fixes the working directory and the interpreter.
#   PYTHON=...               interpreter to use (default: .venv/bin/python, else python3)
#   LOGSTREAM_CACHE_DIR=...  cache directory (default: <repo>/.cache/opensearch)
# Extra arguments are passed through (e.g. --version 2.19.3).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi

exec "$PYTHON" -m devstack.opensearch_dist "$@"
