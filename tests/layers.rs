//! The layer check: a module of the library may use only itself and the
//! modules below it, so dependencies run one way and no import cycle can form.
//!
//! The order lives in one place, a line of the crate doc in `src/lib.rs`:
//!
//! ```text
//! //! Layers, top to bottom: app > cli > … > error
//! ```
//!
//! A module `m` is the file `src/m.rs` or the folder `src/m/` (every file in
//! it counts as `m`, so references inside one folder are free). Every
//! `crate::x` path in `m`'s code must name `m` itself or a module listed after
//! `m`. That covers `use crate::x::…;`, grouped uses (`use crate::{x::…, y};`,
//! across lines, with nested braces: only the top-level names count) and paths
//! in expressions and types (`crate::x::Foo::new()`, `$crate::x` in macros).
//!
//! What the check reports:
//! - a `crate::x` where `x` is listed above `m`;
//! - a `crate::x` where `x` is not a listed module: a name re-exported by
//!   `lib.rs` (`crate::Config`), `crate::*` or `crate::{self}`, since a path
//!   through the crate root hides which layer it reaches;
//! - a module file or folder that the line does not list (new modules must be
//!   placed), and a listed module with no file or folder (the line must stay
//!   true).
//!
//! What it does not read: comments, doc comments included (an intra-doc link
//! to a module above is documentation, not a dependency), and the insides of
//! string, byte-string, raw-string and character literals, so
//! `"crate::fetch"` in a message is not a reference.
//!
//! A `super::` chain that climbs out of the file's own module to the crate
//! root (`super::x` in `src/m.rs`, `super::super::x` in `src/m/f.rs`, one
//! more `super` per inline `mod … {` it sits in) counts as `crate::x`, and
//! `crate as …` or `extern crate self` (a second name for the root) is
//! reported. `lib.rs`, `main.rs` and `src/bin/` sit above every layer and are
//! not checked.

use std::collections::HashSet;
use std::fmt;
use std::fs;
use std::path::Path;

/// How the layers line of `src/lib.rs` starts; the module names follow,
/// separated by `>`, top layer first.
const LAYERS_LINE: &str = "//! Layers, top to bottom:";

/// Fails, listing every violation with its file and line, when a module of
/// `src/` uses one above it or the layers line does not match `src/`.
#[test]
fn modules_use_only_the_layers_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib_rs = fs::read_to_string(src.join("lib.rs")).expect("read src/lib.rs");
    let mut files = Vec::new();
    read_sources(&src, "", &mut files);
    match check(&lib_rs, &files) {
        Err(missing_line) => panic!("{missing_line}"),
        Ok(problems) if problems.is_empty() => {}
        Ok(problems) => {
            let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
            panic!(
                "{} layer violation(s); the order is the `{LAYERS_LINE}` line of src/lib.rs:\n{}",
                problems.len(),
                list.join("\n")
            );
        }
    }
}

/// Collects every `.rs` file under `dir` as (path relative to `src/`, text),
/// sorted so that reports come out in the same order on every machine.
fn read_sources(dir: &Path, prefix: &str, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("read a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let relative = format!("{prefix}{name}");
        if path.is_dir() {
            read_sources(&path, &format!("{relative}/"), out);
        } else if name.ends_with(".rs") {
            let text = fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
            out.push((relative, text));
        }
    }
}

/// One thing the check found wrong.
#[derive(Debug, PartialEq)]
enum Problem {
    /// `file:line` of module `from` uses `crate::to`, and `to` is listed
    /// above `from`.
    Upward {
        file: String,
        line: usize,
        from: String,
        to: String,
    },
    /// `file:line` of module `from` uses `crate::to`, and `to` is not a
    /// listed module (a re-export of `lib.rs`, `*`, `self`, or a module left
    /// out of the line).
    NotALayer {
        file: String,
        line: usize,
        from: String,
        to: String,
    },
    /// A module in `src/` that the layers line leaves out; its references
    /// are not checked until it is placed.
    Unlisted { module: String, file: String },
    /// A listed module with neither `src/m.rs` nor `src/m/`.
    Missing { module: String },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Upward {
                file,
                line,
                from,
                to,
            } => write!(
                f,
                "src/{file}:{line}: `{from}` uses `crate::{to}`, a layer above it"
            ),
            Problem::NotALayer {
                file,
                line,
                from,
                to,
            } if to == "crate as" => write!(
                f,
                "src/{file}:{line}: `{from}` gives the crate root a second name, which hides the layer it reaches"
            ),
            Problem::NotALayer {
                file,
                line,
                from,
                to,
            } => write!(
                f,
                "src/{file}:{line}: `{from}` uses `crate::{to}`, which is not a layer; \
                 name the module that defines it"
            ),
            Problem::Unlisted { module, file } => write!(
                f,
                "src/{file}: module `{module}` is not in the layers line; place it"
            ),
            Problem::Missing { module } => write!(
                f,
                "layer `{module}` is listed but there is no src/{module}.rs or src/{module}/"
            ),
        }
    }
}

