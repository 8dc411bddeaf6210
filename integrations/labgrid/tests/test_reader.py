"""The reader's own logic, without a lab: a console that ends (pyserial's RFC 2217 port whose
reader thread died) keeps the bytes pyserial had queued; labgrid failing is an error with the
bytes read so far, never a short run; reads from several threads take turns."""

import queue
import threading

import pytest
from serial import SerialException

from tickscope_labgrid.capture import END, ConsoleError, read_run


class FakeSerial:
    """pyserial's RFC 2217 port as far as the reader sees it: a queue of received chunks."""

    def __init__(self, chunks):
        self._read_buffer = queue.Queue()
        for c in chunks:
            self._read_buffer.put(c)
        self._read_buffer.put(None)


class EndedConsole:
    """Delivers `first`, then raises what pyserial raises once its reader thread has ended,
    although `rest` is still queued."""

    def __init__(self, first, rest, error):
        self.first = first
        self.serial = FakeSerial(rest)
        self.error = error

    def read(self, size=1, timeout=0.0, max_size=None):
        if self.first:
            data, self.first = self.first, b""
            return data
        raise self.error


def test_bytes_queued_when_the_port_ended_are_kept():
    tail = END + b"0 (ok)\n"
    con = EndedConsole(b"frames...", [b"more ", tail], SerialException("connection failed (reader thread died)"))
    data, why = read_run(con, timeout=5)
    assert why == "the run's end line", why
    assert data == b"frames...more " + tail


def test_a_labgrid_failure_is_an_error_not_a_short_run():
    con = EndedConsole(b"half a run", [], AssertionError("step stack"))
    with pytest.raises(ConsoleError) as e:
        read_run(con, timeout=5)
    assert e.value.data == b"half a run"
    assert "AssertionError" in str(e.value)


def test_reads_from_several_threads_never_overlap():
    inside = threading.Lock()
    overlaps = []

    class Console:
        def __init__(self, tag):
            self.chunks = [tag * 10 for _ in range(20)] + [END + b"0 (ok)\n"]

        def read(self, size=1, timeout=0.0, max_size=None):
            if not inside.acquire(blocking=False):
                overlaps.append(1)
                return b""
            try:
                if self.chunks:
                    return self.chunks.pop(0)
                raise EOFError("ended")
            finally:
                inside.release()

    results = {}

    def run(tag):
        results[tag] = read_run(Console(tag), timeout=10, settle=0.05)

    threads = [threading.Thread(target=run, args=(t,)) for t in (b"a", b"b", b"c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not overlaps
    for tag, (data, why) in results.items():
        assert why == "the run's end line" and data.startswith(tag * 10), (tag, why, data[:20])
