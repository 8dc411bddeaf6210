//! Embeds the firmware image the host names: `TICKSCOPE_EFI_PAYLOAD` (the raw `.bin`),
//! `TICKSCOPE_EFI_LOAD` (its load address), `TICKSCOPE_EFI_SPAN` (bytes the firmware uses from
//! there: image, BSS, tables, stacks, rings) and `TICKSCOPE_EFI_BOARD` (for messages).
//! `tickscope image --efi` sets them; a plain `cargo build` here stops with that hint.

use std::path::PathBuf;

fn var(name: &str) -> String {
    println!("cargo:rerun-if-env-changed={name}");
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: build the loader with `tickscope image --efi` (it embeds a firmware image)")
    })
}

fn number(name: &str) -> u64 {
    let text = var(name);
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.unwrap_or_else(|_| panic!("{name}={text} is not a number"))
}

fn main() {
    let payload = PathBuf::from(var("TICKSCOPE_EFI_PAYLOAD"));
    println!("cargo:rerun-if-changed={}", payload.display());
    let load = number("TICKSCOPE_EFI_LOAD");
    let span = number("TICKSCOPE_EFI_SPAN");
    let board = var("TICKSCOPE_EFI_BOARD");
    let bytes =
        std::fs::read(&payload).unwrap_or_else(|e| panic!("reading {}: {e}", payload.display()));
    assert!(
        !bytes.is_empty() && bytes.len() as u64 <= span,
        "the payload ({} bytes) must be non-empty and fit in the span ({span} bytes)",
        bytes.len()
    );
    assert!(
        load.is_multiple_of(4096),
        "the load address {load:#x} is not page aligned"
    );
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    std::fs::write(out.join("payload.bin"), &bytes).unwrap();
    std::fs::write(
        out.join("payload.rs"),
        format!(
            "/// Board the image was built for.\npub const BOARD: &str = {board:?};\n\
             /// Where the image must sit (its link address; its first byte is its entry).\n\
             pub const LOAD_ADDRESS: u64 = {load:#x};\n\
             /// Bytes the firmware uses from the load address on.\npub const SPAN_BYTES: u64 = {span:#x};\n\
             /// The raw image.\npub static IMAGE: &[u8] = include_bytes!(\"payload.bin\");\n"
        ),
    )
    .unwrap();
}
