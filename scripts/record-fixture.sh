#!/usr/bin/env bash
# Re-records the capture the wire-robustness and decode tests use
# (tickscope-core/tests/data/timer-tick.capture): a deterministic (-icount) timer-mode run over the
# PL011, console text and frames interleaved as a board sends them. Run it after any change to
# the wire format (FORMAT_VERSION), then commit the new file.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cargo run --release -q -p tickscope -- measure --mode timer --icount --duration 200ms --period 1ms \
    --inject-tick 250:10us --smp 2 --transport uart --reduce raw --out "$out/run" --json >/dev/null
cp "$out/run/capture.bin" tickscope-core/tests/data/timer-tick.capture
cargo run --release -q -p tickscope -- decode tickscope-core/tests/data/timer-tick.capture
