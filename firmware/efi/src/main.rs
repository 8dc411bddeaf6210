//! tickscope's UEFI loader: a UEFI application that carries a tickscope firmware image, places it
//! at the board's load address, leaves UEFI and starts it the way the firmware expects to start.
//!
//! UEFI starts applications with the MMU and caches on, at an address of its choosing, at EL2 or
//! EL1. The firmware wants its own address, the MMU off and the image clean to the point of
//! coherency (Linux's arm64 boot protocol). So: allocate the firmware's whole span at its address
//! (a clear error if UEFI owns any of it), copy the image, leave boot services, clean the image
//! and the hand-over code to the point of coherency, then (in `handover`) turn the MMU and caches
//! off at the current EL and jump to the image with that EL intact. The firmware re-initialises
//! everything UEFI left (GIC, timers, vectors, tables).

#![no_std]
#![no_main]

mod cache;
mod handover;

use core::sync::atomic::{AtomicBool, Ordering};

use uefi::boot::{self, AllocateType, MemoryType};
use uefi::mem::memory_map::MemoryMap;
use uefi::prelude::*;
use uefi::println;

mod payload {
    include!(concat!(env!("OUT_DIR"), "/payload.rs"));
}
use payload::{BOARD, IMAGE, LOAD_ADDRESS, SPAN_BYTES};

const PAGE: u64 = 4096;

/// Set once boot services are gone: UEFI's console no longer exists.
static LEFT_UEFI: AtomicBool = AtomicBool::new(false);

#[entry]
fn main() -> Status {
    let el = handover::current_el();
    let end = LOAD_ADDRESS + SPAN_BYTES;
    println!(
        "tickscope-efi: {BOARD} firmware, {} bytes, entered at EL{el}; placing it at {LOAD_ADDRESS:#x} \
         (the firmware uses {LOAD_ADDRESS:#x}..{end:#x})",
        IMAGE.len()
    );
    if let Err(status) = reserve() {
        return status;
    }
    // SAFETY: `reserve` allocated [LOAD_ADDRESS, end) for us; UEFI identity-maps memory, and the
    // image (from this application's read-only data) does not overlap it.
    unsafe {
        core::ptr::copy_nonoverlapping(IMAGE.as_ptr(), LOAD_ADDRESS as *mut u8, IMAGE.len());
    }
    println!("tickscope-efi: leaving UEFI; the firmware's own console follows");
    LEFT_UEFI.store(true, Ordering::SeqCst);
    // SAFETY: nothing of boot services is used after this (no console, no allocator): only
    // memory this application owns, the image and its span.
    let _map = unsafe { boot::exit_boot_services(None) };
    cache::clean_to_poc(LOAD_ADDRESS, IMAGE.len() as u64);
    handover::clean_self();
    // SAFETY: the image sits at its link address and is clean to the point of coherency; its span
    // is ours; its entry is its first byte and expects the MMU off (which `start` does).
    unsafe { handover::start(LOAD_ADDRESS) }
}

/// Allocates the firmware's span at its address. On failure, says which UEFI memory is there.
fn reserve() -> Result<(), Status> {
    let pages = SPAN_BYTES.div_ceil(PAGE) as usize;
    match boot::allocate_pages(
        AllocateType::Address(LOAD_ADDRESS),
        MemoryType::LOADER_DATA,
        pages,
    ) {
        Ok(_) => Ok(()),
        Err(e) => {
            let end = LOAD_ADDRESS + pages as u64 * PAGE;
            println!(
                "tickscope-efi: error: cannot allocate {LOAD_ADDRESS:#x}..{end:#x} for the firmware: {:?}",
                e.status()
            );
            explain_owner(LOAD_ADDRESS, end);
            println!(
                "tickscope-efi: choose a free memory.load_address in boards/{BOARD}.toml and rebuild \
                 (`tickscope image --board {BOARD} --efi`)"
            );
            Err(Status::LOAD_ERROR)
        }
    }
}

/// Prints the UEFI memory-map entries that overlap [start, end) and are not free.
fn explain_owner(start: u64, end: u64) {
    let Ok(map) = boot::memory_map(MemoryType::LOADER_DATA) else {
        println!("tickscope-efi: (the memory map could not be read)");
        return;
    };
    let mut covered = 0u64;
    for d in map.entries() {
        let d_end = d.phys_start + d.page_count * PAGE;
        if d_end <= start || d.phys_start >= end {
            continue;
        }
        covered += d_end.min(end) - d.phys_start.max(start);
        if d.ty != MemoryType::CONVENTIONAL {
            println!(
                "tickscope-efi:   {:#x}..{d_end:#x} is {:?}",
                d.phys_start, d.ty
            );
        }
    }
    if covered < end - start {
        println!(
            "tickscope-efi:   {} bytes of it are not RAM UEFI knows of",
            end - start - covered
        );
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    if !LEFT_UEFI.load(Ordering::SeqCst) {
        println!("tickscope-efi: panic: {info}");
    }
    handover::halt()
}
