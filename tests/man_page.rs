//! The hand-written man page (`man/fetcher-stream.1`) and the README keep up
//! with the CLI.
//!
//! The flags are defined once, in `src/cli.rs`; the man page is written by hand
//! (as fd's is), so these tests compare it with what the built binary's `--help`
//! prints: every long flag, every short flag paired with its long one, every
//! `[default: …]`, the sections, the exit statuses and the error kinds.
//!
//! roff writes a hyphen as `\-` and switches fonts with `\fB`…`\fR`, so the page
//! is normalised before comparing (see [`plain`]).

use std::collections::BTreeSet;

use crate::internals::Exit;
use crate::support::{error_kinds, Cmd};

const MAN_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/man/fetcher-stream.1");

/// The sections the page must have, in this order.
const SECTIONS: [&str; 9] = [
    "NAME",
    "SYNOPSIS",
    "DESCRIPTION",
    "OPTIONS",
    "OUTPUT FORMAT",
    "EXIT STATUS",
    "ENVIRONMENT",
    "EXAMPLES",
    "SEE ALSO",
];

fn man_page() -> String {
    std::fs::read_to_string(MAN_PATH).unwrap_or_else(|e| panic!("reading {MAN_PATH}: {e}"))
}

/// The binary's `--help` (long help).
fn long_help() -> String {
    let out = Cmd::new(&["--help"]).output("");
    assert!(out.status.success(), "--help failed: {out:?}");
    out.stdout
}

/// roff source to plain text, line for line (see [`plain_line`]).
fn plain(roff: &str) -> String {
    roff.lines().map(plain_line).collect::<Vec<_>>().join("\n")
}

/// One roff line as plain text: `\-` becomes `-`, font and spacing escapes
/// go, a request line loses its macro name and quotes (`.BR "a b" c` → `a b c`),
/// and a comment becomes empty.
fn plain_line(line: &str) -> String {
    if line.starts_with(".\\\"") {
        return String::new();
    }
    let mut s = line.replace("\\-", "-").replace("\\(aq", "'");
    for esc in ["\\fB", "\\fI", "\\fR", "\\fP", "\\c", "\\&", "\\|"] {
        s = s.replace(esc, "");
    }
    match s.strip_prefix('.') {
        Some(request) => request
            .split_once(' ')
            .map_or("", |(_, args)| args)
            .replace('"', ""),
        None => s,
    }
}

/// Every `--long-flag` in `text` (a `--` followed by a lowercase letter, up to
/// the first character that cannot be in a flag name).
fn long_flags(text: &str) -> BTreeSet<String> {
    let mut flags = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("--") {
        let after = &rest[i + 2..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        let before_ok = rest[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_ascii_alphanumeric() && c != '-');
        if before_ok && name.starts_with(|c: char| c.is_ascii_lowercase()) {
            flags.insert(format!("--{}", name.trim_end_matches('-')));
        }
        rest = &after[name.len()..];
    }
    flags
}

/// The text of roff section `name` (from its `.SH` line to the next one).
fn section<'a>(man: &'a str, name: &str) -> &'a str {
    let mut start = None;
    for (at, line) in line_offsets(man) {
        let Some(title) = line.strip_prefix(".SH ") else {
            continue;
        };
        if let Some(start) = start {
            return &man[start..at];
        }
        if title.trim().trim_matches('"') == name {
            start = Some(at);
        }
    }
    match start {
        Some(start) => &man[start..],
        None => panic!("the man page has no section {name}"),
    }
}

/// Each line of `text` with the byte offset where it starts.
fn line_offsets(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split_inclusive('\n').scan(0, |at, line| {
        let here = *at;
        *at += line.len();
        Some((here, line.trim_end_matches('\n')))
    })
}

/// One documented option: the flags in its heading and the text under it.
#[derive(Debug)]
struct Item {
    short: Option<char>,
    long: String,
    /// The heading as plain text (`-q, --quiet, -s, --silent`).
    heading: String,
    body: String,
}

