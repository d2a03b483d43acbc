//! The command line: the flags (clap derive; each field's doc comment is its
//! help), their parsers, and [`Opts::config`], the one mapping from flags to
//! [`Config`]. Running them is `app.rs`'s work.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use http::header::{HeaderName, HeaderValue};
use http::Method;
use rustls::pki_types::CertificateDer;
use tokio_util::sync::CancellationToken;

use crate::config::{BodyHash, Config, Credentials, HostCap, Rate, StatusSet};
use crate::http::proxy::{NoProxy, Proxies, ProxyUrl};
use crate::http::{load_pem_certs, ClientOptions, HttpVersions, ResolveOverride};
use crate::input::{Input, InputFormat};
use crate::progress::When;
use crate::shard::Shard;
use crate::target::DefaultScheme;

/// Fetch many URLs concurrently; print one JSON line per URL as each completes.
///
/// Reads URLs, one a line, from the FILEs in order, or from standard input when
/// no FILE is given or FILE is `-`; an argument starting with http:// or
/// https:// (or a --url value) is a URL in itself. Blank lines and lines
/// starting with `#` are skipped; every other line gives exactly one record on
/// stdout. A line without
/// `scheme://` is taken as `host[:port][/path]` and fetched as https:// + line.
/// A summary record goes to stderr last.
///
/// Exit status: 0 every record is a success, 1 at least one failure, 2 usage
/// error or unreadable input file, 130 interrupted, 141 stdout closed.
///
/// Example: fetcher-stream https://example.com/ prints that URL's record;
/// fetcher-stream --accept 200..=299 -q < links.txt checks a list of links.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "fetcher-stream",
    version,
    max_term_width = 100,
    args_override_self = true
)]
pub struct Opts {
    /// URLs to fetch and files of URLs, read in the order given.
    ///
    /// An argument that starts with http:// or https:// is a URL, taken as
    /// one input line; any other is a file of URLs, one a line (write ./NAME
    /// for a file whose name starts like a URL), and `-` is standard input.
    /// Standard input is read when there is no argument and no --url, or
    /// where `-` is given: URL arguments alone do not read it, as with curl.
    // Parsed as OsString so that an empty name reaches `open` and is reported
    // like any unreadable file (as `cat ''` does), not as a usage error.
    #[arg(value_name = "URL|FILE", value_parser = clap::value_parser!(std::ffi::OsString))]
    pub inputs: Vec<std::ffi::OsString>,

    /// A URL to fetch, taken as one input line (repeatable).
    ///
    /// As curl's --url: the value is always a URL, never a file name, so it
    /// may lack a scheme (example.com). The --url values come first in input
    /// order, before the URL|FILE arguments.
    #[arg(long = "url", value_name = "URL", value_parser = parse_url_value)]
    pub urls: Vec<String>,

