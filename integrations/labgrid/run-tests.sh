#!/usr/bin/env bash
# Runs the labgrid integration's tests: labgrid (26.0.1), pytest and this plugin in a private
# virtualenv under tickscope's cache (nothing installed system-wide), the firmware image built,
# then `pytest --lg-env env-qemu.yaml tests` (the QEMU boards; the distributed tests: a
# coordinator, exporters and clients on 127.0.0.1, a two-board lab, RFC 2217 through ser2net).
# TICKSCOPE names the tickscope binary
# (default: cargo run). Extra arguments go to pytest.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${TICKSCOPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tickscope}/labgrid
venv="$cache/venv"
if [ ! -x "$venv/bin/pytest" ] || ! "$venv/bin/python" -c "import labgrid" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "labgrid==26.0.1" pytest
fi
if [ -z "${TICKSCOPE:-}" ]; then
    cargo build -q --release -p tickscope --manifest-path "$here/../../Cargo.toml"
    export TICKSCOPE="$here/../../target/release/tickscope"
fi
# The image env-qemu.yaml boots (target/fw/qemu-virt/...).
"$TICKSCOPE" image >/dev/null
cd "$here/../.."
# The plugin comes from this checkout through tests/conftest.py (`pip install integrations/labgrid`
# is for users); env-qemu.yaml imports its driver module.
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
exec "$venv/bin/pytest" -q -p no:cacheprovider -W ignore::DeprecationWarning --lg-env "$here/env-qemu.yaml" "$here/tests" "$@"
