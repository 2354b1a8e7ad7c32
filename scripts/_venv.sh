# Sourced by scripts/test and scripts/demo: make sure a virtualenv with everything editable exists.
# VENV picks its location (default .venv at the repository root); it is created when missing and
# re-synced when requirements-dev.txt or any pyproject.toml changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "creating virtualenv $VENV" >&2
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.pristine-sync"
want="$(cat "$ROOT/requirements-dev.txt" "$ROOT"/pyproject.toml "$ROOT"/pristine_plugins/*/pyproject.toml "$ROOT"/tinkex_domain/pyproject.toml "$ROOT"/pristine_codegen/pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing Pristine, its plugins and Tinkex (editable) into $VENV" >&2
  (cd "$ROOT" && "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2 \
    && "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt >&2)
  echo "$want" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
cd "$ROOT"