/// The options of `--help`: heading lines (indented by 2 spaces, or 6 when
/// there is no short flag) followed by their description lines (indented more).
fn help_options(help: &str) -> Vec<Item> {
    let mut items: Vec<Item> = Vec::new();
    let mut in_options = false;
    for line in help.lines() {
        if line == "Options:" {
            in_options = true;
            continue;
        }
        if !in_options {
            continue;
        }
        let text = line.trim_start();
        let indent = line.len() - text.len();
        if indent <= 6 && text.starts_with('-') && !text.starts_with("- ") {
            items.push(parse_heading(text));
        } else if let Some(item) = items.last_mut() {
            item.body.push_str(line);
            item.body.push('\n');
        }
    }
    items
}

/// The `.TP` items of the man page's OPTIONS section: the line after `.TP` is
/// the heading, the lines up to the next `.TP` the description.
fn man_options(man: &str) -> Vec<Item> {
    let mut items: Vec<Item> = Vec::new();
    let mut heading_next = false;
    for line in section(man, "OPTIONS").lines() {
        if line.starts_with(".TP") {
            heading_next = true;
        } else if heading_next {
            heading_next = false;
            items.push(parse_heading(plain_line(line).trim()));
        } else if let Some(item) = items.last_mut() {
            item.body.push_str(&plain_line(line));
            item.body.push('\n');
        }
    }
    items
}

/// Reads `-c, --max-concurrency <N>` (or `-c , --max-concurrency N`): the
/// optional short flag and the long flag.
fn parse_heading(h: &str) -> Item {
    let long = long_flags(h)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no long flag in option heading {h:?}"));
    let short = h
        .strip_prefix('-')
        .and_then(|s| s.chars().next())
        .filter(|c| c.is_ascii_alphabetic() && !h.starts_with("--"));
    Item {
        short,
        long,
        heading: h.to_owned(),
        body: String::new(),
    }
}

/// `[default: X]` in clap's help, or `Default: X` in the man page, as `x`
/// without spaces (lowercase; roff and clap wrap lines differently).
fn default_value(body: &str) -> Option<String> {
    let squashed: String = body
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase();
    let at = squashed.find("default:")? + "default:".len();
    let value: String = squashed[at..]
        .chars()
        .take_while(|c| !matches!(c, ']' | ';' | ')'))
        .collect();
    Some(value.trim_end_matches('.').to_owned())
}

/// Long flags that `--help` prints and `man` does not have.
fn missing_flags(help: &str, man: &str) -> Vec<String> {
    let documented = long_flags(&plain(man));
    long_flags(help)
        .into_iter()
        .filter(|f| !documented.contains(f))
        .collect()
}

#[test]
fn every_long_flag_in_help_is_in_the_man_page() {
    let help = long_help();
    let flags = long_flags(&help);
    // Guard against a parser that finds nothing and so checks nothing.
    for expected in ["--max-concurrency", "--timeout", "--help", "--version"] {
        assert!(flags.contains(expected), "{expected} not found in --help");
    }
    let missing = missing_flags(&help, &man_page());
    assert!(
        missing.is_empty(),
        "flags in --help but not in {MAN_PATH}: {missing:?}"
    );
}

#[test]
fn options_section_matches_help_flag_for_flag() {
    let help = help_options(&long_help());
    let man = man_options(&man_page());
    let help_set: BTreeSet<_> = help.iter().map(|i| (i.short, i.long.clone())).collect();
    let man_set: BTreeSet<_> = man.iter().map(|i| (i.short, i.long.clone())).collect();
    assert!(help_set.len() >= 10, "too few options parsed: {help_set:?}");
    let only_help: Vec<_> = help_set.difference(&man_set).collect();
    let only_man: Vec<_> = man_set.difference(&help_set).collect();
    assert!(
        only_help.is_empty() && only_man.is_empty(),
        "(short, long) pairs differ.\n  in --help only: {only_help:?}\n  in OPTIONS only: {only_man:?}"
    );
}

