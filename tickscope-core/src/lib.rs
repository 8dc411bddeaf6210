//! tickscope-core: the single definition of everything the firmware, the Linux probe and the host
//! must agree on — run configuration, measurement statistics, the lock-free ring and the wire format.
//!
//! `no_std` and allocation-free by default so the firmware can use it; the `std` feature adds
//! host-only helpers (board-description parsing). Everything here is unit-tested on the host.
#![cfg_attr(not(any(feature = "std", test)), no_std)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod board;
pub mod checked;
pub mod config;
pub mod config_bytes;
pub mod exception;
pub mod exit;
pub mod hist;
pub mod irq;
pub mod layout;
#[cfg(feature = "std")]
pub mod pagetable;
pub mod probe;
pub mod refusal;
pub mod ring;
pub mod stats;
pub mod text;
pub mod units;
pub mod wire;

pub use config::{Config, Mode};
pub use hist::Histogram;
pub use wire::msg::Message;