    /// Most requests in flight at once.
    ///
    /// Lowered, with an `open_file_limit` warning, when the open-file limit
    /// cannot hold that many connections. Requests to one host are also
    /// capped by --max-per-host (10 unless given).
    #[arg(
        short = 'c',
        long,
        value_name = "N",
        default_value_t = 50,
        allow_negative_numbers = true,
        value_parser = count(1)
    )]
    pub max_concurrency: u32,

    /// Deadline per URL, in seconds (fractions allowed); -m is the same.
    ///
    /// Covers DNS, connect, TLS, the request, the response headers, every
    /// redirect hop and the whole body. Expiry gives a `timeout` failure. With
    /// --retries, each attempt has its own deadline. -m is curl's short name
    /// for it (--max-time).
    #[arg(
        short = 't',
        visible_short_alias = 'm',
        long,
        value_name = "SECONDS",
        default_value = "5",
        allow_hyphen_values = true,
        value_parser = parse_timeout
    )]
    pub timeout: Duration,

    /// Most redirects to follow per URL; 0 returns the 3xx response itself.
    ///
    /// Follows 301, 302, 303, 307 and 308 with a Location field. Going past the
    /// limit (a loop, too) gives a `too_many_redirects` failure.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 10,
        allow_negative_numbers = true,
        value_parser = count(0)
    )]
    pub max_redirects: u32,

    /// Accepted for curl's habit; redirects are followed without it.
    ///
    /// Has no effect: up to --max-redirects redirects are followed in any
    /// case (--max-redirects 0 for none).
    #[arg(short = 'L', long)]
    pub location: bool,

    /// Final statuses that count as a success, as 200..=299,403.
    ///
    /// A comma-separated list, in lychee's syntax, of statuses (N) and ranges:
    /// A..=B, A..B (B excluded), A.. (to 999), ..=B and ..B (from 100);
    /// statuses run from 100 to 999. A response whose final status (after
    /// redirects; with --retries, the last attempt's) is not in the list
    /// gives a `status` failure that keeps `status`, so the exit status is
    /// 1. Without --accept every status is a success, 404 and 500 included.
    #[arg(long, value_name = "STATUSES", allow_hyphen_values = true, value_parser = parse_accept)]
    pub accept: Option<StatusSet>,

    /// Print records in input order instead of completion order.
    ///
    /// At most N requests are still in flight, but a finished record waits
    /// for every record before it, holding a place in the window of lines
    /// read (--lookahead lines, or N with --max-per-host 0 and without
    /// --rate-per-host, --rate and --retries), so a slow URL holds back the
    /// records after it and can leave slots idle.
    #[arg(long)]
    pub keep_order: bool,

    /// Request method, sent as given (case kept) [default: GET, or POST with -d].
    ///
    /// Any RFC 9110 method token (GET, HEAD, POST, PUT, DELETE, PATCH, …), as
    /// curl's -X/--request. HEAD gives size 0. Only idempotent methods (GET,
    /// HEAD, PUT, DELETE, OPTIONS, TRACE) are sent again after a kept-alive
    /// connection turns out closed.
    #[arg(short = 'X', long, visible_alias = "request", value_name = "METHOD", value_parser = parse_method)]
    pub method: Option<Method>,

    /// Send HEAD instead of GET for every URL (as curl's -I).
    ///
    /// The record's size is then 0. Cannot be used with -X, -d or
    /// --data-binary.
    #[arg(short = 'I', long, conflicts_with_all = ["method", "data", "data_binary"])]
    pub head: bool,

    /// Send these credentials (Basic, RFC 7617) to each input URL's origin.
    ///
    /// As curl's -u, USER:PASSWORD split at the first colon; there is no
    /// password prompt, so the colon is required. Sent to the input URL's
    /// scheme, host and port, redirect hops to it included, never to another
    /// origin. Credentials in a URL (https://user:pass@host/) win for that URL
    /// (with curl, -u wins), and so does an Authorization field given with -H
    /// or a --input jsonl spec. The value never appears in records or messages.
    #[arg(short = 'u', long, value_name = "USER:PASSWORD", value_parser = parse_user)]
    pub user: Option<Credentials>,

    /// Extra request header field, as 'Name: value' (repeatable).
    ///
    /// Replaces a default field of the same name (User-Agent, Accept); an
    /// empty value ('Accept:') sends no such field at all, as curl does.
    /// Authorization, Cookie and Proxy-Authorization are not sent to another
    /// origin after a redirect. A value containing CR or LF is rejected, and so
    /// are Content-Length and Transfer-Encoding (the client sets framing).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE", value_parser = parse_header)]
    pub headers: Vec<(HeaderName, HeaderValue)>,

    /// User-Agent field to send [default: fetcher-stream/VERSION].
    #[arg(short = 'A', long, value_name = "STRING", value_parser = parse_user_agent)]
    pub user_agent: Option<String>,

    /// Request body for every URL: a string, or @FILE (repeatable).
    ///
    /// As curl's -d: without -X the method is POST; Content-Type is
    /// application/x-www-form-urlencoded unless -H gives one; Content-Length
    /// is set. @FILE is read once at start (CR and LF removed); a missing file
    /// is a usage error. Several -d are joined with '&'. A 303 redirect (and
    /// 301/302 after POST) switches to GET without the body; 307/308 resend it.
    #[arg(short = 'd', long = "data", value_name = "STRING|@FILE", value_parser = parse_data)]
    pub data: Vec<Data>,

    /// Like -d, but @FILE is sent exactly as it is (repeatable).
    ///
    /// As curl's --data-binary: no CR or LF is removed. Mixed with -d, the
    /// parts are joined with '&' in command-line order.
    #[arg(long, value_name = "STRING|@FILE", value_parser = parse_data_binary)]
    pub data_binary: Vec<Data>,

    /// Use HTTP/1.1 only (https offers only http/1.1 by ALPN).
    #[arg(long = "http1.1", conflicts_with = "http2_prior_knowledge")]
    pub http1_1: bool,

    /// Use HTTP/2 without upgrade: h2c on http://, ALPN h2 only on https://.
    ///
    /// As curl's option: the client starts with the HTTP/2 connection preface
    /// (RFC 9113 sec. 3.3), so the server must speak HTTP/2; one that does not
    /// gives a failure.
    #[arg(long)]
    pub http2_prior_knowledge: bool,

    /// Most seconds to establish a connection (fractions allowed).
    ///
    /// Covers name resolution, the TCP connect and the TLS handshake of each
    /// new connection, as curl's --connect-timeout. Expiry gives a `connect`
    /// failure. The --timeout deadline still covers the whole URL.
    #[arg(long, value_name = "SECONDS", allow_hyphen_values = true, value_parser = parse_timeout)]
    pub connect_timeout: Option<Duration>,

    /// Format of input lines: `text` (one URL a line) or `jsonl`.
    ///
    /// With jsonl each non-blank line is a JSON object {"url": …, "method": …,
    /// "headers": {…}, "body": "…"}; every other key is copied into that
    /// line's record. A line that is not such an object gives one
    /// `invalid_input` failure with its line number in `line`.
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = InputFormat::Text)]
    pub input: InputFormat,

    /// Ask for a compressed response and decode it (gzip, br, zstd, deflate).
    ///
    /// Sends Accept-Encoding: gzip, br, zstd, deflate. A record's size is then
    /// the decoded length and wire_size the length received. A body with an
    /// unknown coding or several codings (gzip, gzip) is not decoded (size is
    /// then the length received); one that does not decode gives a `protocol`
    /// failure.
    #[arg(long)]
    pub compressed: bool,

    /// Most body bytes per response; K, M, G suffixes are powers of 1024.
    ///
    /// Reading stops once the body (decoded, with --compressed) passes the
    /// limit, with a `body_too_large` failure; when the body is not decoded, a
    /// Content-Length above it fails before reading. The guard against
    /// decompression bombs.
    #[arg(long, value_name = "BYTES", allow_hyphen_values = true, value_parser = parse_size)]
    pub max_size: Option<u64>,

    /// Scheme for lines that have none (`host[:port][/path]`).
    #[arg(long, value_name = "SCHEME", value_enum, default_value_t = DefaultScheme::Https)]
    pub default_scheme: DefaultScheme,

    /// Fetch only the lines of shard K of N, by host: `--shard 2/3`.
    ///
    /// For one list read by N machines (or jobs), each given its own K:
    /// every host is fetched by exactly one of them, so per-host caps and
    /// rates hold over the whole fleet. A line's shard is 1 + h mod N, where
    /// h is the first 8 bytes, big-endian, of the SHA-256 of its host key
    /// scheme://host:port (lower case, IDNA, the default port written:
    /// https://example.com:443 is shard 1 of 3). Lines that cannot be fetched
    /// belong to shard 1; with --input jsonl the spec's url decides. Lines
    /// of other shards give no record; the summary counts them in
    /// other_shard. 1 <= K <= N.
    #[arg(long, value_name = "K/N", allow_hyphen_values = true, value_parser = parse_shard)]
    pub shard: Option<Shard>,

    /// Trust the CA certificates in this PEM file too (repeatable).
    ///
    /// Added to the built-in Mozilla roots, as curl's --cacert is used for
    /// private or test CAs. A certificate in the file that is exactly the
    /// server's own (a self-signed one, as `openssl req -x509` makes) is
    /// trusted for that server, as with curl; its names and dates are still
    /// checked. A file that cannot be read is a usage error.
    #[arg(long, value_name = "FILE", value_parser = parse_cacert)]
    pub cacert: Vec<CaBundle>,

    /// Do not verify server certificates. DANGEROUS.
    ///
    /// Anyone between you and the server can then read and change the traffic.
    /// For testing only, like curl's --insecure.
    #[arg(short = 'k', long)]
    pub insecure: bool,

    /// Connect to ADDR for HOST:PORT, with no DNS lookup (repeatable).
    ///
    /// As curl's --resolve: the URL, Host field and TLS server name keep HOST.
    /// ADDR is an IPv4 or IPv6 address (brackets optional).
    #[arg(long, value_name = "HOST:PORT:ADDR")]
    pub resolve: Vec<ResolveOverride>,

    /// Use this proxy for every URL: `[SCHEME://][USER[:PASSWORD]@]HOST[:PORT]`.
    ///
    /// As curl's -x/--proxy. SCHEME is http (the default; CONNECT tunnels for
    /// https URLs), socks5 (targets resolved here) or socks5h (the proxy
    /// resolves them); PORT defaults to 1080. USER and PASSWORD
    /// (percent-encoded) are the proxy credentials. Overrides http_proxy,
    /// https_proxy and all_proxy; no_proxy and --noproxy still apply. An empty
    /// URL ('') turns every proxy off, those of the environment too.
    #[arg(short = 'x', long, value_name = "URL", value_parser = parse_proxy)]
    pub proxy: Option<ProxyChoice>,

    /// Reach these hosts without a proxy (comma-separated LIST).
    ///
    /// Replaces no_proxy/NO_PROXY. A name matches itself and its subdomains (a
    /// leading dot is optional), an IP address or CIDR range (10.0.0.0/8)
    /// matches addresses, and '*' alone matches every host. An empty LIST ('')
    /// sends every host through the proxy.
    #[arg(long, value_name = "LIST", value_parser = parse_noproxy)]
    pub noproxy: Option<NoProxy>,

    /// Most requests in flight to one host (scheme + host + port); 0 for no cap,
    /// auto to adapt.
    ///
    /// The host is the input URL's (redirect hops to other hosts are not
    /// counted against theirs). -c stays the global cap. A URL whose host is
    /// at its cap waits in the look-ahead window (--lookahead) without taking
    /// a global slot, so URLs of other hosts further on use the free slots.
    /// When the default cap is what holds a run back (a host at its cap while
    /// global slots are free), a `per_host_cap` warning says so, once. With
    /// 0 and without --rate-per-host, --rate and --retries, URLs simply start
    /// in input order.
    ///
    /// With auto, each host's cap starts at 2 and follows the host's answers
    /// as TCP's congestion window does (AIMD, RFC 5681): a 429 or 503
    /// response or a timeout halves it (at least 1; once per window: not
    /// again for requests sent before the decrease), and as many answers in
    /// a row as the cap raise it by one, up to -c. Reaching a cap that failed
    /// before takes 4 x cap answers in a row, twice as many after each
    /// further failure there (up to 16 times). The 429 and 503 responses are
    /// records like any other: add --retries (e.g. --retries 3) to try them
    /// again. auto never warns.
    // `None` when not given (see `try_parse_args`), which alone enables the
    // `per_host_cap` warning; clap's default is there for --help.
    #[arg(
        long,
        value_name = "N|auto",
        default_value = DEFAULT_MAX_PER_HOST_TEXT,
        allow_negative_numbers = true,
        value_parser = parse_host_cap
    )]
    pub max_per_host: Option<HostCap>,

    /// Input lines read ahead to find URLs whose host can take a request.
    ///
    /// Used with a per-host cap (the default), --rate-per-host, --rate or
    /// --retries (without them no URL waits, and no line is read before a
    /// slot is free). At least -c: a smaller N is raised to -c, with a
    /// `raised` warning. Bounds memory: at most N lines are waiting (retries
    /// included) or in flight at once (with --keep-order, at most N lines
    /// between the oldest record not yet printed and the newest line read).
    /// [default: 4 x -c]
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = count(1))]
    pub lookahead: Option<u32>,

    /// Most request attempts per second (N/s), minute (N/m) or hour (N/h).
    ///
    /// Over the whole run, evenly spaced (a token bucket without bursts, as
    /// curl's --rate). A bare N means N/s; N/d (per day) works too. Retries
    /// take a token too. Tokens are taken in input order before a URL gets its
    /// slot, so elapsed_ms does not count the wait.
    #[arg(long, value_name = "N[/s|/m|/h]", allow_hyphen_values = true, value_parser = parse_rate)]
    pub rate: Option<Rate>,

    /// Most request attempts per host per second (N/s), minute or hour.
    ///
    /// Like --rate, for each host (scheme + host + port) on its own. A URL
    /// whose host has no token yet waits in the look-ahead window without
    /// taking a global slot, as with --max-per-host.
    #[arg(long, value_name = "N[/s|/m|/h]", allow_hyphen_values = true, value_parser = parse_rate)]
    pub rate_per_host: Option<Rate>,

    /// Retry a URL up to N more times after a transient failure.
    ///
    /// Transient: error kinds connect, timeout, io, a temporary dns failure,
    /// and the statuses 429, 502, 503 and 504. Only GET, HEAD, OPTIONS, TRACE,
    /// PUT and DELETE are retried unless --retry-all is given. The record is
    /// the last attempt's, with "attempts" when above 1; --timeout applies to
    /// each attempt. A URL waiting for its retry holds no slot: it goes back
    /// into the look-ahead window (--lookahead) at its input position.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        allow_negative_numbers = true,
        value_parser = count(0)
    )]
    pub retries: u32,

    /// Backoff base between retries, in seconds (fractions allowed).
    ///
    /// Exponential backoff with full jitter: the wait after attempt k is
    /// random in [0, min(--retry-max-delay, SECONDS x 2^(k-1))].
    #[arg(long, value_name = "SECONDS", default_value = "1", allow_hyphen_values = true, value_parser = parse_seconds)]
    pub retry_delay: Duration,

    /// Longest backoff between two attempts, in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "30", allow_hyphen_values = true, value_parser = parse_seconds)]
    pub retry_max_delay: Duration,

    /// Retry non-idempotent methods (POST, PATCH, ...) too.
    ///
    /// They may have had an effect on the server before the failure.
    #[arg(long)]
    pub retry_all: bool,

    /// Longest Retry-After honoured, in seconds.
    ///
    /// A 429 or 503 response with Retry-After (seconds or an HTTP-date)
    /// pauses its host for that long, at most SECONDS, unless
    /// --max-per-host 0 is given without --retries, --rate and
    /// --rate-per-host; a retry of that URL waits at least as long.
    #[arg(long, value_name = "SECONDS", default_value = "60", allow_hyphen_values = true, value_parser = parse_seconds)]
    pub max_retry_after: Duration,

    /// Copy this response header field into the record's "headers" (repeatable).
    ///
    /// NAME is a field name (RFC 9110 token), matched case-insensitively.
    /// The record of a response that has any of the named fields gets
    /// "headers": an object from lower-case name to value, several lines of
    /// one field joined with ", " (RFC 9110 sec. 5.3). Only the final
    /// response's fields (after redirects) count.
    #[arg(short = 'i', long = "include-header", value_name = "NAME", value_parser = parse_header_name)]
    pub include_headers: Vec<HeaderName>,

    /// Digest each final response body and write it into the record.
    ///
    /// With sha256, records get "sha256": the SHA-256 of the body bytes
    /// counted in "size" (decoded ones with --compressed), in lower-case hex,
    /// computed as the body streams.
    #[arg(long, value_name = "ALGORITHM", value_enum)]
    pub hash: Option<BodyHash>,

    /// Skip the input lines an earlier run's output FILE already answers (repeatable).
    ///
    /// FILE holds records of earlier runs (JSON Lines, as written on
    /// stdout); it is read whole before any record is written, so stdout may
    /// append to it: fetcher-stream --resume out.jsonl urls.txt >> out.jsonl.
    /// A line is done when FILE holds a final record for it (a success, or
    /// a failure other than `cancelled`); the n-th occurrence of a line
    /// given several times is done when FILE holds n of them. Done lines
    /// are not fetched and get no record; the summary counts them in
    /// `skipped`. Records are matched by key: the record's `spec_hash`
    /// with --input jsonl, else the SHA-256 of its `url` (first 8 bytes).
    /// Lines of FILE that are not records (torn by a killed run) are passed
    /// over with one `earlier_unparsable` warning; a FILE that does not
    /// exist is empty, with an `earlier_missing` warning, so the first run
    /// and its resumptions can be one command. When stdout appends to FILE
    /// and FILE ends in a torn line, a newline is written first. Memory:
    /// about 40 to 80 bytes per distinct line of FILE at the peak.
    #[arg(long, value_name = "FILE")]
    pub resume: Vec<std::path::PathBuf>,

    /// With --resume, count only successes as done: failed lines are fetched again.
    #[arg(long)]
    pub retry_failed: bool,

    /// Send the validators of an earlier run's records in FILE (repeatable).
    ///
    /// For each line whose last success record in FILE (the last FILE
    /// given counts last) has an `etag` or a `last_modified`, the request
    /// carries If-None-Match and If-Modified-Since with them (RFC 9110
    /// sec. 13.1.2, 13.1.3); a field given with -H or in a spec is sent as
    /// given instead. A 304 answer is a success with "not_modified": true
    /// and no body (`size` 0), whatever --accept says. Records are matched
    /// to lines as with --resume; FILE may be the output stdout appends to.
    #[arg(long, value_name = "FILE")]
    pub if_changed: Vec<std::path::PathBuf>,

    /// Write each final body to a file under DIR; records get "body_path".
    ///
    /// The file is DIR/HOST/HASH: HOST is the URL's host in lower case
    /// (IDNA A-labels; an IPv6 address as ipv6- and the address with - for
    /// :), with _PORT for a port that is not the scheme's default; HASH is
    /// the SHA-256 (hex) of the URL as parsed, without user:password@ and
    /// #fragment. Nothing of the URL's path is used, so no URL names a file
    /// outside DIR. The file holds the bytes counted in "size" (decoded
    /// ones with --compressed). It is written as DIR/HOST/.NAME.part and
    /// renamed when the body is complete; a failure leaves no file.
    /// Records of a success, and of a `status` failure (--accept), get
    /// "body_path": the file's path with DIR as given. DIR is created if
    /// needed.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,

    /// Write the requests and responses to FILE as WARC/1.1, gzipped.
    ///
    /// Each URL whose record is a success or a `status` failure adds a
    /// request and a response record per hop (redirects included), after
    /// one warcinfo record; each record is its own gzip member (a
    /// .warc.gz). The response record holds the head as HTTP/1.1 (an
    /// HTTP/2 response too) without Transfer-Encoding, and the body as
    /// received (not decoded, even with --compressed). Other failures,
    /// body_too_large included, and attempts that are retried, add
    /// nothing. FILE is created or truncated.
    #[arg(long, value_name = "FILE")]
    pub warc: Option<PathBuf>,

    /// Do not write the summary record to stderr; -s/--silent is the same.
    ///
    /// Warning and error records are still written. -s and --silent are
    /// curl's names for it.
    #[arg(short = 'q', long, visible_short_alias = 's', visible_alias = "silent")]
    pub quiet: bool,

    /// Show a progress line on stderr: auto, always or never.
    ///
    /// One line, redrawn at most 10 times a second: records done (and
    /// lines read), records per second, successes, failures, requests in
    /// flight and the time elapsed, cut to the terminal's width; erased
    /// before the summary. While it is shown, warnings and errors appear
    /// above it as plain text (fetcher-stream: warning: MESSAGE) instead of
    /// JSON; the summary stays JSON. auto needs stderr to be a terminal
    /// and stdout not, as curl shows its progress meter only when the
    /// output is redirected.
    #[arg(long, value_name = "WHEN", value_enum, default_value_t = When::Auto)]
    pub progress: When,

    /// Print shell completions to stdout and exit: `--generate completions bash`.
    ///
    /// SHELL is bash, zsh or fish. Nothing is fetched. The README shows
    /// where each shell looks for them.
    #[arg(
        long,
        num_args = 2,
        value_names = ["completions", "SHELL"],
        value_parser = generate_values(),
        hide_possible_values = true
    )]
    pub generate: Option<Vec<String>>,
}

