//! Exit statuses, an interface like fd's `exit_codes.rs` (listed in the man page).

use std::process::ExitCode;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: every record is a success (HTTP error statuses included).
    Success,
    /// 1: at least one record is a failure.
    SomeFailed,
    /// 2: the run could not go as asked: a usage error (bad flag or value;
    /// nothing fetched), an input file that could not be read (the other
    /// files were still processed), a failed write to stdout, or an internal
    /// failure.
    Error,
    /// 130: interrupted by SIGINT or SIGTERM (128 + SIGINT).
    Interrupted,
    /// 141: stdout's reader went away (128 + SIGPIPE), as the GNU tools end.
    BrokenPipe,
}

impl Exit {
    /// The numeric status.
    pub fn code(self) -> i32 {
        match self {
            Exit::Success => 0,
            Exit::SomeFailed => 1,
            Exit::Error => 2,
            Exit::Interrupted => 130,
            Exit::BrokenPipe => 141,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code() as u8)
    }
}
