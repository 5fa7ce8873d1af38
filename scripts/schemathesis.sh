# Sourced by scripts/fuzz-api (and so by scripts/test): Schemathesis (PyPI `schemathesis`
# 4.32.5), the property-based API fuzzer that runs against a server's /openapi.yaml. Unless
# FERRY_SCHEMATHESIS already names a `schemathesis` executable, installs it into a virtual
# environment under .build/schemathesis-venv (once) and exports FERRY_SCHEMATHESIS. With
# CI=true, a failure to install fails the script; otherwise the fuzz run reports itself skipped.

FERRY_SCHEMATHESIS_VERSION="4.32.5"

install_schemathesis() {
  local venv=".build/schemathesis-venv"
  if ! [ -x "$venv/bin/schemathesis" ] || [ "$("$venv/bin/schemathesis" --version 2>/dev/null)" != "schemathesis, version $FERRY_SCHEMATHESIS_VERSION" ]; then
    # Debian ships the venv module apart from python3 (apt_install is postgres.sh's).
    command -v python3 >/dev/null || apt_install python3 python3-venv || return 1
    rm -rf "$venv"
    if ! python3 -m venv "$venv" 2>/dev/null; then
      rm -rf "$venv"
      apt_install python3-venv || return 1
      python3 -m venv "$venv" || return 1
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$FERRY_SCHEMATHESIS_VERSION" || return 1
  fi
  FERRY_SCHEMATHESIS="$(pwd)/$venv/bin/schemathesis"
  export FERRY_SCHEMATHESIS
  echo "$(basename "$0"): $("$FERRY_SCHEMATHESIS" --version) at $FERRY_SCHEMATHESIS"
}

if [ -z "${FERRY_SCHEMATHESIS:-}" ]; then
  if ! install_schemathesis; then
    if [ "${CI:-}" = "true" ]; then
      echo "$(basename "$0"): Schemathesis could not be installed, and CI=true: failing" >&2
      exit 1
    fi
    echo "$(basename "$0"): Schemathesis is not available: the schema fuzzing is skipped" >&2
  fi
fi
