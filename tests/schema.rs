//! The JSON Schemas in `schema/` keep up with the code: every record key and
//! summary field has a schema entry (and no entry lacks a field), `error_kind`
//! lists exactly the [`ErrorKind`]s, the library's records validate, and the
//! schemas reject what the code never writes, so the check that every run of
//! the suite goes through (`support::schema`) has teeth.

use std::collections::BTreeSet;

use fetcher_stream::{ErrorKind, FetchResult, Passthrough, Percentiles, ResponseFacts, Summary};
use serde_json::{json, Value};

use crate::internals::{Notice, RECORD_KEYS};
use crate::support::error_kinds;
use crate::support::schema::{self, RECORD_SCHEMA, STDERR_SCHEMA};

/// The keys of the object at `pointer` in `schema` (a JSON Pointer).
fn keys_at(schema: &Value, pointer: &str) -> BTreeSet<String> {
    schema
        .pointer(pointer)
        .and_then(Value::as_object)
        .unwrap_or_else(|| panic!("no object at {pointer}"))
        .keys()
        .cloned()
        .collect()
}

/// Every key of every `properties` object anywhere in `schema`.
fn all_property_names(schema: &Value, into: &mut BTreeSet<String>) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map {
                if key == "properties" {
                    into.extend(value.as_object().expect("properties").keys().cloned());
                }
                all_property_names(value, into);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| all_property_names(v, into)),
        _ => {}
    }
}

/// The keys `value` serialises to (it must serialise to an object).
fn serialised_keys(value: impl serde::Serialize) -> BTreeSet<String> {
    match serde_json::to_value(value).unwrap() {
        Value::Object(map) => map.keys().cloned().collect(),
        other => panic!("not an object: {other}"),
    }
}

/// A success and two failures, each with every optional field a record of
/// its kind can have.
fn full_records() -> Vec<FetchResult> {
    let mut extra = Passthrough::new();
    extra.insert("id".into(), json!(42));
    let extra = Some(Box::new(extra));
    let response = Some(Box::new(ResponseFacts {
        not_modified: true,
        final_url: Some("http://a/b".into()),
        location: Some("http://a/c".into()),
        redirects: Some(1),
        remote_addr: Some("[::1]:8080".parse().unwrap()),
        reused: true,
        dns_ms: Some(0.5),
        connect_ms: Some(0.2),
        tls_ms: Some(1.1),
        ttfb_ms: 2.5,
        content_type: Some("text/plain".into()),
        etag: Some("W/\"1\"".into()),
        last_modified: Some("Tue, 01 Dec 2026 14:00:00 GMT".into()),
        headers: Some([("x-a".to_string(), "1, 2".to_string())].into()),
        sha256: Some(format!("{:064x}", 0)),
        body_path: Some(format!("out/a/{:064x}", 0)),
    }));
    vec![
        FetchResult::Success {
            url: "http://a/".into(),
            status: 200,
            size: 5,
            elapsed_ms: 1.5,
            http_version: "HTTP/2.0",
            wire_size: Some(3),
            attempts: Some(2),
            response: response.clone(),
            extra: extra.clone(),
        },
        FetchResult::Failure {
            url: "http://a/".into(),
            status: Some(404),
            error: "status 404 is not in --accept".into(),
            error_kind: ErrorKind::Status,
            elapsed_ms: 0.0,
            line: None,
            attempts: Some(3),
            response: response.map(|mut facts| {
                facts.not_modified = false;
                facts
            }),
            extra: extra.clone(),
        },
        FetchResult::Failure {
            url: "{".into(),
            status: None,
            error: "line 1: not JSON".into(),
            error_kind: ErrorKind::InvalidInput,
            elapsed_ms: 0.0,
            line: Some(1),
            attempts: None,
            response: None,
            extra: extra.map(|mut keys| {
                keys.insert("spec_hash".into(), json!("00ff00ff00ff00ff"));
                keys
            }),
        },
    ]
}

/// A new record field needs a schema entry, and the schema names no key a
/// record cannot have: its properties are `RECORD_KEYS` and `url`, and the
/// per-type branches name no others.
#[test]
fn record_schema_properties_are_the_record_keys() {
    let schema = schema::load(RECORD_SCHEMA);
    let want: BTreeSet<String> = RECORD_KEYS
        .iter()
        .chain(&["url"])
        .map(|k| k.to_string())
        .collect();
    assert_eq!(keys_at(&schema, "/properties"), want, "{RECORD_SCHEMA}");
    let mut everywhere = BTreeSet::new();
    all_property_names(&schema, &mut everywhere);
    assert_eq!(
        everywhere, want,
        "property names anywhere in {RECORD_SCHEMA}"
    );
    for key in &want {
        let description = schema
            .pointer(&format!("/properties/{key}/description"))
            .and_then(Value::as_str);
        assert!(
            description.is_some_and(|d| !d.is_empty()),
            "{key} has no description in {RECORD_SCHEMA}"
        );
    }
}

