//! The `fetcher-stream` binary: everything lives in the library (`cli::main`).

fn main() -> std::process::ExitCode {
    fetcher_stream::cli::main()
}
