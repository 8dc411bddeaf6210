#!/usr/bin/env bash
# Runs every tickscope test from a fresh clone on a Debian machine with rustup: installs the
# pinned toolchain (rust-toolchain.toml), QEMU and ser2net (apt-get, when root) first, then checks the
# README's main command on a machine without the aarch64 targets, then every test.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s\n' "$*"; }

step "toolchain (rust-toolchain.toml)"
rustup toolchain install

step "QEMU"
if ! command -v qemu-system-aarch64 >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y --no-install-recommends qemu-system-arm >/dev/null 2>&1 \
            || { apt-get update >/dev/null && apt-get install -y --no-install-recommends qemu-system-arm >/dev/null; }
    else
        echo "qemu-system-aarch64 is missing: sudo apt-get install qemu-system-arm" >&2
        exit 127
    fi
fi
qemu-system-aarch64 --version | head -1

step "ser2net, OpenSSH, EDK2, rt-tests and stress-ng (the network serial test exports a QEMU pty through ser2net; the real-machine test runs the probe over ssh to an sshd on 127.0.0.1 and loads this machine with hackbench and stress-ng; the UEFI tests boot through EDK2)"
need=()
command -v hackbench >/dev/null || need+=(rt-tests)
command -v stress-ng >/dev/null || need+=(stress-ng)
[ -f /usr/share/qemu-efi-aarch64/QEMU_EFI.fd ] || [ -n "${TICKSCOPE_UEFI_FIRMWARE:-}" ] || need+=(qemu-efi-aarch64)
{ command -v ser2net >/dev/null || [ -x /usr/sbin/ser2net ]; } || need+=(ser2net)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null || need+=(openssh-client)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
            || { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${need[@]}" >/dev/null; }
    else
        echo "missing: ${need[*]}: sudo apt-get install ${need[*]}" >&2
        exit 127
    fi
fi

step "a headless browser for the report's layout checks (optional: without one they say they were skipped)"
if ! command -v chromium-headless-shell >/dev/null && ! command -v chromium >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y --no-install-recommends chromium-headless-shell >/dev/null 2>&1 \
            || { apt-get update >/dev/null 2>&1 \
                 && apt-get install -y --no-install-recommends chromium-headless-shell >/dev/null 2>&1; } \
            || echo "chromium-headless-shell could not be installed: the report's layout checks are skipped" >&2
    else
        echo "no Chromium: the report's layout checks are skipped (sudo apt-get install chromium-headless-shell)" >&2
    fi
fi

step "the README's main command on a machine whose toolchain lacks the aarch64 targets"
# A fresh machine with rustup and the pinned toolchain but not its targets: tickscope adds them
# before its first cross build. Only when CI asks (.ci/run sets TICKSCOPE_FRESH_CHECK=1): a
# developer's own targets are not removed.
if [ "${TICKSCOPE_FRESH_CHECK:-0}" = 1 ]; then
    rustup target remove aarch64-unknown-none aarch64-unknown-linux-musl x86_64-unknown-linux-musl aarch64-unknown-uefi
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo run --release -p tickscope -- compare | tee "$log"
grep -q "^report: " "$log"

step "firmware images (release profile; budgets 40 KiB for qemu-virt, 36 KiB for ThunderX)"
./target/release/tickscope image
./target/release/tickscope image --board thunderx-cn88xx

step "benchmark gate: sizes exact, host speeds as ratios to a CRC pass (results/baselines/bench.json)"
./target/release/tickscope bench --check results/baselines/bench.json

step "unit, golden and end-to-end tests"
testlog=$(mktemp)
trap 'rm -f "$log" "$testlog"' EXIT
set +e
cargo test --workspace --no-fail-fast 2>&1 | tee "$testlog"
rc=${PIPESTATUS[0]}
set -e
awk -f scripts/test-kinds.awk "$testlog"
[ "$rc" = 0 ] || exit "$rc"

step "optional features build"
cargo check -p tickscope --features probe-rs

step "CI recipe (docs/ci.md): deterministic run gated on the committed baseline"
bash scripts/ci-gate.sh

echo
echo "all tests passed"
