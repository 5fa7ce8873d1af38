# Sourced by scripts/test: Radicale (PyPI `radicale` 3.9), the CalDAV and CardDAV server the
# DAV source tests start. Unless FERRY_TEST_RADICALE already names a `radicale` executable,
# installs it into a virtual environment under .build/radicale-venv (once) and exports
# FERRY_TEST_RADICALE. With CI=true, a failure to install fails the script; otherwise the
# tests that need Radicale report themselves skipped.

. scripts/python-venv.sh

install_radicale() {
  local venv=".build/radicale-venv"
  if ! [ -x "$venv/bin/radicale" ] || ! "$venv/bin/python3" -c 'import radicale, sys; sys.exit(0 if radicale.VERSION.startswith("3.9.") else 1)' 2>/dev/null; then
    new_python_venv "$venv" || return 1
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'radicale==3.9.*' || return 1
  fi
  FERRY_TEST_RADICALE="$(pwd)/$venv/bin/radicale"
  export FERRY_TEST_RADICALE
  echo "$(basename "$0"): Radicale $("$venv/bin/python3" -c 'import radicale; print(radicale.VERSION)') at $FERRY_TEST_RADICALE"
}

if [ -z "${FERRY_TEST_RADICALE:-}" ]; then
  if ! install_radicale; then
    if [ "${CI:-}" = "true" ]; then
      echo "scripts/test: Radicale could not be installed, and CI=true: failing" >&2
      exit 1
    fi
    echo "scripts/test: Radicale is not available: its tests will report themselves skipped" >&2
  fi
fi
