//! `tickscope`: the command line of the tickscope library (see `lib.rs`). All the work is in the
//! library; this binary only parses and dispatches.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    tickscope::cli::main()
}