/// The per-host cap when --max-per-host is not given.
pub const DEFAULT_MAX_PER_HOST: u32 = 10;

/// [`DEFAULT_MAX_PER_HOST`] as --help shows it.
const DEFAULT_MAX_PER_HOST_TEXT: &str = "10";

/// What `--generate` accepts, as a usage error says it.
const GENERATE_VALUES: &str =
    "--generate takes 'completions bash', 'completions zsh' or 'completions fish'";

/// The words `--generate` takes. Only `completions` is offered for
/// completion: the shells are the second word, which
/// [`Opts::completions`] completes on its own (a clap option has one list
/// of values for all its words).
fn generate_values() -> clap::builder::PossibleValuesParser {
    use clap::builder::PossibleValue;
    let shell = |name| PossibleValue::new(name).hide(true);
    [
        PossibleValue::new("completions"),
        shell("bash"),
        shell("zsh"),
        shell("fish"),
    ]
    .into()
}

/// Where clap_complete's bash script completes the word after `--generate`.
const BASH_GENERATE_CASE: &str = "                --generate)\n";

/// The bash case for the word after `--generate completions`: the shells.
const BASH_SHELL_CASE: &str = r#"                completions)
                    if [[ ${COMP_CWORD} -ge 2 && "${COMP_WORDS[COMP_CWORD-2]}" == --generate ]]; then
                        COMPREPLY=($(compgen -W "bash zsh fish" -- "${cur}"))
                        return 0
                    fi
                    COMPREPLY=()
                    ;;
"#;

/// clap_complete's zsh spec of the two words of `--generate`, and the same
/// with the shells as the second word.
const ZSH_GENERATE_WORDS: &str = ":completions:(completions):completions:(completions)'";
const ZSH_GENERATE_WORDS_FIXED: &str = ":completions:(completions):SHELL:(bash zsh fish)'";

/// The fish completion of the word after `--generate completions`.
const FISH_SHELL_WORD: &str = "complete -c fetcher-stream -n 'set -l w (commandline -opc); \
     test (count $w) -ge 2; and test \"$w[-2]\" = --generate' -f -a 'bash zsh fish'\n";

/// The shell of `--generate completions SHELL`; `None` for any other pair.
fn completions_shell(what: &[String]) -> Option<clap_complete::Shell> {
    use clap_complete::Shell;
    match what {
        [kind, shell] if kind == "completions" => match shell.as_str() {
            "bash" => Some(Shell::Bash),
            "zsh" => Some(Shell::Zsh),
            "fish" => Some(Shell::Fish),
            _ => None,
        },
        _ => None,
    }
}

