# Sourced by scripts/fuzz-api (and so by scripts/test): Schemathesis (PyPI `schemathesis`
# 4.32.5), the property-based API fuzzer that runs against a server's /openapi.yaml. Unless
# FERRY_SCHEMATHESIS already names a `schemathesis` executable, installs it into a virtual
# environment under .build/schemathesis-venv (once) and exports FERRY_SCHEMATHESIS. With
# CI=true, a failure to install fails the script; otherwise the fuzz run reports itself skipped.

FERRY_SCHEMATHESIS_VERSION="4.32.5"

. scripts/python-venv.sh

install_schemathesis() {
  local venv=".build/schemathesis-venv"
  if ! [ -x "$venv/bin/schemathesis" ] || [ "$("$venv/bin/schemathesis" --version 2>/dev/null)" != "schemathesis, version $FERRY_SCHEMATHESIS_VERSION" ]; then
    new_python_venv "$venv" || return 1
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
