//! The program behind the thin `main`: the runtime, the signals, and the run
//! loop from input files to records on stdout and the summary on stderr.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::cli::{self, Opts};
use crate::config::{CapHeld, CapHook};
use crate::earlier::{read_earlier, send_validators, skip_done, Done, Validators};
use crate::exit::Exit;
use crate::fdlimit;
use crate::fetch::fetch_stream;
use crate::input::read_sources;
use crate::output::{self, Notice, StdoutSink};
use crate::progress::{self, Progress, Terminal};
use crate::result::Summary;
use crate::store::Warc;

/// Signals that arrive within this time of the first are the same
/// interruption: GNU `timeout -s INT` signals the process and then its whole
/// group, and a supervisor may do the same.
const SAME_INTERRUPTION: Duration = Duration::from_millis(500);

/// Said on stderr when the URLs are to be typed at a terminal, so a run
/// without arguments does not seem to hang.
const TERMINAL_HINT: &str =
    "reading URLs from the terminal, one a line (Ctrl-D to end); see --help";

/// Fires `cancel` on the first SIGINT or SIGTERM; a later one (after
/// [`SAME_INTERRUPTION`]) ends the process at once with status 130.
fn watch_signals(cancel: CancellationToken) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = int.recv() => {},
            _ = term.recv() => {},
        }
        let first = tokio::time::Instant::now();
        cancel.cancel();
        loop {
            tokio::select! {
                _ = int.recv() => {},
                _ = term.recv() => {},
            }
            if first.elapsed() >= SAME_INTERRUPTION {
                progress::clear();
                std::process::exit(Exit::Interrupted.code());
            }
        }
    });
    Ok(())
}

/// What the earlier output files of `--resume` and `--if-changed` hold.
struct EarlierRuns {
    /// Lines already done (`--resume` given).
    done: Option<Done>,
    /// Validators to send (`--if-changed` given).
    validators: Option<Validators>,
    /// Stdout appends to one of the files, which ends in a torn line.
    torn_stdout: bool,
}

/// Reads every `--resume` and `--if-changed` file whole, reporting a
/// missing one (read as empty) and unparsable lines as warnings. `None`
/// after reporting a file that cannot be read.
fn read_earlier_runs(opts: &Opts) -> Option<EarlierRuns> {
    use std::os::unix::fs::MetadataExt;
    let stdout = std::fs::metadata("/dev/stdout")
        .ok()
        .map(|m| (m.dev(), m.ino()));
    let mut runs = EarlierRuns {
        done: (!opts.resume.is_empty()).then(|| Done::new(opts.retry_failed)),
        validators: (!opts.if_changed.is_empty()).then(Validators::default),
        torn_stdout: false,
    };
    let resume = opts.resume.iter().map(|p| (p, "--resume"));
    let if_changed = opts.if_changed.iter().map(|p| (p, "--if-changed"));
    // A file named twice for one flag (`a.jsonl ./a.jsonl`, a glob) is read
    // once: read twice, its records would count twice.
    let mut seen = std::collections::HashSet::new();
    for (path, flag) in resume.chain(if_changed) {
        if let Ok(meta) = std::fs::metadata(path) {
            if !seen.insert((flag, meta.dev(), meta.ino())) {
                continue;
            }
        }
        let name = path.display().to_string();
        let read = read_earlier(path, |record| {
            match (&mut runs.done, &mut runs.validators) {
                (Some(done), _) if flag == "--resume" => done.add(&record),
                (_, Some(validators)) => validators.add(&record),
                _ => {}
            }
        });
        match read {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => output::report(
                &Notice::warning(
                    "earlier_missing",
                    &format!("{name} does not exist; nothing is taken from it"),
                )
                .flag(flag)
                .file(&name),
            ),
            Err(e) => {
                output::report(
                    &Notice::error("earlier_unreadable", &format!("{name}: {e}"))
                        .flag(flag)
                        .file(&name),
                );
                return None;
            }
            Ok(found) => {
                if found.unparsable > 0 {
                    output::report(
                        &Notice::warning(
                            "earlier_unparsable",
                            &format!(
                                "{name}: {} line(s) are not records (torn by an interrupted run?) and were passed over",
                                found.unparsable
                            ),
                        )
                        .flag(flag)
                        .file(&name),
                    );
                }
                if Some(found.id) == stdout && !found.ends_in_newline {
                    runs.torn_stdout = true;
                }
                if Some(found.id) == stdout && !stdout_appends() {
                    output::report(
                        &Notice::warning(
                            "earlier_overwritten",
                            &format!(
                                "{name} is standard output, opened to be overwritten (>), not appended to (>>): its earlier records are gone"
                            ),
                        )
                        .flag(flag)
                        .file(&name),
                    );
                }
            }
        }
    }
    Some(runs)
}