/// Checks the modules in `files` (paths relative to `src/`, with their text)
/// against the layers line of `lib_rs`.
///
/// # Errors
/// When `lib_rs` has no well-formed layers line: nothing can be checked.
fn check(lib_rs: &str, files: &[(String, String)]) -> Result<Vec<Problem>, String> {
    let layers = parse_layers(lib_rs)?;
    let rank = |module: &str| layers.iter().position(|layer| layer == module);
    let mut problems = Vec::new();
    let mut present = HashSet::new();
    let mut unlisted = HashSet::new();
    for (file, text) in files {
        let Some(module) = module_of(file) else {
            continue;
        };
        present.insert(module.to_owned());
        let Some(from_rank) = rank(module) else {
            if unlisted.insert(module.to_owned()) {
                problems.push(Problem::Unlisted {
                    module: module.to_owned(),
                    file: file.clone(),
                });
            }
            continue;
        };
        for (to, line) in crate_references(text, root_depth(file)) {
            let (file, from) = (file.clone(), module.to_owned());
            match rank(&to) {
                Some(to_rank) if to_rank >= from_rank => {}
                Some(_) => problems.push(Problem::Upward {
                    file,
                    line,
                    from,
                    to,
                }),
                None => problems.push(Problem::NotALayer {
                    file,
                    line,
                    from,
                    to,
                }),
            }
        }
    }
    for layer in &layers {
        if !present.contains(layer) {
            problems.push(Problem::Missing {
                module: layer.clone(),
            });
        }
    }
    Ok(problems)
}

/// How many `super::` steps lead from the top of `file` (relative to `src/`)
/// to the crate root: 1 for `m.rs` and `m/mod.rs`, 2 for `m/f.rs`, and so on.
fn root_depth(file: &str) -> usize {
    let parts = file.split('/').count();
    if file.ends_with("/mod.rs") {
        parts - 1
    } else {
        parts
    }
}

/// The module a file belongs to, from its path relative to `src/`: `m.rs`
/// and everything under `m/` are `m`. `None` for the crate roots (`lib.rs`,
/// `main.rs`, `bin/`), which are not checked.
fn module_of(file: &str) -> Option<&str> {
    let (first, rest) = match file.split_once('/') {
        Some((dir, rest)) => (dir, Some(rest)),
        None => (file.strip_suffix(".rs")?, None),
    };
    let root = match rest {
        Some(_) => first == "bin",
        None => first == "lib" || first == "main",
    };
    (!root).then_some(first)
}

/// The module names of the layers line of `lib_rs`, top layer first.
///
/// # Errors
/// When there is no such line, or it names no module, a module twice, or
/// something that is not a module name.
fn parse_layers(lib_rs: &str) -> Result<Vec<String>, String> {
    let example = format!("{LAYERS_LINE} app > cli > … > error");
    let Some(list) = lib_rs
        .lines()
        .find_map(|line| line.trim_start().strip_prefix(LAYERS_LINE))
    else {
        return Err(format!(
            "src/lib.rs has no layers line: its crate doc needs one line listing every \
             module of src/, top layer first, like\n    {example}"
        ));
    };
    let mut layers: Vec<String> = Vec::new();
    for name in list.split('>').map(str::trim) {
        let is_name = name.starts_with(|c: char| c.is_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_alphanumeric() || c == '_');
        if !is_name {
            return Err(format!(
                "the layers line of src/lib.rs has `{name}` where a module name should be; \
                 write it like\n    {example}"
            ));
        }
        if layers.iter().any(|layer| layer == name) {
            return Err(format!(
                "the layers line of src/lib.rs lists `{name}` twice"
            ));
        }
        layers.push(name.to_owned());
    }
    Ok(layers)
}

