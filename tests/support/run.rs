//! Running the built binary, as xh does: `CARGO_BIN_EXE_fetcher-stream` in a
//! cleaned environment (only `PATH` kept, so no proxy variable leaks in
//! unless a test sets it), with a time limit after which the test kills it
//! and fails. Every run's stdout and stderr are checked against the JSON
//! Schemas of `schema/` as they are collected (see [`schema::check_output`]).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::record::{by_url, parse, parse_lines, Kind, Record, Summary};
use super::schema;

/// How long a run may take unless the test says otherwise.
const RUN_LIMIT: Duration = Duration::from_secs(30);

/// One run of the binary, being set up.
pub struct Cmd {
    cmd: Command,
    limit: Duration,
    /// Set when the test hands the binary a stdin of its own.
    stdin: Option<Stdio>,
    /// Set when the test hands the binary a stdout of its own.
    stdout: Option<Stdio>,
    /// Set when the test hands the binary a stderr of its own.
    stderr: Option<Stdio>,
}

impl Cmd {
    pub fn new(args: &[&str]) -> Cmd {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fetcher-stream"));
        cmd.env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        cmd.args(args);
        Cmd {
            cmd,
            limit: RUN_LIMIT,
            stdin: None,
            stdout: None,
            stderr: None,
        }
    }