/// `error_kind` is a closed enum: exactly the names of [`ErrorKind`].
#[test]
fn error_kind_enum_is_every_error_kind() {
    let schema = schema::load(RECORD_SCHEMA);
    let listed = schema
        .pointer("/properties/error_kind/enum")
        .expect("error_kind enum")
        .clone();
    let want: Vec<&str> = error_kinds().iter().map(|k| k.as_str()).collect();
    assert_eq!(listed, json!(want), "error_kind in {RECORD_SCHEMA}");
}

/// A new summary field needs a schema entry: the summary's schema properties
/// are the keys of a summary with every field written.
#[test]
fn summary_schema_properties_are_the_summary_fields() {
    // No `..Default::default()`: a new field must be filled in here, set so
    // that it is written (an optional one `Some`, a flag `true`).
    let mut timed = Percentiles::default();
    timed.record(1.5);
    let full = Summary {
        total: 3,
        succeeded: 1,
        failed: 1,
        cancelled: 1,
        skipped: Some(4),
        elapsed_ms: 1.5,
        urls_per_second: 2000.0,
        bytes: 5,
        retries: 1,
        connections_opened: 1,
        dns_lookups: 1,
        status_counts: [(200, 1)].into(),
        error_kinds: [("cancelled", 1), ("timeout", 1)].into(),
        record_elapsed_ms: timed.clone(),
        ttfb_ms: timed,
        interrupted: true,
        other_shard: Some(2),
    };
    let schema = schema::load(STDERR_SCHEMA);
    assert_eq!(
        keys_at(&schema, "/$defs/summary/properties"),
        serialised_keys(&full),
        "the summary in {STDERR_SCHEMA}"
    );
    for s in [full, Summary::default()] {
        let value = serde_json::to_value(&s).unwrap();
        assert_eq!(schema::violation(schema::stderr(), &value), None, "{value}");
    }
}

/// A stderr message with every optional key set has exactly the keys the
/// schema's `message` lists, and validates as a warning and as an error.
#[test]
fn message_schema_properties_are_the_notice_fields() {
    let warning = Notice::warning("open_file_limit", "lowered")
        .flag("--max-concurrency")
        .file("urls.txt");
    let error = Notice::error("input", "urls.txt: gone").file("urls.txt");
    let schema = schema::load(STDERR_SCHEMA);
    assert_eq!(
        keys_at(&schema, "/$defs/message/properties"),
        serialised_keys(&warning),
        "the warning and error messages in {STDERR_SCHEMA}"
    );
    for notice in [warning, error] {
        let value = serde_json::to_value(&notice).unwrap();
        assert_eq!(schema::violation(schema::stderr(), &value), None, "{value}");
    }
}

/// Records as the library builds them, with every optional field and with
/// none, are valid.
#[test]
fn library_records_are_valid() {
    let mut records = full_records();
    for r in full_records() {
        let mut bare = r.clone();
        bare.set_extra(None);
        bare.set_attempts(1);
        records.push(bare);
    }
    let keys: BTreeSet<String> = records.iter().flat_map(serialised_keys).collect();
    assert!(
        keys.contains("wire_size") && keys.contains("line"),
        "{keys:?}"
    );
    for r in records {
        let value = serde_json::to_value(&r).unwrap();
        assert_eq!(
            schema::violation(schema::records(), &value),
            None,
            "{value}"
        );
    }
}

