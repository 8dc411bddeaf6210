//! The board's PL011 UART through the `arm-pl011-uart` crate: text and wire frames share it.

use core::ptr::NonNull;

use arm_pl011_uart::{
    DataBits, LineConfig, PL011Registers, Parity, StopBits, Uart, UniqueMmioPointer,
};
use spin::Mutex;

use crate::board::BOARD;

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

/// Reads a byte if one is waiting (for a configuration frame on boards).
#[allow(dead_code)]
pub fn read() -> Option<u8> {
    let mut port = UART.lock();
    port.0.as_mut().and_then(|u| u.read_word().ok().flatten())
}
