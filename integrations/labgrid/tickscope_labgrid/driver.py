"""A QEMUDriver for guests that end themselves: tickscope's firmware exits QEMU through
semihosting when its run is done, so by the time labgrid powers the target off there may be no
QEMU left to send `quit` to. This driver reaps an emulator that already exited (keeping its exit
status) instead of failing, and otherwise stops it as QEMUDriver does."""

import attr
from labgrid.driver.qemudriver import QEMUDriver
from labgrid.factory import target_factory
from labgrid.step import step


@target_factory.reg_driver
@attr.s(eq=False)
class TickscopeQEMUDriver(QEMUDriver):
    """QEMUDriver whose guest may exit QEMU by itself (semihosting SYS_EXIT)."""

    def __attrs_post_init__(self):
        super().__attrs_post_init__()
        self.exit_status = None

    def exited(self):
        """Whether the emulator has ended (by the guest's own exit)."""
        return self._child is not None and self._child.poll() is not None

    @step()
    def off(self):
        if not self.status:
            return
        if self.exited():
            self.exit_status = self._child.wait()
            self._child.communicate()
            self._child = None
            self.status = 0
            return
        super().off()
        self.exit_status = 0

    def _read(self, size=1, timeout=10, max_size=None):
        # Once the guest has ended the emulator, its console socket only returns end of file:
        # report that as no data rather than spin on it.
        data = super()._read(size=size, timeout=timeout, max_size=max_size)
        if not data and self.exited():
            raise EOFError("the emulator has exited")
        return data