/// A usage error as one line (`fetcher-stream: ` is the caller's), for
/// every error clap reports on stderr; `None` for `--help` and `--version`,
/// which clap prints itself.
///
/// - a bad value: `-c/--max-concurrency must be at least 1, got '0'` (clap
///   would add the value's type and range);
/// - a value not in a closed set: `--hash: 'md5' is not one of sha256`;
/// - a missing value: `-c/--max-concurrency needs a value`;
/// - an unknown flag: `unknown flag '--timout' (did you mean '--timeout'?)`,
///   without clap's hint to pass it after `--` (that would make it a file
///   name);
/// - two flags that exclude each other: `-I/--head cannot be used with
///   -X/--method` (clap would add a usage line built from them);
/// - anything else: the first line of clap's message.
///
/// The value itself is not repeated where clap would (a --user value is a
/// secret); the parsers' own messages quote it where that helps.
pub fn usage_message(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    use std::error::Error as _;
    if !e.use_stderr() {
        return None;
    }
    let text = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(vec![s.clone()]),
        Some(ContextValue::Strings(v)) => Some(v.clone()),
        _ => None,
    };
    let first = |kind| text(kind).and_then(|v| v.into_iter().next());
    let specific = first(ContextKind::InvalidArg).and_then(|arg| {
        let flag = flag_names(&arg);
        match e.kind() {
            _ if flag == "--generate" => Some(GENERATE_VALUES.to_owned()),
            ErrorKind::ValueValidation => {
                let why = e.source()?.to_string();
                let joins = ["must ", "takes ", "value "]
                    .iter()
                    .any(|w| why.starts_with(w));
                Some(if joins {
                    format!("{flag} {why}")
                } else {
                    format!("{flag}: {why}")
                })
            }
            ErrorKind::InvalidValue | ErrorKind::NoEquals => {
                let value = first(ContextKind::InvalidValue).unwrap_or_default();
                if value.is_empty() {
                    return Some(format!("{flag} needs a value"));
                }
                let valid = text(ContextKind::ValidValue).unwrap_or_default();
                Some(format!(
                    "{flag}: '{value}' is not one of {}",
                    valid.join(", ")
                ))
            }
            ErrorKind::UnknownArgument => Some(match first(ContextKind::SuggestedArg) {
                Some(like) => format!("unknown flag '{arg}' (did you mean '{like}'?)"),
                None => format!("unknown flag '{arg}'; see --help"),
            }),
            ErrorKind::ArgumentConflict => {
                let others: Vec<String> = text(ContextKind::PriorArg)?
                    .iter()
                    .map(|o| flag_names(o))
                    .collect();
                Some(format!(
                    "{flag} cannot be used with {}",
                    others.join(" or ")
                ))
            }
            _ => None,
        }
    });
    Some(specific.unwrap_or_else(|| {
        let rendered = e.to_string();
        let line = rendered.lines().next().unwrap_or_default();
        line.strip_prefix("error: ").unwrap_or(line).to_owned()
    }))
}

/// `-c/--max-concurrency` for clap's `--max-concurrency <N>` (or `-c <N>`):
/// the short and long names of the flag.
fn flag_names(clap_name: &str) -> String {
    use clap::CommandFactory;
    let word = clap_name.split_whitespace().next().unwrap_or(clap_name);
    let cmd = Opts::command();
    let found = cmd.get_arguments().find(|a| {
        a.get_long().is_some_and(|l| word == format!("--{l}"))
            || a.get_short().is_some_and(|c| word == format!("-{c}"))
    });
    match found.map(|a| (a.get_short(), a.get_long())) {
        Some((Some(short), Some(long))) => format!("-{short}/--{long}"),
        Some((None, Some(long))) => format!("--{long}"),
        _ => word.to_owned(),
    }
}

/// The value of `--proxy`: a proxy, or `''` for none at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyChoice {
    /// `--proxy ''`: no proxy, whatever the environment says.
    Off,
    /// Use this proxy for every URL.
    Use(ProxyUrl),
}

fn parse_proxy(s: &str) -> Result<ProxyChoice, String> {
    if s.is_empty() {
        return Ok(ProxyChoice::Off);
    }
    s.parse().map(ProxyChoice::Use)
}

fn parse_noproxy(s: &str) -> Result<NoProxy, String> {
    Ok(s.parse().unwrap_or_default())
}

/// The certificates of one `--cacert` file, loaded while parsing flags.
#[derive(Debug, Clone)]
pub struct CaBundle(pub Vec<CertificateDer<'static>>);

fn parse_cacert(s: &str) -> Result<CaBundle, String> {
    load_pem_certs(std::path::Path::new(s)).map(CaBundle)
}

/// Whether `s` is a negative number (`-1`, `-0.5`, `-2/s`): said as such
/// rather than as a value of the wrong shape.
fn is_negative(s: &str) -> bool {
    s.trim()
        .strip_prefix('-')
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit() || c == '.'))
}

/// `--max-per-host`: `auto`, or a whole number (0: no cap).
fn parse_host_cap(s: &str) -> Result<HostCap, String> {
    let t = s.trim();
    if t == "auto" {
        return Ok(HostCap::Auto);
    }
    if !is_negative(s) && (t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit())) {
        return Err(format!("must be a whole number or 'auto', got '{s}'"));
    }
    parse_count(s, 0).map(|n| HostCap::Fixed(n as usize))
}

/// The value parser of a whole-number flag that must be at least `min`.
fn count(min: u32) -> impl Fn(&str) -> Result<u32, String> + Clone + Send + Sync + 'static {
    move |s| parse_count(s, min)
}

/// A whole number from `min` to `u32::MAX`, with a message for each way it
/// can be wrong: negative, below `min` (0 where 0 means nothing), not a
/// whole number, too large.
fn parse_count(s: &str, min: u32) -> Result<u32, String> {
    if is_negative(s) {
        return Err(format!("must not be negative, got '{s}'"));
    }
    let t = s.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("must be a whole number, got '{s}'"));
    }
    let n: u32 = t
        .parse()
        .map_err(|_| format!("must be at most {}, got '{s}'", u32::MAX))?;
    if n < min {
        return Err(format!("must be at least {min}, got '{s}'"));
    }
    Ok(n)
}

/// A deadline in seconds: at least 1 ms, fractions allowed.
fn parse_timeout(s: &str) -> Result<Duration, String> {
    let (secs, d) = seconds(s)?;
    if secs == 0.0 {
        return Err(format!("must be greater than 0, got '{s}'"));
    }
    if d < Duration::from_millis(1) {
        return Err(format!("must be at least 0.001 (1 ms), got '{s}'"));
    }
    Ok(d)
}

/// A number of seconds, 0 or more, fractions allowed.
fn parse_seconds(s: &str) -> Result<Duration, String> {
    seconds(s).map(|(_, d)| d)
}

/// A number of seconds, 0 or more, as parsed and as a [`Duration`], up to
/// what a `Duration` holds (about 584 billion years; the run takes anything
/// over 30 years as 30 years): NaN is not a number, and infinity or a value
/// beyond that (`1e20`, `1e400`) is too large.
fn seconds(s: &str) -> Result<(f64, Duration), String> {
    if is_negative(s) {
        return Err(format!("must not be negative, got '{s}'"));
    }
    let secs: f64 = s
        .trim()
        .parse()
        .ok()
        .filter(|x: &f64| !x.is_nan())
        .ok_or_else(|| format!("'{s}' is not a number of seconds"))?;
    if secs < 0.0 {
        return Err(format!("must not be negative, got '{s}'"));
    }
    let d = Duration::try_from_secs_f64(secs).map_err(|_| format!("'{s}' is too large"))?;
    Ok((secs, d))
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    s.parse()
}

fn parse_rate(s: &str) -> Result<Rate, String> {
    if is_negative(s) {
        return Err(format!("must not be negative, got '{s}'"));
    }
    s.parse()
}

/// `-u USER:PASSWORD`. The message of a bad value does not repeat it.
fn parse_user(s: &str) -> Result<Credentials, String> {
    s.parse()
}

fn parse_accept(s: &str) -> Result<StatusSet, String> {
    if is_negative(s) {
        return Err(format!("must not be negative, got '{s}'"));
    }
    s.parse()
}

/// What a URL given on the command line must not contain: a line break,
/// which would make it two lines (or, with the URL parser's removal of
/// tabs and newlines, silently one URL made of two).
fn line_break_in(value: &[u8]) -> bool {
    value.iter().any(|&b| b == b'\n' || b == b'\r')
}

/// A `--url` value: one input line, so it may not hold a line break.
fn parse_url_value(s: &str) -> Result<String, String> {
    if line_break_in(s.as_bytes()) {
        return Err("value contains a line break: give each URL its own --url".into());
    }
    Ok(s.to_owned())
}

/// Whether a command-line argument is a URL rather than a file name: it
/// starts with `http://` or `https://` (in any case), as lychee decides.
fn is_url_argument(arg: &std::ffi::OsStr) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let arg = arg.as_bytes();
    ["http://", "https://"].iter().any(|p| {
        arg.get(..p.len())
            .is_some_and(|a| a.eq_ignore_ascii_case(p.as_bytes()))
    })
}

fn parse_method(s: &str) -> Result<Method, String> {
    crate::spec::method(s)
}

/// A field name for `--include-header`: an RFC 9110 token (sec. 5.1),
/// lower-cased.
fn parse_header_name(s: &str) -> Result<HeaderName, String> {
    if is_url_argument(std::ffi::OsStr::new(s)) {
        return Err(
            "takes a header field name (curl's -i is not supported: records already \
             carry the status and chosen headers)"
                .into(),
        );
    }
    let is_tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if s.is_empty() || !s.bytes().all(is_tchar) {
        return Err(format!(
            "'{}' is not a header field name (letters, digits and !#$%&'*+-.^_`|~)",
            s.escape_debug()
        ));
    }
    HeaderName::from_bytes(s.as_bytes()).map_err(|e| format!("'{s}': {e}"))
}

