# Sourced by scripts/test, scripts/demo, scripts/build-wheels and .ci/run: make sure a virtualenv
# with everything editable exists. VENV picks its location (default .venv at the repository root);
# it is created when missing and re-synced when requirements-dev.txt or any pyproject.toml changed.
# Progress goes to stderr one line per package; pip's and setuptools' chatter goes to
# $VENV/.pristine-install.log, printed in full only when the install fails.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "creating virtualenv $VENV" >&2
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.pristine-sync"
# The stamp holds a hash of every install input, then the checkout the editable installs point to.
want="$( (cd "$ROOT" && cat requirements-dev.txt \
  && find . -name pyproject.toml -not -path './.venv*' -not -path '*/build/*' -not -path './dist/*' | sort | xargs cat) \
  | sha256sum | cut -d' ' -f1)"
have="$(sed -n 1p "$stamp" 2>/dev/null || true)"
have_root="$(sed -n 2p "$stamp" 2>/dev/null || true)"
log="$VENV/.pristine-install.log"
_pristine_pip() {
  # One progress line per package collected/built; everything else only in the log.
  { (cd "$ROOT" && "$VENV/bin/python" -m pip --disable-pip-version-check "$@" --progress-bar off 2>&1); \
    echo $? > "$log.rc"; } \
    | tee -a "$log" | grep --line-buffered -E '^(Collecting|Obtaining|Building|Successfully installed)' \
    | sed -u -e 's/^/  /' -e 's/ (from .*//' >&2 || true
  if [ "$(cat "$log.rc")" != 0 ]; then
    cat "$log" >&2
    echo "installing into $VENV failed (log: $log)" >&2
    return 1
  fi
}
if [ "$have" != "$want" ]; then
  : > "$log"
  started=$SECONDS
  echo "installing Pristine, its plugins and Tinkex (editable) into $VENV (first time: 1-2 minutes)" >&2
  _pristine_pip install --upgrade pip
  _pristine_pip install -r requirements-dev.txt
  echo "installed in $((SECONDS - started)) s" >&2
  printf '%s\n%s\n' "$want" "$ROOT" > "$stamp"
elif [ "$have_root" != "$ROOT" ]; then
  # Same install inputs, another checkout: only re-point the editable installs here (no
  # dependency is added or removed, so nothing installed by hand can stand in for a missing one).
  : > "$log"
  started=$SECONDS
  echo "re-pointing the editable installs of $VENV at $ROOT" >&2
  _pristine_pip install --no-deps --no-build-isolation -r requirements-dev.txt
  echo "done in $((SECONDS - started)) s" >&2
  printf '%s\n%s\n' "$want" "$ROOT" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
cd "$ROOT"