/// The other names clap lists under an option (`[alias: -m]`,
/// `[aliases: -s, --silent]`).
fn aliases(body: &str) -> Vec<String> {
    let squashed = body.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut found = Vec::new();
    for open in ["[alias: ", "[aliases: "] {
        if let Some(at) = squashed.find(open) {
            let rest = &squashed[at + open.len()..];
            let list = &rest[..rest.find(']').unwrap_or(rest.len())];
            found.extend(list.split(", ").map(str::to_owned));
        }
    }
    found
}

/// Each alias `--help` lists is in the man page's heading of its option, so
/// that `-m` and `--silent` can be looked up there too.
#[test]
fn aliases_in_help_are_in_the_man_page_headings() {
    let man = man_options(&man_page());
    let mut checked = 0;
    for item in help_options(&long_help()) {
        for alias in aliases(&item.body) {
            let doc = man
                .iter()
                .find(|m| m.long == item.long)
                .unwrap_or_else(|| panic!("{} is not in OPTIONS", item.long));
            let named = doc
                .heading
                .split(|c: char| c == ',' || c.is_whitespace())
                .any(|word| word == alias);
            assert!(named, "{alias} (of {}) not in {:?}", item.long, doc.heading);
            checked += 1;
        }
    }
    // -m, --request, -s and --silent at least.
    assert!(checked >= 4, "only {checked} aliases found in --help");
}

#[test]
fn defaults_in_the_man_page_match_help() {
    let man = man_options(&man_page());
    for item in help_options(&long_help()) {
        let Some(want) = default_value(&item.body) else {
            continue;
        };
        let doc = man
            .iter()
            .find(|m| m.long == item.long)
            .unwrap_or_else(|| panic!("{} is not in OPTIONS", item.long));
        assert_eq!(
            default_value(&doc.body).as_deref(),
            Some(want.as_str()),
            "default of {} in the man page",
            item.long
        );
    }
}

#[test]
fn sections_are_all_there_in_order() {
    let man = man_page();
    let found: Vec<String> = man
        .lines()
        .filter_map(|l| l.strip_prefix(".SH "))
        .map(|t| t.trim().trim_matches('"').to_owned())
        .collect();
    assert_eq!(found, SECTIONS, "the .SH sections of {MAN_PATH}");
}

#[test]
fn title_line_names_this_version() {
    let man = man_page();
    let th = man
        .lines()
        .find(|l| l.starts_with(".TH "))
        .expect(".TH line");
    let want = format!("fetcher-stream {}", env!("CARGO_PKG_VERSION"));
    assert!(th.contains(&want), "{th:?} should name {want:?}");
}

#[test]
fn every_exit_status_is_listed() {
    let all = [
        Exit::Success,
        Exit::SomeFailed,
        Exit::Error,
        Exit::Interrupted,
        Exit::BrokenPipe,
    ];
    // Adding a variant stops this match compiling: add it to `all` too.
    for e in all {
        match e {
            Exit::Success
            | Exit::SomeFailed
            | Exit::Error
            | Exit::Interrupted
            | Exit::BrokenPipe => {}
        }
    }
    let text = section(&man_page(), "EXIT STATUS").to_owned();
    for e in all {
        let heading = format!(".TP\n.B {}\n", e.code());
        assert!(
            text.contains(&heading),
            "exit status {} not listed",
            e.code()
        );
    }
}

#[test]
fn every_error_kind_is_explained() {
    let text = section(&man_page(), "OUTPUT FORMAT").to_owned();
    for k in error_kinds() {
        let heading = format!("\n.B {}\n", k.as_str());
        assert!(text.contains(&heading), "error_kind {k} not explained");
    }
}

/// The checks above can fail: a page without a flag, or with a wrong default,
/// is caught.
#[test]
fn the_checks_catch_a_missing_flag_and_a_wrong_default() {
    let help = long_help();
    let man = man_page();
    let without = man.replace("\\-\\-keep\\-order", "\\-\\-keep");
    assert_eq!(missing_flags(&help, &without), ["--keep-order"]);

    let wrong = man.replace("Default: 10.", "Default: 11.");
    let doc = man_options(&wrong)
        .into_iter()
        .find(|m| m.long == "--max-redirects")
        .expect("--max-redirects item");
    assert_eq!(default_value(&doc.body).as_deref(), Some("11"));
}