/// Whether standard output was opened to append (`>>`, `O_APPEND`).
fn stdout_appends() -> bool {
    // SAFETY: F_GETFL on descriptor 1 reads its status flags; no memory is
    // passed.
    let flags = unsafe { libc::fcntl(libc::STDOUT_FILENO, libc::F_GETFL) };
    flags != -1 && flags & libc::O_APPEND != 0
}

/// Runs the filter: reads the inputs, fetches, writes records and the summary.
///
/// Returns the exit status (see [`Exit`]). A closed stdout ends the process
/// directly with status 141.
///
/// # Errors
/// Setting up the signal handlers failed.
pub async fn run(opts: Opts) -> anyhow::Result<Exit> {
    let started = Instant::now();
    let cancel = CancellationToken::new();
    watch_signals(cancel.clone())?;
    output::watch_stdout_reader();

    let mut config = opts.config(cancel.clone(), crate::http::proxy::env_var);
    // Whole, before any record is written: stdout may append to these files.
    let earlier = {
        let opts = opts.clone();
        tokio::task::spawn_blocking(move || read_earlier_runs(&opts)).await?
    };
    let Some(earlier) = earlier else {
        return Ok(Exit::Error);
    };
    // Where bodies and exchanges go must be writable before any request.
    if let Some(dir) = &config.output_dir {
        if let Err(e) = std::fs::create_dir_all(dir) {
            output::report_error(&format!("--output-dir {}: {e}", dir.display()));
            return Ok(Exit::Error);
        }
    }
    if let Some(path) = &opts.warc {
        match Warc::create(path) {
            Ok(warc) => config.warc = Some(warc),
            Err(e) => {
                output::report_error(&format!("--warc {}: {e}", path.display()));
                return Ok(Exit::Error);
            }
        }
    }
    let warc = config.warc.clone();
    let stats = config.stats.clone();
    let typing = opts.reads_terminal(std::io::stdin().is_terminal());
    let terminal = Terminal {
        stderr_is_terminal: std::io::stderr().is_terminal(),
        stdout_is_terminal: std::io::stdout().is_terminal(),
        dumb: std::env::var_os("TERM").is_some_and(|t| t == "dumb"),
        typing,
    };
    // Before the progress line starts, which it would tear. A person reads
    // a terminal: plain text there, the JSON warning elsewhere.
    if typing && terminal.stderr_is_terminal {
        output::report_error(TERMINAL_HINT);
    } else if typing {
        output::report(&Notice::warning("terminal_input", TERMINAL_HINT));
    }
    let progress = Progress::start(opts.progress.shows(opts.quiet, terminal), stats.clone());
    if let Some(limit) = fdlimit::raise_nofile_limit() {
        let fitted = fdlimit::fit_concurrency(config.max_concurrency, limit);
        if fitted < config.max_concurrency {
            output::report(
                &Notice::warning(
                    "open_file_limit",
                    &format!(
                        "--max-concurrency {} does not fit the open-file limit ({limit}); using {fitted}",
                        config.max_concurrency
                    ),
                )
                .flag("--max-concurrency"),
            );
            config.max_concurrency = fitted;
        }
        config.client.idle_socket_budget =
            Some(fdlimit::idle_budget(config.max_concurrency, limit));
    }
    if let Some(lookahead) = config.lookahead {
        // The window must hold a line for every slot.
        if config.urls_may_wait() && lookahead < config.max_concurrency {
            output::report(
                &Notice::warning(
                    "raised",
                    &format!(
                        "--lookahead {lookahead} is below -c {}; using {}",
                        config.max_concurrency, config.max_concurrency
                    ),
                )
                .flag("--lookahead"),
            );
            config.lookahead = Some(config.max_concurrency);
        }
    }
    if opts.per_host_cap_is_default() {
        config.on_cap_held = Some(CapHook(Arc::new(|held: &CapHeld| {
            output::report(
                &Notice::warning(
                    "per_host_cap",
                    &format!(
                        "host {} is at the default per-host cap of {} while {} of {} slots are free; --max-per-host N raises it, 0 removes it",
                        held.host, held.cap, held.free, held.slots
                    ),
                )
                .flag("--max-per-host"),
            );
        })));
    }
    let input_failed = Arc::new(AtomicBool::new(false));
    let failed = input_failed.clone();
    let lines = read_sources(
        opts.sources(),
        opts.input,
        cancel.clone(),
        Arc::new(move |name: &str, e: &std::io::Error| {
            // An empty name is shown as the shell would write it.
            let shown = if name.is_empty() { "''" } else { name };
            output::report(&Notice::error("input", &format!("{shown}: {e}")).file(name));
            failed.store(true, Ordering::Relaxed);
        }),
    );
    // Sharding comes before anything else that filters lines.
    let other_shard = Arc::new(AtomicU64::new(0));
    let mut lines = match opts.shard {
        Some(shard) => shard
            .filter(lines, opts.default_scheme, other_shard.clone())
            .boxed(),
        None => lines.boxed(),
    };
    let skipped = Arc::new(AtomicU64::new(0));
    if let Some(done) = earlier.done {
        lines = skip_done(lines, done, skipped.clone()).boxed();
    }
    if let Some(validators) = earlier.validators {
        let given = config.headers.iter().map(|(n, _)| n.clone()).collect();
        lines = send_validators(lines, validators, given).boxed();
    }
    if earlier.torn_stdout {
        output::end_torn_line();
    }
    let mut summary = Summary::default();
    let mut out = StdoutSink::start();
    out.write_all(fetch_stream(lines, config), |record| {
        progress.record(record);
        summary.add(record);
    })
    .await;
    out.finish().await;
    let warc_failed = match warc {
        Some(warc) => warc
            .finish()
            .await
            .map_err(|e| {
                output::report(&Notice::error(
                    "warc",
                    &format!("{}: {e}", warc.path().display()),
                ));
            })
            .is_err(),
        None => false,
    };
    progress.finish();
    summary.set_elapsed(started.elapsed());
    summary.connections_opened = stats.connections_opened();
    summary.dns_lookups = stats.dns_lookups();
    summary.interrupted = cancel.is_cancelled();
    summary.skipped = (!opts.resume.is_empty()).then(|| skipped.load(Ordering::Relaxed));
    summary.other_shard = opts.shard.map(|_| other_shard.load(Ordering::Relaxed));
    if !opts.quiet {
        output::write_summary(&summary);
    }
    Ok(if summary.interrupted {
        Exit::Interrupted
    } else if input_failed.load(Ordering::Relaxed) || warc_failed {
        Exit::Error
    } else if summary.failed > 0 {
        Exit::SomeFailed
    } else {
        Exit::Success
    })
}

