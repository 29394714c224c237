//! Compiles the UI text catalogues (`locales/{locale}/{namespace}.json`) into Rust: a key enum
//! `K` (a key that does not exist is a compile error), the English text of every key (built
//! into every build: the fallback and the first paint), and the other locales' text (built
//! into the server only; the browser fetches the one it needs, `/i18n/{locale}.json`).
//!
//! The build fails when a locale lacks a key another has, when a key's `{placeholders}`
//! differ between locales, or when a plural entry lacks the forms its language needs.
//! A catalogue entry is a string, or for plurals an object: `{"one": "...", "other": "..."}`
//! (Chinese has only `other`).

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt::Write as _,
    fs,
    path::Path,
};

/// (tag, directory, Rust name of its table, plural forms its entries need)
const LOCALES: &[(&str, &str, &[&str])] = &[
    ("en", "EN", &["one", "other"]),
    ("zh-CN", "ZH_CN", &["other"]),
    ("it", "IT", &["one", "other"]),
];

/// Plural forms are joined with this in the generated tables.
const FORM_SEPARATOR: char = '\u{1f}';

fn placeholders(s: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = s;
    while let Some(open) = rest.find('{') {
        rest = &rest[open + 1..];
        if let Some(close) = rest.find('}') {
            out.insert(rest[..close].to_string());
            rest = &rest[close + 1..];
        } else {
            break;
        }
    }
    out
}

fn main() {
    let dir = Path::new("locales");
    println!("cargo:rerun-if-changed=locales");
    // key -> per locale: the text (plural forms joined)
    let mut tables: Vec<BTreeMap<String, String>> = Vec::new();
    let mut errors = Vec::new();
    for (tag, _, forms) in LOCALES {
        let mut table = BTreeMap::new();
        let ldir = dir.join(tag);
        let mut files: Vec<_> = fs::read_dir(&ldir)
            .unwrap_or_else(|e| panic!("{}: {e}", ldir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        for file in files {
            println!("cargo:rerun-if-changed={}", file.display());
            let ns = file.file_stem().unwrap().to_string_lossy().to_string();
            let text = fs::read_to_string(&file).unwrap();
            let json: serde_json::Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let Some(obj) = json.as_object() else {
                panic!("{}: not a JSON object", file.display());
            };
            for (k, v) in obj {
                let key = format!("{ns}_{k}");
                if !key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                {
                    errors.push(format!("{tag}: key {key:?}: only a-z, 0-9 and _"));
                }
                let value = match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Object(f) => {
                        let mut parts = Vec::new();
                        for form in *forms {
                            match f.get(*form).and_then(|x| x.as_str()) {
                                Some(s) => parts.push(s.to_string()),
                                None => errors
                                    .push(format!("{tag}: {key}: plural form {form:?} missing")),
                            }
                        }
                        for form in f.keys() {
                            if !forms.contains(&form.as_str()) {
                                errors.push(format!(
                                    "{tag}: {key}: {form:?} is not a plural form of {tag}"
                                ));
                            }
                        }
                        parts.join(&FORM_SEPARATOR.to_string())
                    }
                    _ => {
                        errors.push(format!("{tag}: {key}: a string or plural forms"));
                        String::new()
                    }
                };
                table.insert(key, value);
            }
        }
        tables.push(table);
    }
    let keys: BTreeSet<&String> = tables.iter().flat_map(|t| t.keys()).collect();
    for key in &keys {
        let mut seen: Option<(&str, BTreeSet<String>)> = None;
        for ((tag, _, _), table) in LOCALES.iter().zip(&tables) {
            match table.get(*key) {
                None => errors.push(format!("{tag}: {key} is not translated")),
                Some(v) if v.trim().is_empty() => errors.push(format!("{tag}: {key} is empty")),
                Some(v) => {
                    let p = placeholders(v);
                    match &seen {
                        None => seen = Some((tag, p)),
                        Some((first, q)) if *q != p => errors.push(format!(
                            "{key}: placeholders {p:?} in {tag} but {q:?} in {first}"
                        )),
                        _ => {}
                    }
                }
            }
        }
    }
    if !errors.is_empty() {
        panic!("text catalogues:\n  {}", errors.join("\n  "));
    }
    let mut out = String::new();
    out.push_str("/// A text of the UI: one per catalogue entry (`{namespace}_{key}`).\n");
    out.push_str("#[allow(non_camel_case_types)]\n#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]\npub enum K {\n");
    for k in &keys {
        let _ = writeln!(out, "    {k},");
    }
    out.push_str("}\n\n");
    let _ = writeln!(
        out,
        "/// How many texts there are.\npub const COUNT: usize = {};\n",
        keys.len()
    );
    out.push_str(
        "/// Every key's name, in the order of the tables.\npub static NAMES: [&str; COUNT] = [\n",
    );
    for k in &keys {
        let _ = writeln!(out, "    {:?},", k);
    }
    out.push_str("];\n\n");
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for ((tag, name, _), table) in LOCALES.iter().zip(&tables) {
        // The browser fetches its language's texts, English too (`i18n::load`): no table is
        // built into the Wasm. The server and the tests have them all.
        if *tag == "en" {
            out.push_str("#[cfg(any(not(feature = \"csr\"), feature = \"ssr\", test))]\n");
        } else {
            out.push_str("#[cfg(any(feature = \"ssr\", test))]\n");
        }
        let _ = writeln!(out, "pub static {name}: [&str; COUNT] = [");
        for k in &keys {
            let v = &table[*k];
            for b in v.bytes().chain(std::iter::once(0)) {
                hash ^= u64::from(b);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
            let _ = writeln!(out, "    {:?},", v);
        }
        out.push_str("];\n\n");
    }
    let _ = writeln!(
        out,
        "/// Changes whenever any text does: the browser's copy of a catalogue is named by it.\npub const VERSION: &str = \"{hash:016x}\";"
    );
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("catalogue.rs");
    fs::write(dest, out).unwrap();
}
