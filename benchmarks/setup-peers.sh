#!/usr/bin/env bash
# Create .venv-bench with the peer tools benchmarks/run.py compares against (see requirements-peers.txt).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
base_python="${PYTHON:-}"
if [[ -z "$base_python" ]]; then
    # Same interpreter as the project's venv, so both sides run the same Python.
    if [[ -f "$root/.venv/pyvenv.cfg" ]]; then
        base_python="$(sed -n 's/^executable *= *//p' "$root/.venv/pyvenv.cfg")"
    fi
    base_python="${base_python:-python3}"
fi
"$base_python" -m venv "$root/.venv-bench"
"$root/.venv-bench/bin/pip" install -q -r "$root/benchmarks/requirements-peers.txt"
"$root/.venv-bench/bin/python" -c "import datatrove, spacy, datasketch, orjson, pyarrow; print('peer env ready:', datatrove.__file__)"
