#!/bin/sh
# LAVA run step of tickscope-probe.yaml: runs the probe on the board, keeps its capture
# (tickscope-capture.bin, for `tickscope import` on a host) and reports every `tickscope-result:`
# line it prints as a lava-test-case, plus one case for the probe's own exit status.
set -u
PROBE=${1:-./tickscope-probe}
MODE=${2:-noise}
CPU=${3:-1}
DURATION=${4:-60s}
PERIOD=${5:-1ms}
THRESHOLD=${6:-1us}

status=0
"$PROBE" --out tickscope-capture.bin "mode=$MODE" "cores=$CPU" "duration=$DURATION" \
    "period=$PERIOD" "threshold=$THRESHOLD" 2> tickscope-probe.log || status=$?
cat tickscope-probe.log >&2
grep '^tickscope-result: ' tickscope-probe.log | while read -r _ id result value units; do
    lava-test-case "tickscope-$id" --result "$result" --measurement "$value" --units "$units"
done
if [ "$status" = 0 ]; then
    lava-test-case tickscope-probe-run --result pass
else
    lava-test-case tickscope-probe-run --result fail
fi
exit 0
