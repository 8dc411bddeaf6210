"""A lab on 127.0.0.1 for the tests: the firmware in QEMU with its UART on a TCP server or a pty
(paused until `cont`, so a reader can connect first), labgrid's coordinator and exporters, and
ser2net; every process is ended by its id."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[3]
ELF = ROOT / "target/fw/qemu-virt/aarch64-unknown-none/firmware/tickscope-fw"


def firmware_args(inject="250:10us", duration="1s", extra=""):
    """QEMU's -semihosting-config value for the CI baseline's configuration over the UART, in
    the binary form the firmware reads (`tickscope config` writes it)."""
    settings = (f"mode=noise el=1 smp=4 gic=2 duration={duration} inject={inject} "
                f"icount=on transport=uart {extra}")
    binary = os.environ.get("TICKSCOPE") or shutil.which("tickscope")
    assert binary, "set TICKSCOPE to the tickscope binary"
    return subprocess.run([binary, "config", "--semihosting-config", settings], check=True,
                          capture_output=True, text=True).stdout.strip()


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


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Qemu:
    """The firmware in QEMU (-icount), paused until `cont()`. `serial` is "tcp" (a TCP server on
    `port`, for a NetworkSerialPort or `tickscope capture --serial tcp://`) or "pty" (`pty` is
    its path, for ser2net). Fixed `port` and `monitor` let a lab's exporters and power commands
    name the board across runs."""

    def __init__(self, fw_args, serial="tcp", port=None, monitor=None):
        assert ELF.is_file(), "build the firmware first: tickscope image"
        self.monitor = monitor or free_port()
        self.port = port
        self.relay = None
        if serial == "pty":
            # QEMU's own pty drops what is unread when QEMU exits (the hangup flushes the
            # slave's input), which a busy machine's ser2net can lose: QEMU serves a TCP port
            # and a relay writes it to a pty held open until the reader has had its bytes.
            self.relay = PtyRelay()
            serial, port = "tcp", None
        if serial == "tcp":
            self.port = port or free_port()
            chardev = f"tcp:127.0.0.1:{self.port},server=on,wait=off"
        else:
            chardev = "pty"
        self.proc = subprocess.Popen(
            ["qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a72", "-m", "256M", "-smp", "4",
             "-nodefaults", "-display", "none", "-icount", "shift=0,align=off,sleep=off",
             "-kernel", str(ELF), "-serial", chardev, "-semihosting-config", fw_args,
             "-S", "-monitor", f"tcp:127.0.0.1:{self.monitor},server=on,wait=off"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_port(self.monitor, self.proc, "QEMU's monitor")
        self.pty = None
        if self.relay is not None:
            wait_port(self.port, self.proc, "QEMU's serial port")
            self.relay.start(self.port)
            self.pty = self.relay.path

    def cont(self):
        """Lets the paused guest run (QEMU's human monitor on a TCP port)."""
        cont(self.monitor)

    def wait(self, timeout=60):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop(self.proc)
            return None

    def stop(self):
        stop(self.proc)
        if self.relay is not None:
            self.relay.close()


class PtyRelay:
    """A pty whose master gets what a TCP port sends, held open 0.5 s past the port's end."""

    def __init__(self):
        import os
        import tty

        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.thread = None

    def start(self, port):
        import os
        import threading

        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.settimeout(None)

        def run():
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                view = memoryview(data)
                while view:
                    view = view[os.write(self.master, view):]
            sock.close()
            time.sleep(0.5)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def close(self):
        import os

        if self.thread is not None:
            self.thread.join(timeout=10)
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


def cont(monitor_port):
    with socket.create_connection(("127.0.0.1", monitor_port), timeout=5) as m:
        m.sendall(b"cont\n")
        time.sleep(0.2)


def cont_command(monitor_port):
    """A command line that lets a paused QEMU run (for an ExternalPowerDriver's cmd_on)."""
    return (f"{sys.executable} -c \"import socket,time; s=socket.create_connection("
            f"('127.0.0.1',{monitor_port})); s.sendall(b'cont\\n'); time.sleep(0.2)\"")


def ser2net_binary():
    for p in ("/usr/sbin/ser2net", "/usr/bin/ser2net"):
        if os.path.exists(p):
            return p
    raise RuntimeError("ser2net is missing (the test command installs it as root: apt-get install ser2net)")


class Ser2net:
    """ser2net exporting `device` as RFC 2217 (telnet) on a free port of 127.0.0.1."""

    def __init__(self, device, workdir):
        self.port = free_port()
        cfg = Path(workdir) / f"ser2net-{self.port}.yaml"
        cfg.write_text(
            "connection: &tickscope\n"
            f"  accepter: telnet(rfc2217),tcp,127.0.0.1,{self.port}\n"
            f"  connector: serialdev,{device},115200n81,local\n"
        )
        self.proc = subprocess.Popen(
            [ser2net_binary(), "-n", "-u", "-c", str(cfg), "-P", str(Path(workdir) / f"ser2net-{self.port}.pid")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_port(self.port, self.proc, "ser2net")
        time.sleep(0.2)

    def stop(self):
        stop(self.proc)


class Coordinator:
    """labgrid's coordinator on a free port, and `labgrid-client` against it."""

    def __init__(self, workdir):
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.workdir = workdir
        self.procs = [subprocess.Popen([str(BIN / "labgrid-coordinator"), "-l", self.address],
                                       cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)]
        wait_port(self.port, self.procs[0], "labgrid-coordinator")

    def client(self, place, *args, check=True):
        r = subprocess.run([str(BIN / "labgrid-client"), "-x", self.address, "-p", place, *args],
                           capture_output=True, text=True, timeout=60)
        if check:
            assert r.returncode == 0, f"labgrid-client -p {place} {' '.join(args)}: {r.stdout}{r.stderr}"
        return r

    def exporter(self, name, resources):
        """An exporter `name` of NetworkSerialPorts: {group: (port, protocol)}; waits until the
        coordinator lists each."""
        yaml = Path(self.workdir) / f"exporter-{name}.yaml"
        yaml.write_text("".join(
            f"{group}:\n  NetworkSerialPort:\n    host: 127.0.0.1\n    port: {port}\n"
            f"    speed: 115200\n    protocol: {protocol}\n"
            for group, (port, protocol) in resources.items()))
        proc = subprocess.Popen(
            [str(BIN / "labgrid-exporter"), "-c", self.address, "-n", name, "--hostname", "127.0.0.1", str(yaml)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.procs.append(proc)
        deadline = time.monotonic() + 30
        for group in resources:
            while f"{name}/{group}" not in self.client("any", "resources", check=False).stdout:
                assert time.monotonic() < deadline, f"{name}/{group} never showed up"
                assert proc.poll() is None, proc.stderr.read().decode()
                time.sleep(0.2)

    def place(self, place, match):
        """Creates `place` matching `match` (exporter/group/class), acquires it, and lets this
        process's labgrid session learn of it."""
        self.client(place, "create")
        self.client(place, "add-match", match)
        self.client(place, "acquire")
        labgrid_sync()

    def drop(self, place):
        self.client(place, "release")
        self.client(place, "delete")

    def stop(self):
        for p in reversed(self.procs):
            stop(p)


def labgrid_sync():
    """labgrid connects a process to its coordinator once and learns of places as its event loop
    runs; places made since (by labgrid-client) reach it once it has synced with the coordinator."""
    from labgrid.resource.remote import RemotePlaceManager

    manager = RemotePlaceManager.get()
    if manager.session is not None:
        manager.loop.run_until_complete(manager.session.sync_with_coordinator())
