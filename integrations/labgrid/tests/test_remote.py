"""labgrid's distributed setup on 127.0.0.1: the coordinator and an exporter (free ports), a place
whose NetworkSerialPort is QEMU's serial line (a TCP server), acquired by a client, captured
through a RemotePlace; the bytes equal a direct capture of the same (icount: deterministic) run;
the place is released and deleted, and every process is ended by its id."""

import os
import socket

from labgrid import Environment

from lab import Qemu, firmware_args
from tickscope_labgrid.capture import read_run


def direct_capture():
    q = Qemu(firmware_args())
    try:
        s = socket.create_connection(("127.0.0.1", q.port), timeout=5)
        q.cont()
        data = bytearray()
        s.settimeout(60)
        while chunk := s.recv(65536):
            data += chunk
        s.close()
        return bytes(data)
    finally:
        q.stop()


def test_capture_through_a_remote_place_equals_a_direct_one(coordinator, tmp_path):
    place = f"tickscope-{os.getpid()}"
    q = Qemu(firmware_args())
    try:
        coordinator.exporter("tickscope-exporter", {"tickscope-qemu": (q.port, "raw")})
        coordinator.place(place, "tickscope-exporter/tickscope-qemu/NetworkSerialPort")
        env_yaml = tmp_path / "env-remote.yaml"
        env_yaml.write_text(
            "targets:\n  main:\n    resources:\n      RemotePlace:\n"
            f"        name: {place}\n    drivers:\n      SerialDriver: {{}}\n"
        )
        env = Environment(str(env_yaml))
        target = env.get_target("main")
        serial = target.get_driver("SerialDriver")
        target.activate(serial)
        q.cont()
        remote, why = read_run(serial, timeout=60)
        target.deactivate(serial)
        env.cleanup()
        assert why == "the run's end line", (why, len(remote), remote[:80], remote[-80:])
        coordinator.drop(place)
        assert place not in coordinator.client(place, "places", check=False).stdout
    finally:
        q.stop()

    direct = direct_capture()
    assert b"tickscope: run finished, status 0" in direct
    assert remote == direct, f"through labgrid {len(remote)} bytes, direct {len(direct)} bytes"
