"""The firmware's run captured through labgrid (TickscopeQEMUDriver, the console labgrid reads):
it decodes with no loss and passes `tickscope check` against the committed baseline."""


def test_firmware_run_through_labgrid_decodes_and_passes_the_baseline(tickscope_firmware_run, tickscope, ci_baseline):
    run = tickscope_firmware_run(label="labgrid-qemu")
    assert run.stopped == "the run's end line", run.stopped
    assert run.status == 0, run.stderr
    s = run.summary
    assert s["frames_lost"] == 0, s
    assert s["lost"] == 0, s
    assert s["mode"] == "noise" and s["emulation"] == "icount", s
    # The injected 250 Hz tick is what the run saw: 249 events in its 1 s window.
    assert s["events_per_s"] == 249.0, s
    status, verdicts = tickscope.check(run.run_dir, ci_baseline)
    assert status == 0 and verdicts["pass"], verdicts
    # The guest ended QEMU itself (semihosting exit, status 0) and the driver accepted it.
    assert run.exit_status == 0
