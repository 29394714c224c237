//! The UI's languages: Chinese (zh-CN), English and Italian. Texts live in catalogues,
//! `core/locales/{locale}/{namespace}.json`, compiled by `build.rs` into the key enum [`K`]
//! (an unknown key does not compile; a key some locale lacks fails the build).
//!
//! - **Browser**: no texts are built into the Wasm; the page's locale is chosen once at start
//!   (`?locale=` for an embedded room, then the `ls_locale` cookie, then the browser's preferred
//!   languages: Chinese ones choose zh-CN) and its catalogue fetched from `/i18n/{locale}.json`
//!   (named by the server's HTML, preloaded when the Wasm download starts; English the
//!   fallback) before the app mounts, so the
//!   bundle carries no language and no text flashes in another one.
//!   Switching language sets the cookie and reloads the page.
//! - **Server**: every catalogue is built in; [`text`] gives a key's text in a locale
//!   (error messages, calendar files, link previews, posters, CSV headers).
//!
//! Plurals: an entry may be `{"one": ..., "other": ...}` (Chinese has only `other`); [`tp`]
//! picks the form for a count. Placeholders are `{name}`, filled by [`tf`] and [`tp`].

use serde::{Deserialize, Serialize};

include!(concat!(env!("OUT_DIR"), "/catalogue.rs"));

/// The cookie that keeps a shopper's choice of language (a year; not secret, not HttpOnly:
/// the page sets it).
pub const COOKIE: &str = "ls_locale";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Locale {
    ZhCn,
    En,
    It,
}

/// In the order the language switcher offers them.
pub const LOCALES: [Locale; 3] = [Locale::ZhCn, Locale::En, Locale::It];

impl Locale {
    /// The BCP 47 tag (`zh-CN`, `en`, `it`).
    pub fn tag(self) -> &'static str {
        match self {
            Locale::ZhCn => "zh-CN",
            Locale::En => "en",
            Locale::It => "it",
        }
    }

    /// The language's name in itself, for the switcher.
    pub fn native_name(self) -> &'static str {
        match self {
            Locale::ZhCn => "中文",
            Locale::En => "English",
            Locale::It => "Italiano",
        }
    }

    /// One of our tags exactly (any letter case).
    pub fn parse(tag: &str) -> Option<Locale> {
        LOCALES
            .into_iter()
            .find(|l| l.tag().eq_ignore_ascii_case(tag.trim()))
    }

    /// The locale for a language tag the browser prefers: any Chinese (`zh`, `zh-TW`,
    /// `zh-Hans-CN`) is zh-CN; `en-*` English; `it-*` Italian.
    pub fn for_language(tag: &str) -> Option<Locale> {
        let primary = tag
            .trim()
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match primary.as_str() {
            "zh" => Some(Locale::ZhCn),
            "en" => Some(Locale::En),
            "it" => Some(Locale::It),
            _ => None,
        }
    }

    /// The first of the preferred languages we have (English when none).
    pub fn negotiate<'a>(preferred: impl IntoIterator<Item = &'a str>) -> Locale {
        preferred
            .into_iter()
            .find_map(Locale::for_language)
            .unwrap_or(Locale::En)
    }

    /// From an `Accept-Language` header, by quality (`zh-CN,zh;q=0.9,en;q=0.8`).
    pub fn from_accept_language(header: &str) -> Locale {
        let mut prefs: Vec<(f32, usize, &str)> = header
            .split(',')
            .enumerate()
            .filter_map(|(i, part)| {
                let mut it = part.split(';');
                let tag = it.next()?.trim();
                let q = it
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                (!tag.is_empty() && q > 0.0).then_some((q, i, tag))
            })
            .collect();
        prefs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        Locale::negotiate(prefs.into_iter().map(|p| p.2))
    }

    /// Which plural form (index into the entry's forms) a count takes.
    fn plural_form(self, n: i64) -> usize {
        match self {
            // Chinese: one form.
            Locale::ZhCn => 0,
            // English and Italian: "one" for exactly 1, "other" otherwise.
            Locale::En | Locale::It => usize::from(n != 1),
        }
    }

    /// Every text in this locale (built into the server; the browser fetches its own).
    #[cfg(any(feature = "ssr", test))]
    fn table(self) -> &'static [&'static str; COUNT] {
        match self {
            Locale::En => &EN,
            Locale::ZhCn => &ZH_CN,
            Locale::It => &IT,
        }
    }
}

/// One form of an entry (forms are joined by U+001F).
fn form(text: &str, index: usize) -> &str {
    text.split('\u{1f}')
        .nth(index)
        .or_else(|| text.split('\u{1f}').next_back())
        .unwrap_or(text)
}

