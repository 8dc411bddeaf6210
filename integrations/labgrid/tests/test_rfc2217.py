"""RFC 2217 through labgrid's own serial driver: ser2net exports the firmware's UART (a QEMU pty)
as telnet/RFC 2217, a NetworkSerialPort (protocol rfc2217) names it, labgrid's SerialDriver (pyserial's
rfc2217:// port) reads it through the plugin's reader. pyserial's `read()` gives up as soon as
its reader thread has ended, although the run's last bytes are still queued; the reader keeps
them. 20 runs must all reach the run's end line with the same bytes (icount)."""

from labgrid import Environment

from lab import Qemu, Ser2net, firmware_args
from tickscope_labgrid.capture import read_run

RUNS = 20


def one_run(tmp_path, i):
    q = Qemu(firmware_args(duration="200ms"), serial="pty")
    server = Ser2net(q.pty, tmp_path)
    env = None
    try:
        env_yaml = tmp_path / f"env-{i}.yaml"
        env_yaml.write_text(
            "targets:\n  main:\n    resources:\n      NetworkSerialPort:\n"
            f"        host: 127.0.0.1\n        port: {server.port}\n        speed: 115200\n"
            "        protocol: rfc2217\n    drivers:\n      SerialDriver: {}\n"
        )
        env = Environment(str(env_yaml))
        target = env.get_target("main")
        serial = target.get_driver("SerialDriver")
        target.activate(serial)
        q.cont()
        return read_run(serial, timeout=60)
    finally:
        if env is not None:
            env.cleanup()
        q.stop()
        server.stop()


def test_twenty_rfc2217_runs_through_the_reader_reach_their_end_line(tmp_path):
    results = [one_run(tmp_path, i) for i in range(RUNS)]
    short = [(i, why, len(data)) for i, (data, why) in enumerate(results) if why != "the run's end line"]
    assert not short, f"{len(short)} of {RUNS} runs ended early: {short}"
    first = results[0][0]
    assert b"tickscope: run finished, status 0" in first
    differ = [i for i, (data, _) in enumerate(results) if data != first]
    assert not differ, f"runs {differ} differ from the first ({len(first)} bytes)"