const README_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");

/// The README's user part: everything before its `## Library` section,
/// which may name the API.
fn readme_user_part() -> String {
    let text = std::fs::read_to_string(README_PATH)
        .unwrap_or_else(|e| panic!("reading {README_PATH}: {e}"));
    let end = text
        .find("\n## Library")
        .expect("README has a Library section");
    text[..end].to_owned()
}

/// Every long flag of `--help` is in the README's user part too.
#[test]
fn every_long_flag_in_help_is_in_the_readme() {
    let help = long_help();
    let readme = readme_user_part();
    let documented = long_flags(&readme);
    let missing: Vec<String> = long_flags(&help)
        .into_iter()
        .filter(|f| !documented.contains(f))
        .collect();
    assert!(
        missing.is_empty(),
        "flags in --help but not in the README: {missing:?}"
    );
    // Short names and aliases too (`-m`, `-s`, `-L`, `-I`, `-u`, ...).
    for item in help_options(&help) {
        let names = item.short.map(|c| format!("-{c}")).into_iter();
        for name in names.chain(aliases(&item.body)) {
            assert!(
                readme.contains(&format!("`{name}`")) || readme.contains(&format!("`{name} ")),
                "{name} (of {}) is not in the README",
                item.long
            );
        }
    }
}

/// The long flags named in the first cell of each row of the README's
/// options table (the table under `| Option | Default | Meaning |`), a set
/// per row.
fn readme_option_rows(readme: &str) -> Vec<BTreeSet<String>> {
    let start = readme
        .find("\n| Option | Default | Meaning |\n")
        .expect("README has an options table");
    readme[start + 1..]
        .lines()
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(|row| {
            let cells = row.trim_start_matches('|');
            long_flags(&cells[..cells.find(" | ").unwrap_or(cells.len())])
        })
        .collect()
}

/// Every option of `--help` has its row in the README's options table, with
/// its long aliases in the same row.
#[test]
fn every_option_in_help_has_a_row_in_the_readme_table() {
    let rows = readme_option_rows(&readme_user_part());
    assert!(rows.len() >= 10, "too few rows parsed: {rows:?}");
    let options = help_options(&long_help());
    assert!(options.len() >= 10, "too few options parsed: {options:?}");
    let mut missing = Vec::new();
    for item in options {
        let names: BTreeSet<String> = std::iter::once(item.long.clone())
            .chain(
                aliases(&item.body)
                    .into_iter()
                    .filter(|a| a.starts_with("--")),
            )
            .collect();
        if !rows.iter().any(|row| row.is_superset(&names)) {
            missing.push(names);
        }
    }
    assert!(
        missing.is_empty(),
        "options of --help without a row in the README's options table: {missing:?}"
    );
    // The check sees a row's flags only in its first cell.
    let table =
        "x\n| Option | Default | Meaning |\n|---|---|---|\n| `--a <N>` | 1 | Not `--b`. |\nafter";
    assert_eq!(
        readme_option_rows(table),
        vec![BTreeSet::from(["--a".to_owned()])]
    );
}

/// The kinds of the warning and error records the program writes, read from
/// its source (`Notice::warning("kind"` and `Notice::error("kind"`).
fn notice_kinds() -> BTreeSet<String> {
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut kinds = BTreeSet::new();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for call in ["Notice::warning(", "Notice::error("] {
            for (at, _) in text.match_indices(call) {
                let rest = text[at + call.len()..].trim_start();
                if let Some(quoted) = rest.strip_prefix('"') {
                    kinds.insert(quoted[..quoted.find('"').unwrap()].to_owned());
                }
            }
        }
    }
    kinds
}