/// `template` with each `{name}` replaced by its value.
pub fn fill(template: &str, args: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (name, value) in args {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// A key's text in `locale`, built in (the server; tests).
#[cfg(any(feature = "ssr", test))]
pub fn text(locale: Locale, key: K) -> &'static str {
    form(locale.table()[key as usize], 0)
}

/// The `index`th entry of `locale`'s table as stored (plural forms joined by U+001F): what
/// `/i18n/{locale}.json` sends the browser.
#[cfg(any(feature = "ssr", test))]
pub fn raw(locale: Locale, index: usize) -> &'static str {
    locale.table().get(index).copied().unwrap_or("")
}

/// [`text`] with placeholders filled.
#[cfg(any(feature = "ssr", test))]
pub fn text_f(locale: Locale, key: K, args: &[(&str, &str)]) -> String {
    fill(text(locale, key), args)
}

/// [`text`] in the form for `n`, placeholders filled (`{n}` is the count).
#[cfg(any(feature = "ssr", test))]
pub fn text_p(locale: Locale, key: K, n: i64, args: &[(&str, &str)]) -> String {
    plural(locale, locale.table()[key as usize], n, args)
}

/// The pieces of a template: literal text and placeholder names, alternating (literal first).
#[cfg(any(feature = "ssr", test))]
fn pieces(template: &str) -> (Vec<&str>, Vec<&str>) {
    let (mut literals, mut names) = (Vec::new(), Vec::new());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        match rest[open..].find('}') {
            Some(close) => {
                literals.push(&rest[..open]);
                names.push(&rest[open + 1..open + close]);
                rest = &rest[open + close + 1..];
            }
            None => break,
        }
    }
    literals.push(rest);
    (literals, names)
}

/// The placeholder values that make `template` read `text`, if it can.
#[cfg(any(feature = "ssr", test))]
fn match_template<'t>(template: &'t str, text: &str) -> Option<Vec<(&'t str, String)>> {
    let (literals, names) = pieces(template);
    let mut rest = text.strip_prefix(literals[0])?;
    let mut args = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let next = literals[i + 1];
        let last = i + 1 == names.len();
        let end = if last {
            rest.len().checked_sub(next.len())?
        } else if next.is_empty() {
            return None;
        } else {
            rest.find(next)?
        };
        args.push((*name, rest[..end].to_string()));
        rest = &rest[end..];
        rest = rest.strip_prefix(next)?;
    }
    rest.is_empty().then_some(args)
}

/// A message the server wrote in English (`AppError`'s text), in `locale`: found by its
/// `errors` catalogue entry, whose placeholders stand for the parts that vary. `None` when no
/// entry reads like it (the English then stands).
#[cfg(any(feature = "ssr", test))]
pub fn translate_message(locale: Locale, english: &str) -> Option<String> {
    translate_from("errors_", locale, english)
}

/// [`translate_message`] among the entries whose key starts with `prefix`.
#[cfg(any(feature = "ssr", test))]
pub fn translate_from(prefix: &str, locale: Locale, english: &str) -> Option<String> {
    NAMES.iter().enumerate().find_map(|(i, name)| {
        if !name.starts_with(prefix) {
            return None;
        }
        let args = match_template(form(EN[i], 0), english)?;
        let args: Vec<(&str, &str)> = args.iter().map(|(n, v)| (*n, v.as_str())).collect();
        Some(fill(form(locale.table()[i], 0), &args))
    })
}

fn plural(locale: Locale, entry: &str, n: i64, args: &[(&str, &str)]) -> String {
    let n_text = n.to_string();
    let mut all = vec![("n", n_text.as_str())];
    all.extend_from_slice(args);
    fill(form(entry, locale.plural_form(n)), &all)
}

#[cfg(feature = "csr")]
mod page {
    //! The page's catalogue: chosen and fetched once, before the app mounts.
    use std::sync::OnceLock;

    use super::{Locale, COOKIE, VERSION};

    pub(super) static CURRENT: OnceLock<(Locale, Vec<String>)> = OnceLock::new();

    fn cookie_locale() -> Option<Locale> {
        use wasm_bindgen::JsCast;
        let doc = web_sys::window()?
            .document()?
            .dyn_into::<web_sys::HtmlDocument>()
            .ok()?;
        let cookies = doc.cookie().ok()?;
        cookies
            .split(';')
            .find_map(|c| c.trim().strip_prefix(&format!("{COOKIE}=")))
            .and_then(Locale::parse)
    }