/// A token of Rust code, as much as the check needs: comments and the
/// insides of literals are gone.
#[derive(Debug, PartialEq)]
enum Token {
    Ident(String),
    /// `::`
    PathSep,
    Open,
    Close,
    Comma,
    /// Any other character of code (a literal shows up as one `"` or `'`).
    Other(char),
}

/// Splits `source` into tokens with their 1-based line numbers, dropping
/// comments (nested block comments too) and the contents of string, raw
/// string, byte and character literals, and telling lifetimes (`'a`) from
/// character literals (`'a'`, `'"'`).
fn tokenize(source: &str) -> Vec<(Token, usize)> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    // Moves `i` past one character, counting lines.
    let step = |i: &mut usize, line: &mut usize| {
        if chars[*i] == '\n' {
            *line += 1;
        }
        *i += 1;
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    step(&mut i, &mut line);
                }
            }
        } else if c == '"' {
            tokens.push((Token::Other('"'), line));
            i = skip_string(&chars, i + 1, &mut line);
        } else if c == '\'' {
            tokens.push((Token::Other('\''), line));
            i = skip_char_or_lifetime(&chars, i + 1);
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = chars.get(i).copied();
            match (word.as_str(), next) {
                ("r" | "br" | "cr", Some('#' | '"')) => {
                    let hashes = chars[i..].iter().take_while(|&&c| c == '#').count();
                    if chars.get(i + hashes) == Some(&'"') {
                        tokens.push((Token::Other('"'), line));
                        i = skip_raw_string(&chars, i + hashes + 1, hashes, &mut line);
                    } else {
                        // A raw identifier, `r#type`: the name is what follows `#`.
                        i += hashes;
                    }
                }
                ("b" | "c", Some('"')) => {
                    tokens.push((Token::Other('"'), line));
                    i = skip_string(&chars, i + 1, &mut line);
                }
                ("b", Some('\'')) => {
                    tokens.push((Token::Other('\''), line));
                    i = skip_char_or_lifetime(&chars, i + 1);
                }
                _ => tokens.push((Token::Ident(word), line)),
            }
        } else if c.is_ascii_digit() {
            // A number, suffix included (`1u8`, `0x1f`), so that its letters
            // do not become an identifier.
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push((Token::Other('0'), line));
        } else {
            let token = match (c, next) {
                (':', Some(':')) => {
                    i += 1;
                    Token::PathSep
                }
                ('{', _) => Token::Open,
                ('}', _) => Token::Close,
                (',', _) => Token::Comma,
                _ => Token::Other(c),
            };
            if !c.is_whitespace() {
                tokens.push((token, line));
            }
            step(&mut i, &mut line);
        }
    }
    tokens
}

/// From just after an opening `"`, the index just after the closing one.
fn skip_string(chars: &[char], mut i: usize, line: &mut usize) -> usize {
    while i < chars.len() {
        match chars[i] {
            '"' => return i + 1,
            '\\' => i += 1,
            _ => {}
        }
        if chars.get(i) == Some(&'\n') {
            *line += 1;
        }
        i += 1;
    }
    i
}

/// From just after the opening `"` of a raw string with `hashes` `#`s, the
/// index just after its closing `"` and `#`s.
fn skip_raw_string(chars: &[char], mut i: usize, hashes: usize, line: &mut usize) -> usize {
    while i < chars.len() {
        if chars[i] == '"' && chars[i + 1..].iter().take_while(|&&c| c == '#').count() >= hashes {
            return i + 1 + hashes;
        }
        if chars[i] == '\n' {
            *line += 1;
        }
        i += 1;
    }
    i
}

/// From just after a `'`: past the closing `'` of a character literal
/// (`'a'`, `'"'`, `'\''`, `'\u{7f}'`), or nowhere for a lifetime or label
/// (`'a`), whose name is then read as an identifier.
fn skip_char_or_lifetime(chars: &[char], i: usize) -> usize {
    match chars.get(i) {
        Some('\\') => {
            let mut j = i + 2;
            while j < chars.len() && chars[j] != '\'' {
                j += 1;
            }
            j + 1
        }
        Some(_) if chars.get(i + 1) == Some(&'\'') => i + 2,
        _ => i,
    }
}

