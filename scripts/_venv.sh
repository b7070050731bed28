# Sourced by scripts/serve and scripts/test: make .venv if missing and (re)install when setup.cfg changed.
# Usage: ensure_venv EXTRAS   (e.g. "" or "[test]")
ensure_venv() {
    local extras="$1" python="${PYTHON:-python3}"
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
        echo "speaker-id-mock needs Python 3.10 or newer (set PYTHON=/path/to/python3.x)" >&2
        return 1
    fi
    [ -x .venv/bin/python ] || "$python" -m venv .venv
    local stamp=".venv/.installed-$(cat setup.cfg pyproject.toml | sha1sum | cut -c1-12)${extras//[^a-z]/-}"
    if [ ! -f "$stamp" ]; then
        .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras}"
        touch "$stamp"
    fi
}