fn parse_header(s: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = s
        .split_once(':')
        .ok_or_else(|| format!("'{s}' is not 'Name: value'"))?;
    crate::spec::header_field(name.trim(), value.trim())
}

/// A request body part from `-d` or `--data-binary`, read when the flags are
/// parsed (so a missing @FILE is a usage error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Data(pub bytes::Bytes);

/// `-d`: the string, or the contents of @FILE without CR and LF (curl's rule).
fn parse_data(s: &str) -> Result<Data, String> {
    let mut data = read_data(s)?;
    if s.starts_with('@') {
        data.retain(|&b| b != b'\r' && b != b'\n');
    }
    Ok(Data(data.into()))
}

/// `--data-binary`: the string, or the exact contents of @FILE.
fn parse_data_binary(s: &str) -> Result<Data, String> {
    read_data(s).map(|d| Data(d.into()))
}

fn read_data(s: &str) -> Result<Vec<u8>, String> {
    let Some(path) = s.strip_prefix('@') else {
        return Ok(s.as_bytes().to_vec());
    };
    if path == "-" || reads_stdin(path) {
        return Err(format!(
            "@{path} is standard input, which carries the URLs; put the body in a file"
        ));
    }
    std::fs::read(path).map_err(|e| format!("{path}: {e}"))
}

/// Whether reading `path` would consume this process's standard input: the
/// same pipe, socket or terminal (`/dev/stdin`, `/proc/self/fd/0`, a FIFO's
/// name): `-d @/dev/stdin` would read the URL list as the body and leave no
/// URL. A regular file (`< urls.txt`) is opened anew and consumes
/// nothing, and neither does `/dev/null`.
fn reads_stdin(path: &str) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let (Ok(file), Ok(stdin)) = (std::fs::metadata(path), std::fs::metadata("/dev/stdin")) else {
        return false;
    };
    let kind = stdin.file_type();
    let consumable = kind.is_fifo() || kind.is_socket() || kind.is_char_device();
    consumable && (file.dev(), file.ino()) == (stdin.dev(), stdin.ino()) && path != "/dev/null"
}

/// Parses a byte count with an optional K, M or G suffix (powers of 1024, as
/// curl's --max-filesize; lower case too).
fn parse_size(s: &str) -> Result<u64, String> {
    if is_negative(s) {
        return Err(format!("must not be negative, got '{s}'"));
    }
    let t = s.trim();
    let (digits, unit) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&t[..i], c.to_ascii_uppercase()),
        _ => (t, 'B'),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("'{s}' is not a number of bytes"));
    }
    let shift = match unit {
        'B' => 0,
        'K' => 10,
        'M' => 20,
        'G' => 30,
        _ => return Err(format!("'{s}': the suffix must be K, M or G")),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("'{s}' is not a number of bytes"))?;
    if n == 0 {
        return Err(format!("must be at least 1 byte, got '{s}'"));
    }
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("'{s}' is too large"))
}

fn parse_user_agent(s: &str) -> Result<String, String> {
    HeaderValue::from_str(s)
        .map_err(|_| "User-Agent must not contain control characters".to_string())?;
    Ok(s.to_owned())
}

impl Opts {
    /// Parses the command line like clap's `try_parse_from`, and also puts the
    /// `-d` and `--data-binary` parts together in `data` in command-line order
    /// (curl's), which separate fields alone would lose.
    ///
    /// # Errors
    /// clap's usage error.
    pub fn try_parse_args<I, T>(args: I) -> Result<Opts, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::{CommandFactory, FromArgMatches};
        let matches = Opts::command().try_get_matches_from(args)?;
        let mut opts = Opts::from_arg_matches(&matches)?;
        let at = |id: &str| {
            matches
                .indices_of(id)
                .map(|i| i.collect::<Vec<_>>())
                .unwrap_or_default()
        };
        let data = at("data").into_iter().zip(opts.data.drain(..));
        let binary = at("data_binary")
            .into_iter()
            .zip(opts.data_binary.drain(..));
        let mut parts: Vec<(usize, Data)> = data.chain(binary).collect();
        parts.sort_by_key(|(i, _)| *i);
        opts.data = parts.into_iter().map(|(_, d)| d).collect();
        if matches.value_source("max_per_host") == Some(clap::parser::ValueSource::DefaultValue) {
            opts.max_per_host = None;
        }
        let usage = |message: &str| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("{message}\n"),
            )
        };
        if let Some(what) = &opts.generate {
            if completions_shell(what).is_none() {
                return Err(usage(GENERATE_VALUES));
            }
        }
        if opts.retry_failed && opts.resume.is_empty() {
            return Err(usage(
                "--retry-failed needs --resume FILE: it says which earlier records count as done",
            ));
        }
        for (flag, files) in [
            ("--resume", &opts.resume),
            ("--if-changed", &opts.if_changed),
        ] {
            if files.iter().any(|f| f.as_os_str() == "-") {
                return Err(usage(&format!(
                    "{flag} needs a file of earlier records, not '-' (standard input carries the URLs)"
                )));
            }
        }
        if opts.inputs.iter().any(|arg| {
            use std::os::unix::ffi::OsStrExt;
            is_url_argument(arg) && line_break_in(arg.as_bytes())
        }) {
            return Err(usage(
                "a URL argument contains a line break: give each URL as its own argument",
            ));
        }
        Ok(opts)
    }

    /// Whether the per-host cap is the default one ([`DEFAULT_MAX_PER_HOST`]),
    /// not one given with --max-per-host: only then does the run warn when
    /// the cap holds it back.
    pub fn per_host_cap_is_default(&self) -> bool {
        self.max_per_host.is_none()
    }

    /// With `--generate completions SHELL`: the completion script for SHELL,
    /// generated from these flag definitions by clap_complete, with the
    /// second word of `--generate` (the shell) completed as bash, zsh or
    /// fish (clap_complete offers one list for every word of an option, and
    /// the flag list or file names after the first).
    pub fn completions(&self) -> Option<Vec<u8>> {
        use clap_complete::Shell;
        let shell = completions_shell(self.generate.as_deref()?)?;
        let mut script = Vec::new();
        clap_complete::generate(
            shell,
            &mut <Opts as clap::CommandFactory>::command(),
            "fetcher-stream",
            &mut script,
        );
        let script = String::from_utf8_lossy(&script);
        let script = match shell {
            // A case for the word after `--generate completions`, beside
            // the one for the word after `--generate`.
            Shell::Bash => script.replacen(
                BASH_GENERATE_CASE,
                &format!("{BASH_SHELL_CASE}{BASH_GENERATE_CASE}"),
                1,
            ),
            Shell::Zsh => script.replacen(ZSH_GENERATE_WORDS, ZSH_GENERATE_WORDS_FIXED, 1),
            _ => format!("{script}{FISH_SHELL_WORD}"),
        };
        Some(script.into_bytes())
    }

    /// The request body of `-d` and `--data-binary`, joined with `&` (curl's
    /// rule): in command-line order after [`Opts::try_parse_args`], else the
    /// `-d` parts first. `None` when neither was given.
    pub fn body(&self) -> Option<bytes::Bytes> {
        let mut parts = self.data.iter().chain(&self.data_binary);
        let first = parts.next()?;
        let mut rest = parts.peekable();
        if rest.peek().is_none() {
            return Some(first.0.clone());
        }
        let mut joined = first.0.to_vec();
        for part in rest {
            joined.push(b'&');
            joined.extend_from_slice(&part.0);
        }
        Some(joined.into())
    }

    /// The library configuration these flags describe, with `cancel` as the
    /// cancellation token and `env` standing in for the process environment
    /// (the proxy variables, see [`Opts::proxies`]).
    pub fn config(
        &self,
        cancel: CancellationToken,
        env: impl Fn(&str) -> Option<String>,
    ) -> Config {
        let defaults = Config::default();
        Config {
            max_concurrency: self.max_concurrency as usize,
            timeout: self.timeout,
            max_redirects: self.max_redirects,
            keep_order: self.keep_order,
            method: if self.head {
                Some(Method::HEAD)
            } else {
                self.method.clone()
            },
            body: self.body(),
            compressed: self.compressed,
            max_size: self.max_size,
            headers: self.headers.clone(),
            user_agent: self.user_agent.clone().unwrap_or(defaults.user_agent),
            default_scheme: self.default_scheme,
            client: ClientOptions {
                extra_roots: self
                    .cacert
                    .iter()
                    .flat_map(|b| b.0.iter().cloned())
                    .collect(),
                insecure: self.insecure,
                resolve: self.resolve.clone(),
                idle_socket_budget: None,
                proxies: self.proxies(env),
                http_versions: if self.http1_1 {
                    HttpVersions::Http1Only
                } else if self.http2_prior_knowledge {
                    HttpVersions::Http2PriorKnowledge
                } else {
                    HttpVersions::Negotiate
                },
                connect_timeout: self.connect_timeout,
            },
            cancel,
            max_per_host: match self
                .max_per_host
                .unwrap_or(HostCap::Fixed(DEFAULT_MAX_PER_HOST as usize))
            {
                HostCap::Fixed(0) => None,
                cap => Some(cap),
            },
            on_cap_held: None,
            user: self.user.clone(),
            lookahead: self.lookahead.map(|n| n as usize),
            rate: self.rate,
            rate_per_host: self.rate_per_host,
            retries: self.retries,
            retry_delay: self.retry_delay,
            retry_max_delay: self.retry_max_delay,
            retry_all: self.retry_all,
            max_retry_after: self.max_retry_after,
            accept: self.accept.clone(),
            include_headers: self.include_headers.clone(),
            hash: self.hash,
            output_dir: self.output_dir.clone(),
            // Opened by the caller (`app::run`), which also finishes it.
            warc: None,
            stats: defaults.stats,
        }
    }

    /// The inputs to read, in order: the --url values, then each URL|FILE
    /// argument as a URL line or a file (`-` is standard input). Empty when
    /// neither was given, which reads standard input.
    pub fn sources(&self) -> Vec<Input> {
        use std::os::unix::ffi::OsStrExt;
        let urls = self
            .urls
            .iter()
            .map(|u| Input::Url(bytes::Bytes::copy_from_slice(u.as_bytes())));
        let args = self.inputs.iter().map(|arg| {
            if is_url_argument(arg) {
                Input::Url(bytes::Bytes::copy_from_slice(arg.as_bytes()))
            } else {
                Input::File(arg.into())
            }
        });
        urls.chain(args).collect()
    }

    /// Whether the run reads URLs typed at a terminal: no URL, file or --url
    /// was given and standard input (`stdin_is_terminal`) is one. The
    /// program then says so on stderr before it waits.
    pub fn reads_terminal(&self, stdin_is_terminal: bool) -> bool {
        stdin_is_terminal && self.inputs.is_empty() && self.urls.is_empty()
    }
}