/// The whole program: parse flags (usage errors exit 2), build the runtime,
/// run, and return the exit status. `main` only calls this.
pub fn main() -> ExitCode {
    let opts = match Opts::try_parse_args(std::env::args_os()) {
        Ok(opts) => opts,
        // One line, with control characters from the offending value escaped
        // (a CR or ESC from `-H` must not reach the terminal raw).
        Err(e) if e.use_stderr() => {
            output::report_error(&cli::usage_message(&e).unwrap_or_default());
            return Exit::Error.into();
        }
        Err(e) => e.exit(),
    };
    if let Some(script) = opts.completions() {
        return match std::io::Write::write_all(&mut std::io::stdout().lock(), &script) {
            Ok(()) => Exit::Success.into(),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Exit::BrokenPipe.into(),
            Err(e) => {
                output::report_error(&format!("writing to stdout: {e}"));
                Exit::Error.into()
            }
        };
    }
    // Too few descriptors for the runtime, the signal pipe and one socket:
    // refuse clearly rather than fail half-way (tokio's signal set-up panics).
    if let Some(limit) = fdlimit::raise_nofile_limit() {
        if limit < fdlimit::MIN_FDS {
            output::report_error(&format!(
                "the open-file limit ({limit}) is too low; at least {} descriptors are needed",
                fdlimit::MIN_FDS
            ));
            return Exit::Error.into();
        }
    }
    // Multi-threaded, one worker per core available to us (at most 4): TLS and
    // parsing can use a second core when there is one, and under `taskset` to
    // one core it is a single worker thread. Stdout is written by its own
    // thread (see `output`), so a slow reader never blocks the workers.
    // Measured against the current-thread scheduler on one core (100,000 URLs,
    // 4 interleaved runs each): 1.10 s vs 1.26 s wall, so it stays.
    // Each name lookup holds a blocking-pool thread for its whole getaddrinfo
    // call, so the pool gets at least one per request in flight: slow DNS
    // must not hold the concurrency below `-c` (see `http::dns::max_blocking_threads`).
    // A body being kept holds one more for each file it streams to
    // (`--output-dir`, `--warc`): a spool waiting for a thread would stall its
    // body, and with it the other spool of that body.
    let spools = usize::from(opts.output_dir.is_some()) + usize::from(opts.warc.is_some());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get().min(4)))
        .max_blocking_threads(crate::http::dns::max_blocking_threads(
            (opts.max_concurrency as usize).saturating_mul(1 + spools),
        ))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            output::report_error(&format!("cannot start the runtime: {e}"));
            return Exit::Error.into();
        }
    };
    // `run` itself is a task on a worker thread, beside the fetch tasks: with
    // one core that is one thread, and a finished fetch wakes its consumer
    // without a cross-thread wake-up (profiled: those wake-ups and context
    // switches were the largest cost per URL when `run` was on the main thread).
    let result = runtime
        .block_on(async { tokio::spawn(run(opts)).await })
        .unwrap_or_else(|e| Err(anyhow::anyhow!("internal error: {e}")));
    // A blocking stdin read may still be pending: do not wait for it.
    runtime.shutdown_background();
    match result {
        Ok(exit) => exit.into(),
        Err(e) => {
            output::report(&Notice::error("internal", &format!("{e:#}")));
            Exit::Error.into()
        }
    }
}