/// Each kind of warning and error record is explained in the README, the man
/// page and the `kind` field's documentation.
#[test]
fn every_notice_kind_is_documented() {
    let kinds = notice_kinds();
    for expected in ["open_file_limit", "raised", "per_host_cap", "input"] {
        assert!(
            kinds.contains(expected),
            "{expected} not found in src: {kinds:?}"
        );
    }
    let readme = readme_user_part();
    let man = section(&man_page(), "OUTPUT FORMAT").to_owned();
    let output =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/output.rs")).unwrap();
    let field_doc = &output[output.find("pub struct Notice").unwrap()..];
    let field_doc = &field_doc[..field_doc.find("pub kind").unwrap()];
    for kind in &kinds {
        assert!(
            readme.contains(&format!("`{kind}`")),
            "{kind} not in the README"
        );
        assert!(
            man.contains(&format!("\n.B {kind}\n")),
            "{kind} not in the man page"
        );
        assert!(
            field_doc.contains(&format!("`{kind}`")),
            "{kind} not in Notice::kind's doc"
        );
    }
}

/// User docs (--help, the man page, the README's user part) name behaviours,
/// not the program's internals.
#[test]
fn user_docs_name_no_internals() {
    let internals = [
        "buffer_unordered",
        "buffered(",
        "FetchResult",
        "Config",
        "Scheduler",
        "tokio",
        "futures",
    ];
    for (name, text) in [
        ("--help", long_help()),
        ("the man page", man_page()),
        ("the README", readme_user_part()),
    ] {
        for word in internals {
            assert!(!text.contains(word), "{name} mentions {word}");
        }
    }
}

/// `--progress auto` leaves the line off when stdout is a terminal: --help,
/// the man page and the README's user part each say so.
#[test]
fn the_progress_auto_rule_is_documented() {
    let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    for (name, text, rule) in [
        ("--help", words(&long_help()), "and stdout is not"),
        (
            "the man page",
            words(&plain(&man_page())),
            "and standard output is not",
        ),
        (
            "the README",
            words(&readme_user_part()),
            "and stdout is not",
        ),
    ] {
        assert!(text.contains(rule), "{name} does not say {rule:?}");
    }
}

/// Each summary field (the summary's properties in the stderr schema, which
/// `tests/schema.rs` ties to `Summary`) has its entry in the man page's
/// summary section and a row in the README's summary table.
#[test]
fn every_summary_field_is_documented() {
    let schema = crate::support::schema::load(crate::support::schema::STDERR_SCHEMA);
    let fields = schema
        .pointer("/$defs/summary/properties")
        .and_then(serde_json::Value::as_object)
        .expect("summary properties");
    let man = man_page();
    let start = man
        .find(".SS \"summary (standard error)\"")
        .expect("summary section");
    let end = man[start + 1..]
        .find("\n.SS ")
        .map_or(man.len(), |i| start + 1 + i);
    let summary_section: BTreeSet<&str> = man[start..end].lines().collect();
    let readme = readme_user_part();
    assert!(fields.contains_key("other_shard"), "{fields:?}");
    for field in fields.keys().filter(|k| *k != "type") {
        assert!(
            summary_section.contains(format!(".B {field}").as_str()),
            "{field} has no `.B {field}` entry in the man page's summary section"
        );
        assert!(
            readme.contains(&format!("| `{field}` |")),
            "{field} has no row in the README's summary table"
        );
    }
}

/// `--max-per-host auto`'s algorithm and its constants (start, probe run,
/// its largest multiple) and the advice to add `--retries` are in --help,
/// the man page and the README's user part alike.
#[test]
fn the_max_per_host_auto_rule_is_documented() {
    let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    let help = long_help();
    assert!(help.contains("--max-per-host <N|auto>"), "{help}");
    for (name, text) in [
        ("--help", words(&help)),
        ("the man page", words(&plain(&man_page()))),
        ("the README", words(&readme_user_part())),
    ] {
        for rule in [
            "starts at 2",
            "429 or 503",
            "halves",
            "4 x cap",
            "16 times",
            "--retries 3",
        ] {
            assert!(text.contains(rule), "{name} does not say {rule:?}");
        }
    }
}
