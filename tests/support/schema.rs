//! The JSON Schemas of `schema/` (draft 2020-12), compiled once per test
//! binary, and the check every run's output goes through: each stdout line
//! that is a JSON object must be a valid record, each such stderr line a valid
//! stderr record (the summary, a warning, an error). Lines that are not JSON
//! objects (`--help`, plain messages, a line cut short by a kill) are left to
//! the tests that read them. A test that reads a pipe itself checks what it
//! read with [`check_stdout`] or [`check_stderr`].

use std::sync::OnceLock;

use jsonschema::Validator;
use serde_json::Value;

/// The schema of stdout records (`success`, `failure`).
pub const RECORD_SCHEMA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/record.schema.json");
/// The schema of stderr's JSON lines (`summary`, `warning`, `error`).
pub const STDERR_SCHEMA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/stderr.schema.json");

/// The schema file at `path`, parsed.
pub fn load(path: &str) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
}

/// The schema at `path` compiled as draft 2020-12, after checking it against
/// the draft's meta-schema (bundled with `jsonschema`; nothing is fetched).
fn compile(path: &str) -> Validator {
    jsonschema::draft202012::new(&load(path))
        .unwrap_or_else(|e| panic!("{path} is not a valid draft 2020-12 schema: {e}"))
}

/// The compiled record schema.
pub fn records() -> &'static Validator {
    static V: OnceLock<Validator> = OnceLock::new();
    V.get_or_init(|| compile(RECORD_SCHEMA))
}

/// The compiled stderr schema.
pub fn stderr() -> &'static Validator {
    static V: OnceLock<Validator> = OnceLock::new();
    V.get_or_init(|| compile(STDERR_SCHEMA))
}

/// The first violation of `validator` by `value`, as text.
pub fn violation(validator: &Validator, value: &Value) -> Option<String> {
    validator
        .validate(value)
        .err()
        .map(|e| format!("{e} (at {}, schema {})", e.instance_path(), e.schema_path()))
}

/// Checks each line of `text` that is a JSON object against `validator`
/// (`stream` names it in the panic).
///
/// # Panics
///
/// On the first line that violates the schema, naming the line and the
/// violation.
pub fn check_lines(validator: &Validator, stream: &str, text: &str) {
    for line in text.lines() {
        let Ok(value @ Value::Object(_)) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if let Some(why) = violation(validator, &value) {
            panic!("{stream} line violates its schema: {why}\n  line: {line}");
        }
    }
}

/// Checks stdout text against the record schema (see [`check_lines`]).
pub fn check_stdout(text: &str) {
    check_lines(records(), "stdout", text);
}

/// Checks stderr text against the stderr schema (see [`check_lines`]).
pub fn check_stderr(text: &str) {
    check_lines(stderr(), "stderr", text);
}

/// Checks a run's stdout and stderr (see [`check_stdout`], [`check_stderr`]).
pub fn check_output(stdout: &str, stderr: &str) {
    check_stdout(stdout);
    check_stderr(stderr);
}
