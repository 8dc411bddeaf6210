"""tickscope on labgrid: a QEMU driver that lets the firmware end the emulator itself, a reader
that takes a tickscope run off any labgrid console byte for byte, and the hand-over to
`tickscope import` and `tickscope check`. The pytest plugin (`plugin`) wraps them as fixtures."""

from .capture import RunCapture, Tickscope, read_run
from .driver import TickscopeQEMUDriver

__all__ = ["RunCapture", "Tickscope", "TickscopeQEMUDriver", "read_run"]
