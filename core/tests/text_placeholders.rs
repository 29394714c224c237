//! Every call that fills a text's placeholders (`tf`, `tp`, `text_f`, `text_p`) names exactly
//! the placeholders the English text has: a misspelt name would otherwise leave `{name}` on a
//! shopper's screen, and a forgotten one an empty gap. `core/build.rs` already checks that the
//! three languages agree on each text's placeholders; this checks the Rust that fills them.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

/// Placeholder names in a text: `{name}`.
fn placeholders(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find('}') else { break };
        out.insert(rest[..close].to_string());
        rest = &rest[close + 1..];
    }
    out
}

/// English texts by key (`{namespace}_{key}`, as `K` names them); plural forms joined.
fn english() -> BTreeMap<String, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("locales/en");
    let mut out = BTreeMap::new();
    for entry in fs::read_dir(&dir).expect("locales/en") {
        let path = entry.expect("entry").path();
        let ns = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("name")
            .to_string();
        let json: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&path).expect("read")).expect("json");
        for (k, v) in json.as_object().expect("object") {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Object(forms) => forms
                    .values()
                    .filter_map(|f| f.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                other => panic!("{ns}.{k}: unexpected {other}"),
            };
            out.insert(format!("{ns}_{k}"), text);
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// One filling call: the function, the key and the names it passes.
struct Call {
    at: String,
    function: &'static str,
    key: String,
    names: BTreeSet<String>,
}

/// The text of a call's arguments: from just after its `(` to its matching `)`, string
/// literals and nested brackets skipped over.
fn call_arguments(rest: &str) -> Option<&str> {
    let mut depth = 1;
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                while let Some((_, d)) = chars.next() {
                    match d {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&rest[..i]);
                }
            }
            _ => {}
        }
    }
    None
}

/// The names in an argument list `&[("a", x), ("b", y)]`: the string literal that opens each
/// pair (at the list's own depth, not inside the values).
fn pair_names(list: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut depth = 0;
    let mut chars = list.char_indices().peekable();
    let mut pair_opened = false;
    while let Some((_, c)) = chars.next() {
        match c {
            '"' => {
                let mut literal = String::new();
                while let Some((_, d)) = chars.next() {
                    match d {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        other => literal.push(other),
                    }
                }
                if pair_opened && depth == 2 {
                    names.insert(literal);
                }
                pair_opened = false;
            }
            '(' | '[' | '{' => {
                depth += 1;
                pair_opened = c == '(' && depth == 2;
            }
            ')' | ']' | '}' => {
                depth -= 1;
                pair_opened = false;
            }
            c if c.is_whitespace() => {}
            _ => pair_opened = false,
        }
    }
    names
}

/// Finds `tf(K::key, &[("a", ..), ("b", ..)])` and the like: the key named literally, and
/// the names of the pairs in the call's own argument list.
fn calls_in(path: &Path, source: &str) -> Vec<Call> {
    let mut out = Vec::new();
    for function in ["tf", "tp", "text_f", "text_p"] {
        let opening = format!("{function}(");
        let mut from = 0;
        while let Some(found) = source[from..].find(&opening) {
            let start = from + found;
            from = start + opening.len();
            // A whole identifier: `tf(` but not `ltf(`; and not the definition `fn tf(`.
            let before = source[..start].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                || source[..start].ends_with("fn ")
            {
                continue;
            }
            let Some(args) = call_arguments(&source[from..]) else {
                continue;
            };
            let Some(k) = args.find("K::") else { continue };
            let key: String = args[k + 3..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let Some(list) = args.find("&[") else {
                continue;
            };
            let names = pair_names(&args[list + 1..]);
            let line = source[..start].lines().count();
            out.push(Call {
                at: format!("{}:{line}", path.display()),
                function,
                key,
                names,
            });
        }
    }
    out
}

#[test]
fn every_filled_text_gets_exactly_its_placeholders() {
    let texts = english();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for dir in ["app/src", "backend/src", "server/src", "core/src"] {
        rust_files(&root.join(dir), &mut files);
    }
    let mut checked = 0;
    let mut wrong = Vec::new();
    for path in files {
        let source = fs::read_to_string(&path).expect("read");
        for call in calls_in(&path, &source) {
            // `K::` followed by a key held in a variable is not a literal key: skip it.
            let Some(text) = texts.get(&call.key) else {
                continue;
            };
            let mut wanted = placeholders(text);
            if call.function.ends_with('p') {
                // The count fills `{n}` itself.
                wanted.remove("n");
            }
            // A placeholder left for markup is split around (`i18n::around(&text, "name")`).
            wanted.retain(|name| {
                call.names.contains(name)
                    || !(source.contains("around(") && source.contains(&format!("\"{name}\")")))
            });
            checked += 1;
            if call.names != wanted {
                wrong.push(format!(
                    "{} {}(K::{}): passes {:?}, the text has {:?}",
                    call.at, call.function, call.key, call.names, wanted
                ));
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} calls found: is the search still right?"
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