    fn url_locale() -> Option<Locale> {
        let search = web_sys::window()?.location().search().ok()?;
        let params = web_sys::UrlSearchParams::new_with_str(&search).ok()?;
        params.get("locale").as_deref().and_then(Locale::parse)
    }

    fn browser_locale() -> Locale {
        let langs: Vec<String> = web_sys::window()
            .map(|w| {
                w.navigator()
                    .languages()
                    .iter()
                    .filter_map(|l| l.as_string())
                    .collect()
            })
            .unwrap_or_default();
        Locale::negotiate(langs.iter().map(String::as_str))
    }

    /// The page's locale: an embedded room's `?locale=`, the shopper's choice, the browser's
    /// preference.
    pub fn choose() -> Locale {
        url_locale()
            .or_else(cookie_locale)
            .unwrap_or_else(browser_locale)
    }

    /// Fetches the page's texts: `locale`'s, or English when those cannot be had (each asked
    /// twice). False when there are none (the app cannot start: the page says so).
    pub async fn load(locale: Locale) -> bool {
        let mut tries = vec![locale, locale];
        if locale != Locale::En {
            tries.extend([Locale::En, Locale::En]);
        }
        for l in tries {
            if let Some(texts) = fetch(l).await {
                set_lang(l);
                let _ = CURRENT.set((l, texts));
                return true;
            }
            web_sys::console::warn_1(&format!("texts for {} unavailable", l.tag()).into());
        }
        false
    }

    fn set_lang(locale: Locale) {
        if let Some(html) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
        {
            let _ = html.set_attribute("lang", locale.tag());
        }
    }

    async fn fetch(locale: Locale) -> Option<Vec<String>> {
        let url = format!("/i18n/{}.json?v={VERSION}", locale.tag());
        let window = web_sys::window()?;
        let resp = wasm_bindgen_futures::JsFuture::from(window.fetch_with_str(&url))
            .await
            .ok()?;
        let resp: web_sys::Response = wasm_bindgen::JsCast::dyn_into(resp).ok()?;
        if !resp.ok() {
            return None;
        }
        let text = wasm_bindgen_futures::JsFuture::from(resp.text().ok()?)
            .await
            .ok()?
            .as_string()?;
        serde_json::from_str::<Vec<String>>(&text)
            .ok()
            .filter(|texts| texts.len() == super::COUNT)
    }

    /// Keeps the choice (a year) and reloads the page in that language.
    pub fn switch_to(locale: Locale) {
        use wasm_bindgen::JsCast;
        let Some(window) = web_sys::window() else {
            return;
        };
        if let Some(doc) = window
            .document()
            .and_then(|d| d.dyn_into::<web_sys::HtmlDocument>().ok())
        {
            let _ = doc.set_cookie(&format!(
                "{COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
                locale.tag()
            ));
        }
        let _ = window.location().reload();
    }
}

#[cfg(feature = "csr")]
pub use page::{choose, load, switch_to};

/// An amount of fen as `locale` writes yuan, exactly as the browser's `Intl.NumberFormat`
/// writes it with the narrow `¥`: `¥1,299.00` and `-¥5.50` in Chinese and English,
/// `1299,00 ¥` in Italian (which groups thousands from five digits on: `12.999,00 ¥`, and puts
/// a no-break space before the sign). Plain Rust: `Intl`'s first use loads the browser's locale
/// data, tens of milliseconds in a phone's first task.
pub fn yuan(fen: i64, locale: Locale) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    let (whole, cents) = ((abs / 100).to_string(), abs % 100);
    let grouped = |sep: char| {
        let mut out = String::with_capacity(whole.len() + whole.len() / 3);
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                out.push(sep);
            }
            out.push(c);
        }
        out
    };
    match locale {
        Locale::It if whole.len() >= 5 => format!("{sign}{},{cents:02}\u{a0}¥", grouped('.')),
        Locale::It => format!("{sign}{whole},{cents:02}\u{a0}¥"),
        Locale::En | Locale::ZhCn => format!("{sign}¥{}.{cents:02}", grouped(',')),
    }
}

/// The page's locale (English until a catalogue was loaded; always outside the browser).
pub fn current() -> Locale {
    #[cfg(feature = "csr")]
    if let Some((l, _)) = page::CURRENT.get() {
        return *l;
    }
    Locale::En
}

fn entry(key: K) -> &'static str {
    // The browser: the catalogue fetched before the app mounted (the app does not mount
    // without one).
    #[cfg(feature = "csr")]
    return page::CURRENT
        .get()
        .and_then(|(_, texts)| texts.get(key as usize))
        .map_or("", String::as_str);
    #[cfg(not(feature = "csr"))]
    EN[key as usize]
}