/// Every `crate::x` in `source`, as (`x`, line): plain paths, and the
/// top-level names of grouped uses (`crate::{x::…, y}` gives `x` and `y`).
/// A chain of `super::` that reaches the crate root counts as `crate::`
/// (`depth` is how many steps the top of the file is from the root; each
/// inline `mod name {` adds one), and `crate as`/`crate self` give the name
/// `crate as`, which is no layer.
fn crate_references(source: &str, depth: usize) -> Vec<(String, usize)> {
    let tokens = tokenize(source);
    let mut references = Vec::new();
    // Brace depths at which the inline modules around the cursor opened.
    let mut inline_mods: Vec<usize> = Vec::new();
    let mut braces = 0;
    let ident = |i: usize| match tokens.get(i) {
        Some((Token::Ident(word), _)) => Some(word.as_str()),
        _ => None,
    };
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i].0 {
            Token::Open => {
                braces += 1;
                i += 1;
                continue;
            }
            Token::Close => {
                braces -= 1;
                if inline_mods.last() == Some(&braces) {
                    inline_mods.pop();
                }
                i += 1;
                continue;
            }
            _ => {}
        }
        if ident(i) == Some("mod")
            && ident(i + 1).is_some()
            && matches!(tokens.get(i + 2), Some((Token::Open, _)))
        {
            inline_mods.push(braces);
            i += 2;
            continue;
        }
        if ident(i) == Some("crate") && matches!(ident(i + 1), Some("as" | "self")) {
            references.push(("crate as".to_owned(), tokens[i].1));
            i += 2;
            continue;
        }
        // The index of the name after `crate::`, or after a `super::` chain
        // that reaches the root.
        let mut name_at = None;
        if ident(i) == Some("crate") && matches!(tokens.get(i + 1), Some((Token::PathSep, _))) {
            name_at = Some(i + 2);
        } else if ident(i) == Some("super")
            && !matches!(tokens.get(i.wrapping_sub(1)), Some((Token::PathSep, _)))
        {
            let mut steps = 0;
            let mut j = i;
            while ident(j) == Some("super")
                && matches!(tokens.get(j + 1), Some((Token::PathSep, _)))
            {
                steps += 1;
                j += 2;
            }
            if steps > 0 && steps >= depth + inline_mods.len() {
                name_at = Some(j);
            } else {
                i = j.max(i + 1);
                continue;
            }
        }
        let Some(at) = name_at else {
            i += 1;
            continue;
        };
        match tokens.get(at) {
            Some((Token::Ident(name), line)) => references.push((name.clone(), *line)),
            Some((Token::Other('*'), line)) => references.push(("*".to_owned(), *line)),
            Some((Token::Open, _)) => {
                braces += 1;
                let after = group_names(&tokens, at, &mut references);
                braces -= 1;
                i = after;
                continue;
            }
            _ => {}
        }
        i = at;
    }
    references
}

/// Reads the use group whose `{` is at `open`, adding the first name of each
/// item (`x` of `x::{…}`, `y` of `y as z`, the names of a bare inner group
/// `{a, b}`) to `out`. Returns the index just after the matching `}`.
fn group_names(tokens: &[(Token, usize)], open: usize, out: &mut Vec<(String, usize)>) -> usize {
    let mut i = open + 1;
    let mut item_start = true;
    while i < tokens.len() {
        match &tokens[i] {
            (Token::Close, _) => return i + 1,
            (Token::Comma, _) => {
                item_start = true;
                i += 1;
            }
            (Token::Open, _) if item_start => {
                i = group_names(tokens, i, out);
                item_start = false;
            }
            (Token::Open, _) => i = skip_group(tokens, i),
            (Token::Ident(name), line) if item_start => {
                out.push((name.clone(), *line));
                item_start = false;
                i += 1;
            }
            (Token::Other('*'), line) if item_start => {
                out.push(("*".to_owned(), *line));
                item_start = false;
                i += 1;
            }
            _ => i += 1,
        }
    }
    i
}