    /// Sets one environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Cmd {
        self.cmd.env(key, value);
        self
    }

    /// Kills the run and fails the test after `limit` (default 30 s).
    pub fn limit(mut self, limit: Duration) -> Cmd {
        self.limit = limit;
        self
    }

    /// Runs the binary under an open-file limit of `n`, soft and hard (so it
    /// cannot be raised).
    pub fn open_file_limit(mut self, n: libc::rlim_t) -> Cmd {
        // SAFETY: setrlimit is async-signal-safe and touches only the child.
        unsafe {
            self.cmd.pre_exec(move || {
                let lim = libc::rlimit {
                    rlim_cur: n,
                    rlim_max: n,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        self
    }

    /// Runs the binary in `dir`.
    pub fn current_dir(mut self, dir: &std::path::Path) -> Cmd {
        self.cmd.current_dir(dir);
        self
    }

    /// Gives the binary this stdin instead of a pipe.
    pub fn stdin(mut self, stdin: Stdio) -> Cmd {
        self.stdin = Some(stdin);
        self
    }

    /// Gives the binary this stdout instead of a pipe (the run's `stdout`
    /// is then empty).
    pub fn stdout(mut self, stdout: Stdio) -> Cmd {
        self.stdout = Some(stdout);
        self
    }

    /// Gives the binary this stderr instead of a pipe (the run's `stderr`
    /// is then empty).
    pub fn stderr(mut self, stderr: Stdio) -> Cmd {
        self.stderr = Some(stderr);
        self
    }

    /// Writes `stdin` to the binary, closes it, and waits for the run.
    pub fn run(self, stdin: impl Into<Vec<u8>>) -> Run {
        self.output(stdin).parse()
    }

    /// As [`Cmd::run`], without parsing stdout.
    pub fn output(self, stdin: impl Into<Vec<u8>>) -> Output {
        self.start().finish_with(Some(stdin.into()))
    }

    /// Starts the binary with stdin, stdout and stderr piped, unless set with
    /// [`Cmd::stdin`], [`Cmd::stdout`], [`Cmd::stderr`].
    pub fn start(mut self) -> Running {
        let stdin = self.stdin.take().unwrap_or_else(Stdio::piped);
        let stdout = self.stdout.take().unwrap_or_else(Stdio::piped);
        let stderr = self.stderr.take().unwrap_or_else(Stdio::piped);
        let child = self
            .cmd
            .stdin(stdin)
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("spawn fetcher-stream");
        Running {
            child,
            limit: self.limit,
            started: Instant::now(),
        }
    }
}

/// Runs the binary with `args`, writes `stdin` and closes it, and waits.
pub fn run(args: &[&str], stdin: impl Into<Vec<u8>>) -> Run {
    Cmd::new(args).run(stdin)
}

/// `urls`, one a line.
pub fn lines<S: AsRef<str>>(urls: &[S]) -> String {
    urls.iter().map(|u| format!("{}\n", u.as_ref())).collect()
}

/// A started run of the binary.
pub struct Running {
    pub child: Child,
    limit: Duration,
    started: Instant,
}

impl Running {
    /// Sends `signal` to the process.
    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) on our own, still unreaped child.
        assert_eq!(
            unsafe { libc::kill(self.child.id() as libc::pid_t, signal) },
            0
        );
    }

    /// Collects the output (stdout and stderr, unless the test took them)
    /// and waits for the exit; stdin stays as the test left it.
    pub fn finish(self) -> Output {
        self.finish_with(None)
    }

    /// Feeds `stdin` (if any; the pipe is then closed), collects the output
    /// and waits for the exit, killing the process after the limit.
    fn finish_with(mut self, stdin: Option<Vec<u8>>) -> Output {
        if let Some(input) = stdin {
            let mut pipe = self.child.stdin.take().expect("stdin piped");
            // A usage error exits without reading: ignore the broken pipe.
            std::thread::spawn(move || {
                let _ = pipe.write_all(&input);
            });
        }
        let read_all = |pipe: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut s = Vec::new();
                if let Some(mut p) = pipe {
                    let _ = p.read_to_end(&mut s);
                }
                String::from_utf8(s).expect("output is UTF-8")
            })
        };
        let out = read_all(self.child.stdout.take().map(|p| Box::new(p) as _));
        let err = read_all(self.child.stderr.take().map(|p| Box::new(p) as _));
        let status = self.wait();
        let output = Output {
            status,
            stdout: out.join().unwrap(),
            stderr: err.join().unwrap(),
            elapsed: self.started.elapsed(),
        };
        schema::check_output(&output.stdout, &output.stderr);
        output
    }

    /// Waits for the exit as [`Running::wait`] does, and also returns the
    /// process's peak resident set size in KiB (`ru_maxrss` of wait4(2)).
    /// Stdout and stderr must not be pipes the test leaves unread.
    pub fn wait_peak_rss(&mut self) -> (ExitStatus, u64) {
        use std::os::unix::process::ExitStatusExt;
        let deadline = self.started + self.limit;
        let pid = self.child.id() as libc::pid_t;
        loop {
            let mut status = 0;
            // SAFETY: wait4(2) on our own child, into locals.
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            let done = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
            assert!(done >= 0, "wait4: {}", std::io::Error::last_os_error());
            if done == pid {
                return (ExitStatus::from_raw(status), usage.ru_maxrss as u64);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("fetcher-stream did not exit within {:?}", self.limit);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for the exit; kills the process and panics after the limit.
    pub fn wait(&mut self) -> ExitStatus {
        let deadline = self.started + self.limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("fetcher-stream did not exit within {:?}", self.limit);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A finished run, its stdout as text.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// Wall-clock time from spawn to exit.
    pub elapsed: Duration,
}

impl Output {
    /// The run with stdout parsed into records.
    pub fn parse(self) -> Run {
        Run {
            records: parse_lines(&self.stdout),
            status: self.status,
            stdout: self.stdout,
            stderr: self.stderr,
            elapsed: self.elapsed,
        }
    }
}

/// A finished run of the binary.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    /// stdout, one record per line, in output order.
    pub records: Vec<Record>,
    /// stdout as written.
    pub stdout: String,
    pub stderr: String,
    /// Wall-clock time from spawn to exit.
    pub elapsed: Duration,
}

impl Run {
    /// The exit code (panics if the process was killed by a signal).
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| panic!("killed by a signal: {:?}", self.status))
    }

    /// The records sorted by `url` (completion order is not input order).
    pub fn sorted(&self) -> Vec<Record> {
        by_url(self.records.clone())
    }

    /// The records' URLs, in output order.
    pub fn urls(&self) -> Vec<&str> {
        self.records.iter().map(|r| r.url.as_str()).collect()
    }

    /// The last stderr line, parsed; asserts it is a summary.
    pub fn summary(&self) -> Summary {
        let last = self
            .stderr
            .lines()
            .last()
            .unwrap_or_else(|| panic!("no summary on stderr"));
        let s: Summary = parse(last);
        assert_eq!(s.kind, "summary", "{last}");
        s
    }

    /// The stderr lines before the summary (warnings and errors), each
    /// parsed as a JSON object; panics on a line that is not one.
    pub fn notices(&self) -> Vec<serde_json::Value> {
        let lines: Vec<&str> = self.stderr.lines().collect();
        let before = lines.split_last().map_or(&[][..], |(_, rest)| rest);
        before
            .iter()
            .map(|l| match serde_json::from_str::<serde_json::Value>(l) {
                Ok(v) if v.is_object() => v,
                _ => panic!("stderr line is not a JSON object: {l}\n{}", self.stderr),
            })
            .collect()
    }

    /// Asserts that every record is a success, naming the first that is not.
    pub fn assert_all_succeeded(&self) {
        let failures: Vec<&Record> = self.records.iter().filter(|r| !r.is_success()).collect();
        assert!(
            failures.is_empty(),
            "{} failures, first {:?}\n{}",
            failures.len(),
            failures.first(),
            self.stderr
        );
    }

    /// Asserts the summary's counts equal the records' (totals, statuses,
    /// error kinds, bytes, retries) and returns it.
    pub fn checked_summary(&self) -> Summary {
        let s = self.summary();
        let ok = self
            .records
            .iter()
            .filter(|r| r.kind == Kind::Success)
            .count() as u64;
        let kind = |r: &Record| r.error_kind.clone().unwrap_or_default();
        let cancelled = self
            .records
            .iter()
            .filter(|r| kind(r) == "cancelled")
            .count() as u64;
        let total = self.records.len() as u64;
        assert_eq!(s.total, total, "{s:?}");
        assert_eq!(s.succeeded, ok, "{s:?}");
        assert_eq!(s.cancelled, cancelled, "{s:?}");
        assert_eq!(s.failed, total - ok - cancelled, "{s:?}");
        assert!(s.elapsed_ms >= 0.0, "{s:?}");
        let mut statuses = BTreeMap::new();
        let mut kinds = BTreeMap::new();
        for r in &self.records {
            if let Some(status) = r.status {
                *statuses.entry(status.to_string()).or_default() += 1;
            }
            if !r.is_success() {
                *kinds.entry(kind(r)).or_default() += 1;
            }
        }
        assert_eq!(s.status_counts, statuses, "{s:?}");
        assert_eq!(s.error_kinds, kinds, "{s:?}");
        let bytes: u64 = self.records.iter().filter_map(|r| r.size).sum();
        assert_eq!(s.bytes, bytes, "{s:?}");
        let retries: u64 = self
            .records
            .iter()
            .map(|r| u64::from(r.attempts.unwrap_or(1) - 1))
            .sum();
        assert_eq!(s.retries, retries, "{s:?}");
        if let Some(p) = s.record_elapsed_ms {
            let slowest = self
                .records
                .iter()
                .map(|r| r.elapsed_ms)
                .fold(0.0, f64::max);
            // Within the histogram's 0.1 % and the rounding to 0.1 ms.
            p.check(slowest * 1.001 + 0.1);
        }
        let ttfbs: Vec<f64> = self.records.iter().filter_map(|r| r.ttfb_ms).collect();
        match s.ttfb_ms {
            Some(p) => {
                let slowest = ttfbs.iter().copied().fold(0.0, f64::max);
                assert!((p.max - slowest).abs() <= 0.1, "{s:?}");
                p.check(slowest * 1.001 + 0.1);
            }
            None => assert!(ttfbs.is_empty(), "no ttfb_ms in {s:?}"),
        }
        s
    }
}
