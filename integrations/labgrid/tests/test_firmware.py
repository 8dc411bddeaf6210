"""The firmware's run captured through labgrid (TickscopeQEMUDriver, the console labgrid reads),
for each board of the environment by name: it decodes with no loss and shows its own tick; the
250 Hz board passes `tickscope check` against the committed baseline."""

import pytest

from tickscope_labgrid.capture import CaptureExists


@pytest.mark.parametrize("board,events_per_s", [("main", 249.0), ("tick100", 99.0)])
def test_firmware_run_through_labgrid_decodes_and_shows_its_tick(
        tickscope_firmware_run, tickscope, ci_baseline, board, events_per_s):
    run = tickscope_firmware_run(label=f"labgrid-{board}", target=board)
    assert run.stopped == "the run's end line", run.stopped
    assert run.status == 0, run.stderr
    assert run.capture.name == f"labgrid-{board}.bin" and run.run_dir.name == f"labgrid-{board}"
    s = run.summary
    assert s["frames_lost"] == 0, s
    assert s["lost"] == 0, s
    assert s["mode"] == "noise" and s["emulation"] == "icount", s
    # The injected tick is what the run saw: 249 (99) events in its 1 s window.
    assert s["events_per_s"] == events_per_s, s
    if board == "main":
        status, verdicts = tickscope.check(run.run_dir, ci_baseline)
        assert status == 0 and verdicts["pass"], verdicts
    # The guest ended QEMU itself (semihosting exit, status 0) and the driver accepted it.
    assert run.exit_status == 0


def test_an_unknown_board_and_a_reused_label_are_errors(tickscope_firmware_run, tickscope, tmp_path):
    with pytest.raises(LookupError, match="no target 'board-z'"):
        tickscope_firmware_run(label="z", target="board-z")
    (tmp_path / "taken.bin").write_bytes(b"another board's capture")
    with pytest.raises(CaptureExists):
        tickscope.import_capture(b"new bytes", tmp_path, "taken")
    assert (tmp_path / "taken.bin").read_bytes() == b"another board's capture"
