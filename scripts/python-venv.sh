# Sourced by scripts/radicale.sh and scripts/schemathesis.sh: new_python_venv DIR makes an
# empty Python virtual environment at DIR (replacing what was there), installing python3 and
# Debian's venv module first when they are missing (apt_install is postgres.sh's).
new_python_venv() {
  local venv="$1"
  command -v python3 >/dev/null || apt_install python3 python3-venv || return 1
  rm -rf "$venv"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    rm -rf "$venv"
    apt_install python3-venv || return 1
    python3 -m venv "$venv" || return 1
  fi
}
