# Counts the tests `cargo test` ran by kind, from its output:
#   unit        unit tests in the sources, and static checks of the sources (layers, function
#               length)
#   golden      analysis and decoding of recorded or synthetic captures, no emulator
#   end-to-end  the tickscope binary driving QEMU (bare metal, Linux, the ThunderX stand-in), the
#               probe on this machine and over ssh, and
#               the lab integrations (ser2net, labgrid, LAVA's schema)
# A test file missing from the table below fails the count: every file has a kind.
BEGIN {
    kinds["layers"] = "unit"
    kinds["function_length"] = "unit"
    kinds["pure"] = "unit"
    kinds["render"] = "golden"
    kinds["table"] = "golden"
    kinds["long_run"] = "golden"
    kinds["long_linux"] = "golden"
    kinds["corruption"] = "golden"
    kinds["decode"] = "golden"
    kinds["golden"] = "golden"
    kinds["transport"] = "golden"
    kinds["bench"] = "end-to-end"
    kinds["boot"] = "end-to-end"
    kinds["capture"] = "end-to-end"
    kinds["interrupted"] = "end-to-end"
    kinds["labgrid"] = "end-to-end"
    kinds["lava"] = "end-to-end"
    kinds["network_serial"] = "end-to-end"
    kinds["peers"] = "end-to-end"
    kinds["linux"] = "end-to-end"
    kinds["long"] = "end-to-end"
    kinds["export"] = "end-to-end"
    kinds["measure"] = "end-to-end"
    kinds["report"] = "end-to-end"
    kinds["setup"] = "end-to-end"
    kinds["real"] = "end-to-end"
    kinds["standin"] = "end-to-end"
    kinds["uefi"] = "end-to-end"
}
/Running unittests/ { kind = "unit"; next }
/Doc-tests/ { kind = "doc"; next }
/Running tests\// {
    match($0, /tests\/[a-z_0-9]+\.rs/)
    file = substr($0, RSTART + 6, RLENGTH - 9)
    kind = kinds[file]
    if (kind == "") {
        printf "unclassified test file tests/%s.rs: give it a kind in scripts/test-kinds.awk\n", file
        bad = 1
        kind = "unclassified"
    }
    next
}
/^test result:/ {
    match($0, /[0-9]+ passed/); passed[kind] += substr($0, RSTART, RLENGTH - 7)
    match($0, /[0-9]+ failed/); failed[kind] += substr($0, RSTART, RLENGTH - 7)
    match($0, /[0-9]+ ignored/); ignored[kind] += substr($0, RSTART, RLENGTH - 8)
}
END {
    printf "tests by kind:"
    n = split("unit golden end-to-end doc", order, " ")
    for (i = 1; i <= n; i++) {
        k = order[i]
        if (k in passed) printf "  %s %d passed", k, passed[k]
        if (failed[k] > 0) printf " (%d FAILED)", failed[k]
        if (ignored[k] > 0) printf " (%d ignored)", ignored[k]
    }
    printf "\n"
    exit bad
}
