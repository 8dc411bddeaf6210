#!/usr/bin/env bash
# Validates tickscope's LAVA files with LAVA's own schema: Debian's lava-common package unpacked
# into tickscope's cache (fetched with `tickscope apt-fetch`, a private apt state: nothing is
# installed system-wide) and voluptuous, pyyaml and jinja2 from PyPI in a private virtualenv.
# Usage: validate.sh [validate.py arguments]   (default: every file here, the negative ones as
# such). TICKSCOPE names the tickscope binary (default: cargo run).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${TICKSCOPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tickscope}/lava
if [ -n "${TICKSCOPE:-}" ]; then
    tickscope=("$TICKSCOPE")
else
    tickscope=(cargo run -q --release -p tickscope --manifest-path "$here/../../Cargo.toml" --)
fi
mkdir -p "$cache"
if [ ! -d "$cache/lava-common/usr/lib/python3/dist-packages/lava_common" ]; then
    "${tickscope[@]}" apt-fetch lava-common --into "$cache/lava-common"
fi
if [ ! -x "$cache/venv/bin/python" ] || ! "$cache/venv/bin/python" -c "import voluptuous, yaml, jinja2" 2>/dev/null; then
    python3 -m venv "$cache/venv"
    "$cache/venv/bin/pip" install -q voluptuous pyyaml jinja2
fi
if [ $# = 0 ]; then
    set -- "$here/tickscope-probe.yaml" "$here/qemu-firmware-job.yaml.j2" \
        --invalid "$here/negative/broken-testdef.yaml" --invalid "$here/negative/broken-job.yaml.j2"
fi
PYTHONPATH="$cache/lava-common/usr/lib/python3/dist-packages" exec "$cache/venv/bin/python" "$here/validate.py" "$@"
