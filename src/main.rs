//! The `fetcher-stream` binary: everything lives in the library (`app::main`).

/// mimalloc instead of the system allocator: each URL allocates a few dozen
/// small objects (URL strings, request and response parts, the task), and
/// glibc's malloc spent about 5 % of the CPU per URL in the W1 benchmark
/// profile (`bench/RESULTS.md`). Set for the binary only; library users keep
/// their own allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    fetcher_stream::run_main()
}
