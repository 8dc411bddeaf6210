//! The board's PL011 UART through the `arm-pl011-uart` crate: text and wire frames share it. The
//! fault path writes the data register directly ([`emergency_write`]) without the driver's lock.

use core::ptr::NonNull;

use arm_pl011_uart::{
    DataBits, LineConfig, PL011Registers, Parity, StopBits, Uart, UniqueMmioPointer,
};
use tickscope_cpu::BOARD;
use tickscope_cpu::lock::Mutex;

struct Port(Option<Uart<'static>>);
// SAFETY: the UART registers are MMIO valid from every core; the mutex serialises all use.
unsafe impl Send for Port {}

static UART: Mutex<Port> = Mutex::new(Port(None));

/// Takes the UART; programs the baud rate only when the board asks (QEMU and most loaders
/// leave it configured).
pub fn init() {
    let mut port = UART.lock();
    if port.0.is_some() {
        return;
    }
    // SAFETY: the board's UART base, mapped as device memory; this is the only driver instance.
    let regs = unsafe {
        UniqueMmioPointer::new(NonNull::new(BOARD.uart_base as *mut PL011Registers).unwrap())
    };
    let mut uart = Uart::new(regs);
    if BOARD.uart_baud != 0 {
        let line = LineConfig {
            data_bits: DataBits::Bits8,
            parity: Parity::None,
            stop_bits: StopBits::One,
        };
        let _ = uart.enable(line, BOARD.uart_baud, BOARD.uart_clock_hz as u32);
    }
    port.0 = Some(uart);
}

/// Writes bytes, waiting while the transmit FIFO is full.
pub fn write(bytes: &[u8]) {
    let mut port = UART.lock();
    let Some(uart) = port.0.as_mut() else { return };
    for &b in bytes {
        while uart.is_tx_fifo_full() {
            core::hint::spin_loop();
        }
        uart.write_word(b);
    }
}

/// Writes bytes with plain register accesses, for the fault path once the other cores are
/// stopped (one of them, or this core, may hold the driver's lock for good). The UART was set up
/// by the loader or by [`init`]; bytes are only appended to its FIFO.
pub fn emergency_write(bytes: &[u8]) {
    // PL011 (Arm DDI 0183): UARTDR at 0x00, UARTFR at 0x18 with TXFF (transmit FIFO full) bit 5.
    const DR: u64 = 0x00;
    const FR: u64 = 0x18;
    const TXFF: u32 = 1 << 5;
    for &b in bytes {
        // SAFETY: UARTFR and UARTDR of the board's UART, mapped as device memory; reading the
        // flags has no side effect and writing DR queues one byte.
        unsafe {
            while core::ptr::read_volatile((BOARD.uart_base + FR) as *const u32) & TXFF != 0 {
                core::hint::spin_loop();
            }
            core::ptr::write_volatile((BOARD.uart_base + DR) as *mut u32, b as u32);
        }
    }
}