impl Opts {
    /// The proxies for this run, by curl's rules: `--proxy` (for every URL, or
    /// none with `''`), else `http_proxy`, `https_proxy`/`HTTPS_PROXY` and
    /// `all_proxy`/`ALL_PROXY`; hosts in `--noproxy`, else in
    /// `no_proxy`/`NO_PROXY`, are reached directly. `env` stands in for the
    /// process environment (see [`crate::http::proxy`]).
    /// A variable that is not a supported proxy URL fails only the URLs that
    /// would go through it ([`Proxies::unusable`]), as with curl.
    pub fn proxies(&self, env: impl Fn(&str) -> Option<String>) -> Proxies {
        let mut proxies = match &self.proxy {
            Some(ProxyChoice::Off) => Proxies::none(),
            Some(ProxyChoice::Use(url)) => Proxies {
                no_proxy: NoProxy::from_lookup(&env),
                ..Proxies::all(url.clone())
            },
            None => Proxies::from_lookup(&env),
        };
        if let Some(list) = &self.noproxy {
            proxies.no_proxy = list.clone();
        }
        proxies
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_valid() {
        Opts::command().debug_assert();
    }

    #[test]
    fn output_dir_maps_to_the_config_and_warc_is_left_to_the_caller() {
        let o =
            Opts::try_parse_from(["f", "--output-dir", "out/b", "--warc", "w.warc.gz"]).unwrap();
        assert_eq!(o.warc.as_deref(), Some(std::path::Path::new("w.warc.gz")));
        let c = o.config(CancellationToken::new(), |_| None);
        assert_eq!(c.output_dir.as_deref(), Some(std::path::Path::new("out/b")));
        assert!(c.warc.is_none());
        let none = Opts::try_parse_from(["f"]).unwrap();
        assert!(none.output_dir.is_none() && none.warc.is_none());
    }

    #[test]
    fn include_header_and_hash_map_to_the_config() {
        let c = |args: &[&str]| {
            let mut all = vec!["f"];
            all.extend_from_slice(args);
            Opts::try_parse_from(all)
                .unwrap()
                .config(CancellationToken::new(), |_| None)
        };
        let none = c(&[]);
        assert!(none.include_headers.is_empty() && none.hash.is_none());
        let some = c(&["-i", "ETag", "--include-header", "x-Id", "--hash", "sha256"]);
        assert_eq!(some.include_headers, ["etag", "x-id"]);
        assert_eq!(some.hash, Some(BodyHash::Sha256));
        for bad in ["", "a b", "a:b", "é", "a\r"] {
            assert!(parse_header_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_header_name("!#$%&'*+-.^_`|~0aZ").unwrap(),
            "!#$%&'*+-.^_`|~0az"
        );
    }

    #[test]
    fn defaults() {
        let o = Opts::try_parse_args(["fetcher-stream"]).unwrap();
        assert_eq!(o.max_concurrency, 50);
        assert!(o.per_host_cap_is_default());
        let c = o.config(CancellationToken::new(), |_| None);
        assert_eq!(
            (c.max_concurrency, c.max_per_host),
            (50, Some(HostCap::Fixed(10)))
        );
        assert!(c.user.is_none() && !o.head && !o.location);
        assert_eq!(o.timeout, Duration::from_secs(5));
        assert_eq!(o.max_redirects, 10);
        assert_eq!(o.method, None);
        assert_eq!(o.body(), None);
        assert_eq!(o.input, InputFormat::Text);
        assert!(!o.compressed && !o.http1_1 && !o.http2_prior_knowledge);
        assert_eq!((o.max_size, o.connect_timeout), (None, None));
        assert_eq!(o.default_scheme, DefaultScheme::Https);
        assert!(o.inputs.is_empty() && o.urls.is_empty());
        assert_eq!(o.accept, None);
    }

    /// As with curl, a flag given twice takes its last value; repeatable
    /// flags (-H, -d, --resolve, --cacert) add up.
    #[test]
    fn a_repeated_flag_takes_its_last_value() {
        let o = Opts::try_parse_from([
            "f",
            "-c",
            "2",
            "-c",
            "3",
            "--compressed",
            "--compressed",
            "-H",
            "A: 1",
            "-H",
            "B: 2",
        ])
        .unwrap();
        assert_eq!(o.max_concurrency, 3);
        assert!(o.compressed);
        assert_eq!(o.headers.len(), 2);
    }

    /// curl's names: -L (no effect), -I (HEAD), -m (--timeout), -s and
    /// --silent (-q), -u (Basic credentials).
    #[test]
    fn curl_habits() {
        let o = Opts::try_parse_from(["f", "-L", "-I", "-m", "2.5", "-s", "-u", "al:p:w"]).unwrap();
        assert!(o.location && o.quiet);
        assert_eq!(o.timeout, Duration::from_millis(2500));
        let c = o.config(CancellationToken::new(), |_| None);
        assert_eq!(c.method, Some(Method::HEAD));
        let user = c.user.unwrap();
        assert_eq!((user.user.as_str(), user.password.as_str()), ("al", "p:w"));
        assert!(!format!("{user:?}").contains("p:w"));
        assert!(
            Opts::try_parse_from(["f", "--silent", "--location"])
                .unwrap()
                .quiet
        );
        assert!(Opts::try_parse_from(["f", "-u", ":"]).is_ok());
        for bad in [
            &["f", "-u", "al"][..],
            &["f", "-I", "-X", "GET"],
            &["f", "-I", "-d", "x"],
            &["f", "-I", "--data-binary", "x"],
        ] {
            assert!(Opts::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }

    /// The one-line usage messages name both flag names and do not echo a
    /// --user value.
    #[test]
    fn usage_messages_are_one_line() {
        let msg = |args: &[&str]| usage_message(&Opts::try_parse_args(args).unwrap_err());
        assert_eq!(
            msg(&["f", "-c", "0"]).unwrap(),
            "-c/--max-concurrency must be at least 1, got '0'"
        );
        assert_eq!(
            msg(&["f", "--timeout", "-1"]).unwrap(),
            "-t/--timeout must not be negative, got '-1'"
        );
        assert_eq!(
            msg(&["f", "-X", "PUT", "--head"]).unwrap(),
            "-X/--method cannot be used with -I/--head"
        );
        let user = msg(&["f", "--user", "s3cret"]).unwrap();
        assert!(
            user.starts_with("-u/--user must be USER:PASSWORD"),
            "{user}"
        );
        assert!(!user.contains("s3cret"));
        assert_eq!(
            msg(&["f", "--generate", "completions", "csh"]).unwrap(),
            GENERATE_VALUES
        );
        assert_eq!(
            msg(&["f", "--generate", "zsh", "completions"]).unwrap(),
            GENERATE_VALUES
        );
        assert_eq!(
            msg(&["f", "--no-such-flag"]).unwrap(),
            "unknown flag '--no-such-flag'; see --help"
        );
        assert_eq!(
            msg(&["f", "-c"]).unwrap(),
            "-c/--max-concurrency needs a value"
        );
        let help = Opts::try_parse_args(["f", "--help"]).unwrap_err();
        assert_eq!(usage_message(&help), None);
    }

    /// --shard takes K/N with 1 <= K <= N; anything else is a one-line
    /// usage error that shows the value.
    #[test]
    fn shard_values() {
        let o = Opts::try_parse_args(["f", "--shard", "2/3"]).unwrap();
        assert_eq!(o.shard, Shard::new(2, 3));
        assert_eq!(Opts::try_parse_args(["f"]).unwrap().shard, None);
        let msg = |v: &str| usage_message(&Opts::try_parse_args(["f", "--shard", v]).unwrap_err());
        for bad in ["0/3", "4/3", "1/0", "3", "x/3", "-1/3"] {
            assert_eq!(
                msg(bad).unwrap(),
                format!("--shard must be K/N with 1 <= K <= N (as 2/3), got '{bad}'")
            );
        }
    }

    #[test]
    fn generate_completions_for_each_shell() {
        for shell in ["bash", "zsh", "fish"] {
            let o = Opts::try_parse_args(["f", "--generate", "completions", shell]).unwrap();
            let script = String::from_utf8(o.completions().unwrap()).unwrap();
            assert!(script.contains("max-per-host"), "{shell}");
        }
        assert!(Opts::try_parse_from(["f"]).unwrap().completions().is_none());
    }

    #[test]
    fn resume_and_if_changed_flags() {
        let o = Opts::try_parse_from(["f"]).unwrap();
        assert!(o.resume.is_empty() && o.if_changed.is_empty() && !o.retry_failed);
        let o = Opts::try_parse_from([
            "f",
            "--resume",
            "a.jsonl",
            "--resume",
            "b.jsonl",
            "--retry-failed",
            "--if-changed",
            "c.jsonl",
        ])
        .unwrap();
        assert_eq!(
            o.resume,
            ["a.jsonl", "b.jsonl"].map(std::path::PathBuf::from)
        );
        assert_eq!(o.if_changed, [std::path::PathBuf::from("c.jsonl")]);
        assert!(o.retry_failed);
        assert!(Opts::try_parse_from(["f", "--resume"]).is_err());
        let message = |args: &[&str]| {
            let e = Opts::try_parse_args(args).unwrap_err();
            usage_message(&e).unwrap()
        };
        assert_eq!(
            message(&["f", "--retry-failed"]),
            "--retry-failed needs --resume FILE: it says which earlier records count as done"
        );
        for flag in ["--resume", "--if-changed"] {
            assert_eq!(
                message(&["f", flag, "-"]),
                format!("{flag} needs a file of earlier records, not '-' (standard input carries the URLs)")
            );
        }
    }

    #[test]
    fn concurrency_must_be_positive() {
        assert!(Opts::try_parse_from(["f", "-c", "0"]).is_err());
        assert_eq!(
            Opts::try_parse_from(["f", "-c", "64"])
                .unwrap()
                .max_concurrency,
            64
        );
    }

    #[test]
    fn timeout_must_be_positive_seconds() {
        assert_eq!(
            Opts::try_parse_from(["f", "-t", "0.25"]).unwrap().timeout,
            Duration::from_millis(250)
        );
        for bad in ["0", "-1", "abc", "inf", "NaN", "1e-10"] {
            assert!(Opts::try_parse_from(["f", "-t", bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn method_is_any_token_with_its_case_kept() {
        let m = |s: &str| Opts::try_parse_from(["f", "-X", s]).map(|o| o.method.unwrap());
        assert_eq!(m("HEAD").unwrap(), Method::HEAD);
        assert_eq!(m("POST").unwrap(), Method::POST);
        assert_eq!(m("PROPFIND").unwrap().as_str(), "PROPFIND");
        assert_eq!(m("head").unwrap().as_str(), "head");
        for bad in ["", "GE T", "A(B", "x\ny", "é", "CONNECT"] {
            assert!(m(bad).is_err(), "{bad:?}");
        }
        let o = Opts::try_parse_from(["f", "--request", "DELETE"]).unwrap();
        assert_eq!(o.method, Some(Method::DELETE));
    }

    #[test]
    fn data_joins_with_ampersand_and_reads_files() {
        let dir =
            std::env::temp_dir().join(format!("fetcher-stream-cli-data-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("body");
        std::fs::write(&file, b"a=1\r\nb=2\n").unwrap();
        let at = format!("@{}", file.display());
        let o = Opts::try_parse_from(["f", "-d", "x=1", "--data", &at]).unwrap();
        assert_eq!(o.body().unwrap(), "x=1&a=1b=2");
        assert_eq!(o.config(CancellationToken::new(), |_| None).method, None);
        let o = Opts::try_parse_from(["f", "--data-binary", &at]).unwrap();
        assert_eq!(o.body().unwrap(), "a=1\r\nb=2\n");
        let o = Opts::try_parse_args(["f", "--data-binary", "z", "-d", "", "--data-binary", "y"]);
        assert_eq!(o.unwrap().body().unwrap(), "z&&y");
        let o = Opts::try_parse_args(["f", "-d", "a", "--data-binary", &at, "-d", "c"]);
        assert_eq!(o.unwrap().body().unwrap(), "a&a=1\r\nb=2\n&c");
        assert_eq!(
            Opts::try_parse_from(["f", "-d", "@x"]).unwrap_err().kind(),
            clap::error::ErrorKind::ValueValidation
        );
        assert!(Opts::try_parse_from(["f", "-d", "@/nonexistent/body"]).is_err());
        assert!(Opts::try_parse_from(["f", "-d", "@-"]).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn http_version_flags_exclude_each_other() {
        let o = Opts::try_parse_from(["f", "--http1.1"]).unwrap();
        let c = o.config(CancellationToken::new(), |_| None).client;
        assert_eq!(c.http_versions, HttpVersions::Http1Only);
        let o = Opts::try_parse_from(["f", "--http2-prior-knowledge"]).unwrap();
        let c = o.config(CancellationToken::new(), |_| None).client;
        assert_eq!(c.http_versions, HttpVersions::Http2PriorKnowledge);
        assert!(Opts::try_parse_from(["f", "--http1.1", "--http2-prior-knowledge"]).is_err());
    }

    #[test]
    fn connect_timeout_is_positive_seconds() {
        let o = Opts::try_parse_from(["f", "--connect-timeout", "0.5"]).unwrap();
        let c = o.config(CancellationToken::new(), |_| None).client;
        assert_eq!(c.connect_timeout, Some(Duration::from_millis(500)));
        assert!(Opts::try_parse_from(["f", "--connect-timeout", "0"]).is_err());
    }

    #[test]
    fn input_format_and_compression_flags() {
        let o = Opts::try_parse_from(["f", "--input", "jsonl", "--compressed"]).unwrap();
        assert_eq!(o.input, InputFormat::Jsonl);
        assert!(o.config(CancellationToken::new(), |_| None).compressed);
        assert!(Opts::try_parse_from(["f", "--input", "csv"]).is_err());
    }

    #[test]
    fn max_size_takes_binary_suffixes() {
        let size = |s: &str| Opts::try_parse_from(["f", "--max-size", s]).map(|o| o.max_size);
        assert_eq!(size("100").unwrap(), Some(100));
        assert_eq!(size("2K").unwrap(), Some(2048));
        assert_eq!(size("1m").unwrap(), Some(1 << 20));
        assert_eq!(size("3G").unwrap(), Some(3 << 30));
        for bad in ["0", "", "1T", "K", "-1", "1.5M", "99999999999999999999G"] {
            assert!(size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn headers_parse_and_reject_cr_lf() {
        let o =
            Opts::try_parse_from(["f", "-H", "X-A: 1", "-H", "Authorization:Bearer t"]).unwrap();
        assert_eq!(o.headers.len(), 2);
        assert_eq!(o.headers[1].1, "Bearer t");
        assert!(Opts::try_parse_from(["f", "-H", "X-A: 1\r\nX-B: 2"]).is_err());
        assert!(Opts::try_parse_from(["f", "-H", "no colon"]).is_err());
        assert!(Opts::try_parse_from(["f", "-H", "bad name: 1"]).is_err());
        assert!(Opts::try_parse_from(["f", "-H", "Content-Length: 5"]).is_err());
        assert!(Opts::try_parse_from(["f", "-H", "transfer-encoding: chunked"]).is_err());
    }

    #[test]
    fn tls_and_resolve_flags() {
        let o = Opts::try_parse_from(["f", "-k", "--resolve", "a.test:443:127.0.0.1"]).unwrap();
        assert!(o.insecure);
        assert_eq!(o.resolve[0].port, 443);
        assert!(Opts::try_parse_from(["f", "--resolve", "a.test:443"]).is_err());
        assert!(Opts::try_parse_from(["f", "--cacert", "/nonexistent/ca.pem"]).is_err());
    }

    #[test]
    fn user_agent_and_scheme() {
        let o = Opts::try_parse_from(["f", "-A", "x/1", "--default-scheme", "http"]).unwrap();
        assert_eq!(o.user_agent.as_deref(), Some("x/1"));
        assert_eq!(o.default_scheme, DefaultScheme::Http);
        assert!(Opts::try_parse_from(["f", "--default-scheme", "ftp"]).is_err());
    }

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    fn proxy_for(args: &[&str], vars: &[(&str, &str)], url: &str) -> Option<String> {
        let o = Opts::try_parse_from(args).unwrap();
        let proxies = o.proxies(env(vars));
        proxies
            .route(&url.parse().unwrap())
            .map(ToString::to_string)
    }

    #[test]
    fn proxy_and_noproxy_flags() {
        let o = Opts::try_parse_from(["f", "-x", "socks5h://u:p@127.0.0.1:9050"]).unwrap();
        let Some(ProxyChoice::Use(url)) = &o.proxy else {
            panic!("{:?}", o.proxy)
        };
        assert_eq!(url.to_string(), "socks5h://127.0.0.1:9050");
        assert_eq!(
            Opts::try_parse_from(["f", "--proxy", ""]).unwrap().proxy,
            Some(ProxyChoice::Off)
        );
        assert!(Opts::try_parse_from(["f"]).unwrap().proxy.is_none());
        for bad in ["socks4://h:1", "https://h", "h:0", "[::1"] {
            assert!(
                Opts::try_parse_from(["f", "--proxy", bad]).is_err(),
                "{bad}"
            );
        }
        let o = Opts::try_parse_from(["f", "--noproxy", "a.test,10.0.0.0/8"]).unwrap();
        assert!(o.noproxy.as_ref().unwrap().matches("b.a.test"));
        assert!(o.noproxy.unwrap().matches("10.1.1.1"));

        let vars = [
            ("http_proxy", "env:1"),
            ("https_proxy", "env:2"),
            ("no_proxy", "direct.test"),
        ];
        // --proxy beats the variables for every scheme; no_proxy still applies.
        let x = ["f", "-x", "flag:3"];
        assert_eq!(proxy_for(&x, &vars, "http://t/").unwrap(), "http://flag:3");
        assert_eq!(proxy_for(&x, &vars, "https://t/").unwrap(), "http://flag:3");
        assert_eq!(proxy_for(&x, &vars, "https://direct.test/"), None);
        // --noproxy replaces no_proxy; '' sends everything through the proxy.
        let n = ["f", "--noproxy", ""];
        assert_eq!(
            proxy_for(&n, &vars, "https://direct.test/").unwrap(),
            "http://env:2"
        );
        let n = ["f", "--noproxy", "t"];
        assert_eq!(proxy_for(&n, &vars, "http://t/"), None);
        // --proxy '' turns the variables off.
        assert_eq!(proxy_for(&["f", "-x", ""], &vars, "http://t/"), None);
        assert_eq!(
            proxy_for(&["f"], &vars, "http://t/").unwrap(),
            "http://env:1"
        );
        // A bad variable makes the URLs that would use it fail, naming it...
        let bad = [("https_proxy", "socks4://h")];
        let https: http::Uri = "https://t/".parse().unwrap();
        let o = Opts::try_parse_from(["f"]).unwrap();
        let why = o.proxies(env(&bad)).unusable(&https).map(str::to_owned);
        assert!(why.unwrap().starts_with("https_proxy:"));
        // ...unless --proxy or --noproxy makes it irrelevant.
        for flags in [["f", "-x", ""], ["f", "-x", "h:1"], ["f", "--noproxy", "*"]] {
            let o = Opts::try_parse_from(flags).unwrap();
            assert_eq!(o.proxies(env(&bad)).unusable(&https), None, "{flags:?}");
        }
    }

    #[test]
    fn per_host_flags() {
        let o = Opts::try_parse_from(["f", "--max-per-host", "2", "--lookahead", "50"]).unwrap();
        assert_eq!(
            (o.max_per_host, o.lookahead),
            (Some(HostCap::Fixed(2)), Some(50))
        );
        let c = o.config(CancellationToken::new(), |_| None);
        assert_eq!(
            (c.max_per_host, c.lookahead),
            (Some(HostCap::Fixed(2)), Some(50))
        );
        assert!(!o.per_host_cap_is_default());
        // Not given: no cap of the user's, though --help shows the default.
        let o = Opts::try_parse_args(["f"]).unwrap();
        assert_eq!((o.max_per_host, o.lookahead), (None, None));
        assert_eq!(DEFAULT_MAX_PER_HOST_TEXT, DEFAULT_MAX_PER_HOST.to_string());
        // 0 removes the cap; given explicitly, even the default value is the
        // user's choice.
        for (given, cap) in [
            ("0", None),
            ("10", Some(HostCap::Fixed(10))),
            ("auto", Some(HostCap::Auto)),
            (" auto ", Some(HostCap::Auto)),
        ] {
            let o = Opts::try_parse_args(["f", "--max-per-host", given]).unwrap();
            assert!(!o.per_host_cap_is_default());
            let c = o.config(CancellationToken::new(), |_| None);
            assert_eq!(c.max_per_host, cap);
        }
        for (bad, says) in [
            ("-1", "must not be negative, got '-1'"),
            ("x", "must be a whole number or 'auto', got 'x'"),
            ("Auto", "must be a whole number or 'auto', got 'Auto'"),
            ("", "must be a whole number or 'auto', got ''"),
            ("2.5", "must be a whole number or 'auto', got '2.5'"),
            ("4294967296", "must be at most 4294967295"),
        ] {
            let e = Opts::try_parse_from(["f", "--max-per-host", bad]).unwrap_err();
            assert!(e.to_string().contains(says), "{bad}: {e}");
        }
        for bad in ["0", "-1", "x"] {
            assert!(Opts::try_parse_from(["f", "--lookahead", bad]).is_err());
        }
    }

    #[test]
    fn rate_flags() {
        let o = Opts::try_parse_from(["f", "--rate", "5/s", "--rate-per-host", "30/m"]).unwrap();
        assert_eq!(o.rate.unwrap().interval(), Duration::from_millis(200));
        assert_eq!(o.rate_per_host.unwrap().interval(), Duration::from_secs(2));
        assert_eq!(
            Opts::try_parse_from(["f", "--rate", "2"])
                .unwrap()
                .rate
                .unwrap()
                .interval(),
            Duration::from_millis(500)
        );
        for bad in ["0", "5/x", "fast", "-2/s"] {
            assert!(Opts::try_parse_from(["f", "--rate", bad]).is_err(), "{bad}");
            assert!(Opts::try_parse_from(["f", "--rate-per-host", bad]).is_err());
        }
    }

    #[test]
    fn url_arguments_and_files() {
        let o = Opts::try_parse_from([
            "f",
            "list.txt",
            "https://a.test/",
            "--url",
            "b.test",
            "HTTP://c.test/",
            "./http://d",
            "-",
            "httpx://e",
            "--url",
            "http://f.test/",
        ])
        .unwrap();
        let url = |s: &str| Input::Url(bytes::Bytes::copy_from_slice(s.as_bytes()));
        let file = |s: &str| Input::File(s.into());
        assert_eq!(
            o.sources(),
            [
                url("b.test"),
                url("http://f.test/"),
                file("list.txt"),
                url("https://a.test/"),
                url("HTTP://c.test/"),
                file("./http://d"),
                file("-"),
                file("httpx://e"),
            ]
        );
        assert!(Opts::try_parse_from(["f"]).unwrap().sources().is_empty());
    }

    /// The terminal hint: only when nothing is named and stdin is a terminal.
    #[test]
    fn the_terminal_is_read_only_without_inputs() {
        let parse = |args: &[&str]| Opts::try_parse_from(args).unwrap();
        assert!(parse(&["f"]).reads_terminal(true));
        assert!(!parse(&["f"]).reads_terminal(false));
        assert!(!parse(&["f", "-"]).reads_terminal(true));
        assert!(!parse(&["f", "http://a/"]).reads_terminal(true));
        assert!(!parse(&["f", "--url", "a"]).reads_terminal(true));
        assert!(!parse(&["f", "list.txt"]).reads_terminal(true));
    }

    #[test]
    fn accept_flag() {
        let o = Opts::try_parse_from(["f", "--accept", "200..=299,403"]).unwrap();
        let c = o.config(CancellationToken::new(), |_| None);
        let set = c.accept.unwrap();
        assert!(set.contains(250) && set.contains(403) && !set.contains(404));
        for bad in ["", "2xx", "0", "300..=200"] {
            assert!(
                Opts::try_parse_from(["f", "--accept", bad]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn retry_flags() {
        let o = Opts::try_parse_from(["f"]).unwrap();
        assert_eq!(o.retries, 0);
        assert_eq!(o.retry_delay, Duration::from_secs(1));
        assert_eq!(o.retry_max_delay, Duration::from_secs(30));
        assert_eq!(o.max_retry_after, Duration::from_secs(60));
        assert!(!o.retry_all);
        let o = Opts::try_parse_from([
            "f",
            "--retries",
            "3",
            "--retry-delay",
            "0.5",
            "--retry-max-delay",
            "4",
            "--retry-all",
            "--max-retry-after",
            "0",
        ])
        .unwrap();
        let c = o.config(CancellationToken::new(), |_| None);
        assert_eq!(c.retries, 3);
        assert_eq!(c.retry_delay, Duration::from_millis(500));
        assert_eq!(c.retry_max_delay, Duration::from_secs(4));
        assert!(c.retry_all);
        assert_eq!(c.max_retry_after, Duration::ZERO);
        for bad in ["-1", "x", "inf"] {
            assert!(Opts::try_parse_from(["f", "--retry-delay", bad]).is_err());
            assert!(Opts::try_parse_from(["f", "--retries", bad]).is_err());
        }
    }
}