/// The record schema rejects records the code never writes.
#[test]
fn the_record_schema_rejects_bad_records() {
    let bad = [
        // An error_kind outside the set.
        json!({"type":"failure","url":"u","error":"e","error_kind":"nope","elapsed_ms":0.0}),
        // No url.
        json!({"type":"failure","error":"e","error_kind":"timeout","elapsed_ms":0.0}),
        // An unknown type.
        json!({"type":"skipped","url":"u","elapsed_ms":0.0}),
        // A success without its status, or with failure keys.
        json!({"type":"success","url":"u","size":1,"elapsed_ms":1.0,"http_version":"HTTP/1.1","ttfb_ms":1.0}),
        json!({"type":"success","url":"u","status":200,"size":1,"elapsed_ms":1.0,"http_version":"HTTP/1.1","ttfb_ms":1.0,"error_kind":"io"}),
        // Wrong types and ranges.
        json!({"type":"success","url":"u","status":"200","size":1,"elapsed_ms":1.0,"http_version":"HTTP/1.1","ttfb_ms":1.0}),
        json!({"type":"success","url":"u","status":200,"size":-1,"elapsed_ms":1.0,"http_version":"HTTP/1.1","ttfb_ms":1.0}),
        json!({"type":"success","url":"u","status":200,"size":1.5,"elapsed_ms":1.0,"http_version":"HTTP/1.1","ttfb_ms":1.0}),
        json!({"type":"success","url":"u","status":200,"size":1,"elapsed_ms":1.0,"http_version":"h2","ttfb_ms":1.0}),
        json!({"type":"success","url":"u","status":200,"size":1,"elapsed_ms":1.0,"http_version":"HTTP/1.1","ttfb_ms":1.0,"attempts":1}),
        // A failure without error, with success keys, or with status or
        // line on the wrong kind.
        json!({"type":"failure","url":"u","error_kind":"io","elapsed_ms":0.0}),
        json!({"type":"failure","url":"u","error":"e","error_kind":"io","elapsed_ms":0.0,"size":1}),
        json!({"type":"failure","url":"u","error":"e","error_kind":"status","elapsed_ms":0.0}),
        json!({"type":"failure","url":"u","error":"e","error_kind":"io","elapsed_ms":0.0,"status":500}),
        json!({"type":"failure","url":"u","error":"e","error_kind":"invalid_input","elapsed_ms":0.0}),
        json!({"type":"failure","url":"u","error":"e","error_kind":"io","elapsed_ms":0.0,"line":3}),
        // Response facts: a success without ttfb_ms, a transport failure
        // with them, a bad digest, a `reused` that is not true, a status
        // failure without ttfb_ms.
        json!({"type":"success","url":"u","status":200,"size":1,"elapsed_ms":1.0,"http_version":"HTTP/1.1"}),
        json!({"type":"failure","url":"u","error":"e","error_kind":"io","elapsed_ms":0.0,"ttfb_ms":1.0}),
        json!({"type":"success","url":"u","status":200,"size":1,"elapsed_ms":1.0,"http_version":"HTTP/1.1","ttfb_ms":1.0,"sha256":"ABC"}),
        json!({"type":"success","url":"u","status":200,"size":1,"elapsed_ms":1.0,"http_version":"HTTP/1.1","ttfb_ms":1.0,"reused":false}),
        json!({"type":"failure","url":"u","error":"e","error_kind":"status","status":404,"elapsed_ms":0.0}),
        // A body path on a transport failure, and one not ending in a hash.
        json!({"type":"failure","url":"u","error":"e","error_kind":"timeout","elapsed_ms":0.0,"body_path":format!("d/h/{:064x}", 0)}),
        json!({"type":"success","url":"u","status":200,"size":1,"elapsed_ms":1.0,"http_version":"HTTP/1.1","ttfb_ms":1.0,"body_path":"d/h/x"}),
    ];
    for value in bad {
        assert!(
            schema::violation(schema::records(), &value).is_some(),
            "accepted: {value}"
        );
    }
    // Pass-through keys are allowed.
    let ok = json!({"type":"failure","url":"u","error":"e","error_kind":"io","elapsed_ms":0.0,"id":7,"tags":["a"]});
    assert_eq!(schema::violation(schema::records(), &ok), None);
}

/// The stderr schema rejects summaries and messages the code never writes,
/// and accepts a warning with its optional keys.
#[test]
fn the_stderr_schema_rejects_bad_lines() {
    let bad = [
        json!({"type":"summary","total":1,"succeeded":1,"elapsed_ms":0.0}),
        json!({"type":"summary","total":1,"succeeded":1,"failed":0,"elapsed_ms":0.0,"extra":1}),
        json!({"type":"summary","total":1,"succeeded":1,"failed":0,"elapsed_ms":0.0,"interrupted":false}),
        json!({"type":"warning","message":"m"}),
        json!({"type":"error","kind":"Bad Kind","message":"m"}),
        json!({"type":"warning","kind":"k","message":"m","flag":"-c"}),
        json!({"type":"notice","kind":"k","message":"m"}),
    ];
    for value in bad {
        assert!(
            schema::violation(schema::stderr(), &value).is_some(),
            "accepted: {value}"
        );
    }
    let ok = json!({"type":"warning","kind":"fd_limit","message":"m","flag":"--max-concurrency","file":"urls.txt","n":1});
    assert_eq!(schema::violation(schema::stderr(), &ok), None);
}

/// The check on every run panics on a bad JSON line, naming it, and skips
/// lines that are not JSON objects.
#[test]
fn the_run_check_panics_on_a_bad_line() {
    schema::check_output("not json\n[1]\n", "fetcher-stream: a message\n");
    let bad = r#"{"type":"failure","url":"u","error":"e","error_kind":"nope","elapsed_ms":0.0}"#;
    let panic = std::panic::catch_unwind(|| schema::check_output(bad, ""))
        .expect_err("a bad record passed the check");
    let text = panic.downcast_ref::<String>().expect("a formatted panic");
    assert!(text.contains(bad) && text.contains("stdout"), "{text}");
}

/// The man page names both schema files and their versioned ids.
#[test]
fn the_man_page_names_the_schemas() {
    let man = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/fetcher-stream.1"))
        .unwrap()
        .replace("\\-", "-");
    for path in [RECORD_SCHEMA, STDERR_SCHEMA] {
        let id = schema::load(path)["$id"].as_str().expect("$id").to_owned();
        assert!(id.ends_with(":v1"), "{path}: $id {id}");
        let file = path.rsplit('/').next().unwrap();
        assert!(man.contains(&id), "the man page does not name {id}");
        assert!(man.contains(file), "the man page does not name {file}");
    }
}