/// A text split around its `{name}` placeholder, for markup in between (a link, a bold name,
/// a `<time>`): `(before, after)`. Each language keeps its own word order.
pub fn around(text: &str, name: &str) -> (String, String) {
    match text.split_once(&format!("{{{name}}}")) {
        Some((before, after)) => (before.to_string(), after.to_string()),
        None => (text.to_string(), String::new()),
    }
}

/// The page's text for `key`.
pub fn t(key: K) -> String {
    form(entry(key), 0).to_string()
}

/// [`t`] with placeholders filled: `tf(K::x, &[("name", "Mei")])`.
pub fn tf(key: K, args: &[(&str, &str)]) -> String {
    fill(form(entry(key), 0), args)
}

/// The page's text for `key` in the form for `n` (`{n}` is the count).
pub fn tp(key: K, n: i64, args: &[(&str, &str)]) -> String {
    plural(current(), entry(key), n, args)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The texts Chromium's `Intl.NumberFormat(locale, {style: "currency", currency: "CNY",
    /// currencyDisplay: "narrowSymbol"})` writes, which the pages wrote before.
    #[test]
    fn yuan_is_written_as_intl_writes_it() {
        let cases: [(i64, &str, &str); 8] = [
            (0, "¥0.00", "0,00\u{a0}¥"),
            (5, "¥0.05", "0,05\u{a0}¥"),
            (1999, "¥19.99", "19,99\u{a0}¥"),
            (12_900, "¥129.00", "129,00\u{a0}¥"),
            (129_900, "¥1,299.00", "1299,00\u{a0}¥"),
            (1_299_900, "¥12,999.00", "12.999,00\u{a0}¥"),
            (100_000_000, "¥1,000,000.00", "1.000.000,00\u{a0}¥"),
            (-550, "-¥5.50", "-5,50\u{a0}¥"),
        ];
        for (fen, en, it) in cases {
            assert_eq!(yuan(fen, Locale::En), en);
            assert_eq!(yuan(fen, Locale::ZhCn), en);
            assert_eq!(yuan(fen, Locale::It), it);
        }
        assert_eq!(yuan(i64::MIN, Locale::En), "-¥92,233,720,368,547,758.08");
    }

    #[test]
    fn browsers_preferring_chinese_get_zh_cn() {
        assert_eq!(Locale::negotiate(["zh-TW", "en"]), Locale::ZhCn);
        assert_eq!(Locale::negotiate(["zh"]), Locale::ZhCn);
        assert_eq!(Locale::negotiate(["zh_CN"]), Locale::ZhCn);
        assert_eq!(Locale::negotiate(["de-DE", "it-IT", "en"]), Locale::It);
        assert_eq!(Locale::negotiate(["fr"]), Locale::En);
        assert_eq!(Locale::negotiate(Vec::<&str>::new()), Locale::En);
        assert_eq!(
            Locale::from_accept_language("en-US;q=0.5, zh-CN;q=0.9, it;q=0.1"),
            Locale::ZhCn
        );
        assert_eq!(Locale::from_accept_language("fr, it;q=0.8"), Locale::It);
        assert_eq!(Locale::from_accept_language("zh;q=0, en"), Locale::En);
        assert_eq!(Locale::from_accept_language(""), Locale::En);
        assert_eq!(Locale::from_accept_language(";;,q=,"), Locale::En);
        assert_eq!(Locale::parse("ZH-cn"), Some(Locale::ZhCn));
        assert_eq!(Locale::parse("de"), None);
    }

    #[test]
    fn plurals_and_placeholders() {
        let k = K::common_products;
        assert_eq!(text_p(Locale::En, k, 1, &[]), "1 product");
        assert_eq!(text_p(Locale::En, k, 16, &[]), "16 products");
        assert_eq!(text_p(Locale::It, k, 1, &[]), "1 prodotto");
        assert_eq!(text_p(Locale::It, k, 0, &[]), "0 prodotti");
        assert_eq!(text_p(Locale::ZhCn, k, 1, &[]), "1 件商品");
        assert_eq!(
            fill("{a} and {b} and {a}", &[("a", "x"), ("b", "y")]),
            "x and y and x"
        );
    }

    #[test]
    fn templates_match_what_they_produce() {
        let m = |t, x| {
            match_template(t, x).map(|a| {
                a.into_iter()
                    .map(|(n, v)| format!("{n}={v}"))
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(m("Sold out.", "Sold out."), Some(vec![]));
        assert_eq!(m("Sold out.", "Sold out!"), None);
        assert_eq!(
            m("Only {n} left of {name}.", "Only 3 left of Rose Toner."),
            Some(vec!["n=3".into(), "name=Rose Toner".into()])
        );
        assert_eq!(m("{a} x", "hello x"), Some(vec!["a=hello".into()]));
        assert_eq!(m("x {a}", "x "), Some(vec!["a=".into()]));
        assert_eq!(m("x {a}", "y z"), None);
        assert_eq!(m("{a}{b}", "ab"), None);
    }

    /// Every message the server code writes for people (`AppError::bad_request("...")`,
    /// `AppError::Conflict(format!("..."))` and the like) has its `errors` entry, so it is
    /// translated: the source is read and each literal (format arguments as "x") matched.
    #[test]
    fn every_error_message_is_in_the_catalogue() {
        let mut missing = Vec::new();
        let mut found = 0;
        for dir in ["src", "../app/src", "../backend/src", "../server/src"] {
            let mut stack =
                vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/")).join(dir)];
            while let Some(d) = stack.pop() {
                for entry in std::fs::read_dir(&d).unwrap().flatten() {
                    let path = entry.path();
                    if path.is_dir() {
                        stack.push(path);
                        continue;
                    }
                    if path.extension().is_none_or(|e| e != "rs") || path.ends_with("i18n.rs") {
                        continue;
                    }
                    let src = std::fs::read_to_string(&path).unwrap();
                    // Tests' placeholder messages ("x") are not for people.
                    for message in error_literals(&src)
                        .into_iter()
                        .filter(|m| m.chars().filter(|c| c.is_alphabetic()).count() > 2)
                    {
                        found += 1;
                        if translate_message(Locale::ZhCn, &message).is_none() {
                            missing.push(format!("{}: {message:?}", path.display()));
                        }
                    }
                }
            }
        }
        assert!(found > 50, "the scan found only {found} messages");
        assert!(
            missing.is_empty(),
            "messages without an errors entry:\n{}",
            missing.join("\n")
        );
    }

    /// String literals passed to `AppError`'s message-carrying constructors; `{...}` format
    /// arguments become "x".
    fn error_literals(src: &str) -> Vec<String> {
        let mut out = Vec::new();
        for ctor in [
            "AppError::bad_request(",
            "AppError::not_found(",
            "AppError::BadRequest(",
            "AppError::NotFound(",
            "AppError::Conflict(",
            "AppError::Forbidden(",
        ] {
            let mut rest = src;
            while let Some(at) = rest.find(ctor) {
                rest = &rest[at + ctor.len()..];
                let arg = rest.trim_start();
                let arg = arg
                    .strip_prefix("format!(")
                    .map(str::trim_start)
                    .unwrap_or(arg);
                let Some(body) = arg.strip_prefix('"') else {
                    continue;
                };
                let mut lit = String::new();
                let mut chars = body.chars();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some('n') => lit.push('\n'),
                            Some('\n') => {
                                // A line continuation: the next line's leading spaces go.
                                let rest: String = chars.clone().collect();
                                let skip = rest.len() - rest.trim_start().len();
                                for _ in 0..skip {
                                    chars.next();
                                }
                            }
                            Some(o) => lit.push(o),
                            None => {}
                        },
                        _ => lit.push(c),
                    }
                }
                // Format arguments ("{MAX}", "{n}") as sample values; "{{" stays a brace.
                let mut sample = String::new();
                let mut it = lit.chars().peekable();
                while let Some(c) = it.next() {
                    if c == '{' && it.peek() != Some(&'{') {
                        for d in it.by_ref() {
                            if d == '}' {
                                break;
                            }
                        }
                        sample.push('x');
                    } else {
                        sample.push(c);
                    }
                }
                out.push(sample);
            }
        }
        out
    }

    /// Every text is translated: Chinese and Italian differ from English except where the
    /// same word is right (brand names, symbols).
    #[test]
    fn nothing_left_in_english() {
        let same_allowed = ["common_brand"];
        for (i, name) in NAMES.iter().enumerate() {
            if same_allowed.contains(name) {
                continue;
            }
            assert_ne!(ZH_CN[i], EN[i], "{name} is not translated to zh-CN");
            let latin = EN[i].chars().filter(|c| c.is_ascii_alphabetic()).count();
            if latin > 3 {
                assert!(
                    ZH_CN[i]
                        .chars()
                        .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                    "{name}: zh-CN text has no Chinese: {:?}",
                    ZH_CN[i]
                );
            }
        }
    }
}
