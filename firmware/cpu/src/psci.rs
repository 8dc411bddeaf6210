//! PSCI through the `smccc` crate: CPU_ON for secondary cores and SYSTEM_OFF to halt a board.
//! The conduit (HVC or SMC) is data from the board description, chosen by the EL we booted at.

use smccc::psci;
use smccc::{Hvc, Smc};
use tickscope_core::board::Conduit;

/// PSCI return codes as numbers (names: `tickscope_core::wire::msg::psci_error_name`).
fn code(e: psci::Error) -> i32 {
    match e {
        psci::Error::NotSupported => -1,
        psci::Error::InvalidParameters => -2,
        psci::Error::Denied => -3,
        psci::Error::AlreadyOn => -4,
        psci::Error::OnPending => -5,
        psci::Error::InternalFailure => -6,
        psci::Error::NotPresent => -7,
        psci::Error::Disabled => -8,
        psci::Error::InvalidAddress => -9,
        psci::Error::Unknown(c) => c as i32,
    }
}

/// Starts the core `mpidr` at `entry` with `context` in x0. Err carries the PSCI return code.
pub fn cpu_on(conduit: Conduit, mpidr: u64, entry: u64, context: u64) -> Result<(), i32> {
    match conduit {
        Conduit::Hvc => psci::cpu_on::<Hvc>(mpidr, entry, context),
        Conduit::Smc => psci::cpu_on::<Smc>(mpidr, entry, context),
    }
    .map_err(code)
}

/// Powers the calling core off (it never returns on success); Err carries the PSCI code.
pub fn cpu_off(conduit: Conduit) -> i32 {
    let r = match conduit {
        Conduit::Hvc => psci::cpu_off::<Hvc>(),
        Conduit::Smc => psci::cpu_off::<Smc>(),
    };
    match r {
        Ok(()) => 0,
        Err(e) => code(e),
    }
}

/// Powers the system off (boards without semihosting end a run this way).
pub fn system_off(conduit: Conduit) {
    let _ = match conduit {
        Conduit::Hvc => psci::system_off::<Hvc>(),
        Conduit::Smc => psci::system_off::<Smc>(),
    };
}
