"""labgrid's distributed setup on 127.0.0.1: a coordinator and an exporter (free ports), a place
whose NetworkSerialPort is QEMU's serial line (a TCP server), acquired by a client, captured
through a RemotePlace; the bytes equal a direct capture of the same (icount: deterministic) run;
the place is released and deleted, and every process is ended by its id."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from labgrid import Environment

from tickscope_labgrid.capture import read_run

BIN = Path(sys.executable).parent
FIRMWARE_ARGS = (
    "enable=on,target=native,arg=tickscope,arg=mode=noise,arg=el=1,arg=smp=4,arg=gic=2,"
    "arg=duration=1s,arg=inject=250:10us,arg=icount=on,arg=transport=uart"
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} does not listen on {port}")


def qemu(elf, port, monitor=None):
    """QEMU whose serial line is a TCP server. Without `monitor` the guest runs once a client
    connects; with it the guest waits paused for `cont` on that monitor port (the exporter and
    the client may look at the serial port before the capture connects)."""
    serial = f"tcp:127.0.0.1:{port},server=on,wait={'off' if monitor else 'on'}"
    extra = ["-S", "-monitor", f"tcp:127.0.0.1:{monitor},server=on,wait=off"] if monitor else []
    return subprocess.Popen(
        ["qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a72", "-m", "256M", "-smp", "4",
         "-nodefaults", "-display", "none", "-icount", "shift=0,align=off,sleep=off",
         "-kernel", str(elf), "-serial", serial, "-semihosting-config", FIRMWARE_ARGS, *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def cont(monitor_port):
    """Lets a paused QEMU run (its human monitor on a TCP port)."""
    with socket.create_connection(("127.0.0.1", monitor_port), timeout=5) as m:
        m.sendall(b"cont\n")
        time.sleep(0.2)


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def direct_capture(elf):
    port = free_port()
    q = qemu(elf, port)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or q.poll() is not None:
                    raise
                time.sleep(0.1)
        data = bytearray()
        s.settimeout(60)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        return bytes(data)
    finally:
        stop(q)


def test_capture_through_a_remote_place_equals_a_direct_one(repo_root, tmp_path):
    elf = repo_root / "target/fw/qemu-virt/aarch64-unknown-none/firmware/tickscope-fw"
    assert elf.is_file(), "build the firmware first: tickscope image"
    cport, sport, mport = free_port(), free_port(), free_port()
    coordinator = f"127.0.0.1:{cport}"
    procs = []
    place = f"tickscope-{os.getpid()}"

    def client(*args, check=True):
        r = subprocess.run([str(BIN / "labgrid-client"), "-x", coordinator, "-p", place, *args],
                           capture_output=True, text=True, timeout=60)
        if check:
            assert r.returncode == 0, f"labgrid-client {' '.join(args)}: {r.stdout}{r.stderr}"
        return r

    try:
        procs.append(subprocess.Popen([str(BIN / "labgrid-coordinator"), "-l", coordinator],
                                      cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        wait_port(cport, procs[-1], "labgrid-coordinator")
        procs.append(qemu(elf, sport, monitor=mport))
        wait_port(mport, procs[-1], "QEMU's monitor")
        exporter_yaml = tmp_path / "exporter.yaml"
        exporter_yaml.write_text(
            "tickscope-qemu:\n  NetworkSerialPort:\n"
            f"    host: 127.0.0.1\n    port: {sport}\n    speed: 115200\n    protocol: raw\n"
        )
        procs.append(subprocess.Popen(
            [str(BIN / "labgrid-exporter"), "-c", coordinator, "-n", "tickscope-exporter",
             "--hostname", "127.0.0.1", str(exporter_yaml)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        # The exporter announces the port to the coordinator.
        deadline = time.monotonic() + 30
        while "tickscope-qemu" not in client("resources", check=False).stdout:
            assert time.monotonic() < deadline, "the exporter's resource never showed up"
            assert procs[-1].poll() is None, procs[-1].stderr.read().decode()
            time.sleep(0.2)
        client("create")
        client("add-match", "tickscope-exporter/tickscope-qemu/NetworkSerialPort")
        client("acquire")

        env_yaml = tmp_path / "env-remote.yaml"
        env_yaml.write_text(
            "targets:\n  main:\n    resources:\n      RemotePlace:\n"
            f"        name: {place}\n    drivers:\n      SerialDriver: {{}}\n"
        )
        os.environ["LG_COORDINATOR"] = coordinator
        env = Environment(str(env_yaml))
        target = env.get_target("main")
        serial = target.get_driver("SerialDriver")
        target.activate(serial)
        cont(mport)
        remote, why = read_run(serial, timeout=60)
        target.deactivate(serial)
        env.cleanup()
        assert why == "the run's end line", (why, len(remote), remote[:80], remote[-80:])

        client("release")
        client("delete")
        assert place not in client("places", check=False).stdout
    finally:
        for p in reversed(procs):
            stop(p)

    direct = direct_capture(elf)
    assert b"tickscope: run finished, status 0" in direct
    assert remote == direct, f"through labgrid {len(remote)} bytes, direct {len(direct)} bytes"