/// The index just after the `}` that closes the `{` at `open`.
fn skip_group(tokens: &[(Token, usize)], open: usize) -> usize {
    let mut depth = 0;
    for (i, (token, _)) in tokens.iter().enumerate().skip(open) {
        match token {
            Token::Open => depth += 1,
            Token::Close => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    tokens.len()
}

/// The checker's own tests, on small sources held in memory.
mod parser {
    use super::*;

    /// Whether `crate_references` finds exactly `expected` (names with
    /// their lines, in order) in `source`.
    #[track_caller]
    fn assert_refs(source: &str, expected: &[(&str, usize)]) {
        let found = crate_references(source, 1);
        let found: Vec<(&str, usize)> = found.iter().map(|(n, l)| (n.as_str(), *l)).collect();
        assert_eq!(found, expected, "in:\n{source}");
    }

    fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(path, text)| (path.to_string(), text.to_string()))
            .collect()
    }

    const LIB: &str =
        "//! The crate.\n//!\n//! Layers, top to bottom: app > fetch > http > error\n\nmod app;\n";

    #[test]
    fn the_layers_line_is_read_top_first() {
        assert_eq!(
            parse_layers(LIB).unwrap(),
            ["app", "fetch", "http", "error"]
        );
        assert_eq!(
            parse_layers("//! Layers, top to bottom:a>b_2 >c\n").unwrap(),
            ["a", "b_2", "c"]
        );
    }

    #[test]
    fn a_missing_or_malformed_layers_line_is_an_error() {
        let missing = parse_layers("//! The crate.\npub mod fetch;\n").unwrap_err();
        assert!(missing.contains("no layers line"), "{missing}");
        let doubled = parse_layers("//! Layers, top to bottom: a > b > a\n").unwrap_err();
        assert!(doubled.contains("`a` twice"), "{doubled}");
        let empty = parse_layers("//! Layers, top to bottom: a > > b\n").unwrap_err();
        assert!(empty.contains("``"), "{empty}");
        let not_a_name = parse_layers("//! Layers, top to bottom: a, b > c\n").unwrap_err();
        assert!(not_a_name.contains("`a, b`"), "{not_a_name}");
        assert!(check("fn main() {}\n", &[]).is_err());
    }

    #[test]
    fn plain_uses_and_paths_in_code() {
        let source = "use crate::fetch::Config;\n\
                      use crate::http;\n\
                      fn f() -> crate::error::Kind { crate::retry::policy().into() }\n\
                      macro_rules! m { () => { $crate::output::write() } }\n";
        assert_refs(
            source,
            &[
                ("fetch", 1),
                ("http", 2),
                ("error", 3),
                ("retry", 3),
                ("output", 4),
            ],
        );
    }

    #[test]
    fn grouped_uses_give_their_top_level_names_across_lines() {
        let source = "use crate::{\n    \
                          fetch::{Config, Job},\n    \
                          http::{pool::{Pool, Conn}, dns},\n    \
                          error as e,\n    \
                          {result, output::Writer},\n    \
                          retry,\n\
                      };\n\
                      use crate::{self, *};\n";
        assert_refs(
            source,
            &[
                ("fetch", 2),
                ("http", 3),
                ("error", 4),
                ("result", 5),
                ("output", 5),
                ("retry", 6),
                ("self", 8),
                ("*", 8),
            ],
        );
    }

    #[test]
    fn comments_are_not_read() {
        let source = "// use crate::a;\n\
                      /// See [`crate::b::Thing`].\n\
                      //! Uses crate::c.\n\
                      /* crate::d /* nested crate::e */ still a comment crate::f */\n\
                      use crate::g; // crate::h\n";
        assert_refs(source, &[("g", 5)]);
    }

    #[test]
    fn literals_are_not_read() {
        let source = "let s = \"crate::a \\\" crate::b\";\n\
                      let r = r#\"crate::c \" crate::d\"#;\n\
                      let b = b\"crate::e\";\n\
                      let q = '\"'; use crate::f;\n\
                      let e = '\\''; use crate::g;\n\
                      fn h<'a>(x: &'a str) -> crate::i::T<'a> { loop {} }\n\
                      let r#type = crate::j::X;\n\
                      let multi = \"line one\ncrate::k\"; use crate::l;\n";
        assert_refs(source, &[("f", 4), ("g", 5), ("i", 6), ("j", 7), ("l", 9)]);
    }

    #[test]
    fn visibility_and_lookalikes_are_not_references() {
        let source = "pub(crate) fn f() {}\n\
                      use other_crate::x;\n\
                      let crate_ = 1; mycrate::y();\n";
        assert_refs(source, &[]);
    }

    #[test]
    fn modules_may_use_themselves_and_the_layers_below() {
        let sources = files(&[
            ("app.rs", "use crate::{app, fetch, http::Pool, error};"),
            (
                "fetch.rs",
                "use crate::http::pool::Pool;\nfn f() -> crate::error::E {}",
            ),
            ("http/mod.rs", "mod pool;\nuse crate::http::pool::Pool;"),
            (
                "http/pool.rs",
                "use crate::http::dns;\nuse crate::error::E;",
            ),
            ("error.rs", "pub struct E;"),
            ("lib.rs", "use crate::app;"),
            ("main.rs", "use crate::app;"),
            ("bin/tool.rs", "use crate::app;"),
        ]);
        assert_eq!(check(LIB, &sources).unwrap(), []);
    }

    #[test]
    fn an_upward_use_is_reported_with_its_file_line_and_modules() {
        let sources = files(&[
            ("app.rs", ""),
            ("fetch.rs", ""),
            (
                "http/pool.rs",
                "use crate::error;\n\nuse crate::{\n    error::E,\n    fetch::Job,\n};",
            ),
            ("error.rs", "fn f() { crate::app::run() }"),
        ]);
        let problems = check(LIB, &sources).unwrap();
        assert_eq!(
            problems,
            [
                Problem::Upward {
                    file: "http/pool.rs".into(),
                    line: 5,
                    from: "http".into(),
                    to: "fetch".into()
                },
                Problem::Upward {
                    file: "error.rs".into(),
                    line: 1,
                    from: "error".into(),
                    to: "app".into()
                },
            ]
        );
        assert_eq!(
            problems[0].to_string(),
            "src/http/pool.rs:5: `http` uses `crate::fetch`, a layer above it"
        );
    }

    #[test]
    fn unplaced_modules_stale_layers_and_root_paths_are_reported() {
        let sources = files(&[
            ("app.rs", "use crate::{Config, body::Reader};"),
            ("fetch.rs", ""),
            ("body.rs", "use crate::app;"),
            ("error.rs", ""),
        ]);
        let problems = check(LIB, &sources).unwrap();
        let expected = [
            Problem::NotALayer {
                file: "app.rs".into(),
                line: 1,
                from: "app".into(),
                to: "Config".into(),
            },
            Problem::NotALayer {
                file: "app.rs".into(),
                line: 1,
                from: "app".into(),
                to: "body".into(),
            },
            Problem::Unlisted {
                module: "body".into(),
                file: "body.rs".into(),
            },
            Problem::Missing {
                module: "http".into(),
            },
        ];
        assert_eq!(problems, expected);
        assert_eq!(
            problems[2].to_string(),
            "src/body.rs: module `body` is not in the layers line; place it"
        );
    }

    #[test]
    fn super_chains_that_reach_the_root_and_second_names_for_it_count() {
        // In `error.rs` one `super` is the root; in `http/pool.rs` two are.
        let top = "use super::fetch::f;\nmod tests {\n    use super::*;\n    use super::super::app::x;\n}\n\
                   use crate as root;\nextern crate self as me;\n";
        let refs = crate_references(top, 1);
        let expected = [("fetch", 1), ("app", 4), ("crate as", 6), ("crate as", 7)];
        let got: Vec<(&str, usize)> = refs.iter().map(|(n, l)| (n.as_str(), *l)).collect();
        assert_eq!(got, expected);
        let nested = "use super::dns::Resolver;\nuse super::super::error::E;\nfn f() { super::super::app::run() }";
        let refs = crate_references(nested, 2);
        let got: Vec<(&str, usize)> = refs.iter().map(|(n, l)| (n.as_str(), *l)).collect();
        assert_eq!(got, [("error", 2), ("app", 3)]);
        assert_eq!(root_depth("error.rs"), 1);
        assert_eq!(root_depth("http/mod.rs"), 1);
        assert_eq!(root_depth("http/pool.rs"), 2);
    }

    #[test]
    fn files_map_to_their_modules() {
        assert_eq!(module_of("fetch.rs"), Some("fetch"));
        assert_eq!(module_of("http/mod.rs"), Some("http"));
        assert_eq!(module_of("http/pool/conn.rs"), Some("http"));
        assert_eq!(module_of("lib.rs"), None);
        assert_eq!(module_of("main.rs"), None);
        assert_eq!(module_of("bin/extra.rs"), None);
    }
}
