#!/usr/bin/env bash
# The CI recipe of docs/ci.md, as tickscope's own CI runs it: a deterministic (-icount)
# bare-metal measurement, checked against the committed baseline; the run directory is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${TICKSCOPE_CI_OUT:-target/ci-gate}"
rm -rf "$out"
cargo run --release -q -p tickscope -- measure --mode noise --icount --duration 1s \
    --inject-tick 250:10us --label ci-noise-tick250 --out "$out/run"
cargo run --release -q -p tickscope -- check \
    --baseline results/baselines/qemu-icount-noise-tick250.json "$out/run"
cargo run --release -q -p tickscope -- report "$out/run" >/dev/null
echo "gate passed; run directory kept in $out/run"
