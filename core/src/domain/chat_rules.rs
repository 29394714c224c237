//! A host's chat rules, as pure functions: blocked words and phrases, slow mode, chat only for
//! verified phones.
//!
//! Blocked terms are matched on a normalised form of both the term and the message, so the
//! usual ways around a word filter do not work: full-width letters and digits (`ＶＸ`),
//! half-width katakana, upper case, and spaces or punctuation put between the characters
//! (`v x`, `加.微.信`, `加 微 信`). Normalising keeps letters and digits of every script (CJK
//! included) and drops everything else, so a term must contain at least one letter or digit.

use serde::{Deserialize, Serialize};

/// The most terms one host may block (TikTok LIVE allows 200 too).
pub const MAX_BLOCKED_TERMS: usize = 200;
/// The longest term, in characters as entered.
pub const MAX_TERM_CHARS: usize = 40;
/// The longest slow-mode interval: one message per this many seconds at most.
pub const MAX_SLOW_MODE_SECS: u32 = 300;

/// What a message that contains a blocked term becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockAction {
    /// Refused at once, with a reason the shopper can read.
    Refuse,
    /// Held for a moderator, who lets it through or drops it.
    Hold,
}

impl BlockAction {
    pub fn as_str(self) -> &'static str {
        match self {
            BlockAction::Refuse => "refuse",
            BlockAction::Hold => "hold",
        }
    }

    pub fn parse(s: &str) -> Option<BlockAction> {
        match s {
            "refuse" => Some(BlockAction::Refuse),
            "hold" => Some(BlockAction::Hold),
            _ => None,
        }
    }
}

/// A blocked word or phrase: as the host wrote it, and the form it is matched by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockedTerm {
    pub term: String,
    pub action: BlockAction,
    /// [`normalize`]d `term`: never empty.
    pub matched: String,
}

/// Why a rule was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("A blocked term needs at least one letter or digit.")]
    EmptyTerm,
    #[error("A blocked term can be at most {MAX_TERM_CHARS} characters.")]
    TermTooLong,
    #[error("At most {MAX_BLOCKED_TERMS} blocked terms.")]
    TooManyTerms,
    #[error("Slow mode can be at most {MAX_SLOW_MODE_SECS} seconds.")]
    SlowModeTooLong,
}

impl BlockedTerm {
    pub fn parse(term: &str, action: BlockAction) -> Result<BlockedTerm, RuleError> {
        let term = term.trim();
        if term.chars().count() > MAX_TERM_CHARS {
            return Err(RuleError::TermTooLong);
        }
        let matched = normalize(term);
        if matched.is_empty() {
            return Err(RuleError::EmptyTerm);
        }
        Ok(BlockedTerm {
            term: term.to_string(),
            action,
            matched,
        })
    }
}

/// A host's chat rules, checked: at most [`MAX_BLOCKED_TERMS`] terms, each once (by its
/// matched form), slow mode within bounds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatRules {
    pub blocked: Vec<BlockedTerm>,
    /// 0: off; otherwise one message per shopper per this many seconds.
    pub slow_mode_secs: u32,
    /// Only shoppers with a verified phone number may chat.
    pub verified_only: bool,
}

impl ChatRules {
    pub fn new(
        blocked: Vec<BlockedTerm>,
        slow_mode_secs: u32,
        verified_only: bool,
    ) -> Result<ChatRules, RuleError> {
        if slow_mode_secs > MAX_SLOW_MODE_SECS {
            return Err(RuleError::SlowModeTooLong);
        }
        let mut seen = std::collections::HashSet::new();
        let blocked: Vec<BlockedTerm> = blocked
            .into_iter()
            .filter(|t| seen.insert(t.matched.clone()))
            .collect();
        if blocked.len() > MAX_BLOCKED_TERMS {
            return Err(RuleError::TooManyTerms);
        }
        Ok(ChatRules {
            blocked,
            slow_mode_secs,
            verified_only,
        })
    }

    /// What becomes of `text` under the blocked terms. A term that refuses wins over one
    /// that holds; among several, the first listed is named.
    pub fn screen(&self, text: &str) -> Screened {
        let text = normalize(text);
        let mut held = None;
        for t in &self.blocked {
            if text.contains(&t.matched) {
                match t.action {
                    BlockAction::Refuse => {
                        return Screened::Refused {
                            term: t.term.clone(),
                        }
                    }
                    BlockAction::Hold => {
                        held.get_or_insert_with(|| t.term.clone());
                    }
                }
            }
        }
        match held {
            Some(term) => Screened::Held { term },
            None => Screened::Clear,
        }
    }

    /// Seconds the shopper still has to wait under slow mode, when their last message was at
    /// `last_ms` (`None`: the message may go now).
    pub fn slow_mode_wait(&self, last_ms: Option<i64>, now_ms: i64) -> Option<u32> {
        let last = last_ms?;
        let gap_ms = i64::from(self.slow_mode_secs) * 1000;
        let left_ms = last.saturating_add(gap_ms).saturating_sub(now_ms);
        // Rounded up: "wait 1 s" until it is really time.
        (left_ms > 0).then(|| u32::try_from((left_ms + 999) / 1000).unwrap_or(u32::MAX))
    }
}

impl ChatRules {
    /// The rules from the studio's form: one term per line in each list; blank lines
    /// ignored; a term in both lists is refused.
    pub fn from_form(form: &crate::model::ChatRulesForm) -> Result<ChatRules, RuleError> {
        let terms = |text: &str, action| -> Result<Vec<BlockedTerm>, RuleError> {
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| BlockedTerm::parse(l, action))
                .collect()
        };
        let mut blocked = terms(&form.refuse, BlockAction::Refuse)?;
        blocked.extend(terms(&form.hold, BlockAction::Hold)?);
        ChatRules::new(blocked, form.slow_mode_secs, form.verified_only)
    }

    /// The form the studio shows for these rules.
    pub fn to_form(&self) -> crate::model::ChatRulesForm {
        let list = |action| {
            self.blocked
                .iter()
                .filter(|t| t.action == action)
                .map(|t| t.term.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        };
        crate::model::ChatRulesForm {
            refuse: list(BlockAction::Refuse),
            hold: list(BlockAction::Hold),
            slow_mode_secs: self.slow_mode_secs,
            verified_only: self.verified_only,
        }
    }
}

/// What the blocked terms make of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screened {
    Clear,
    Refused { term: String },
    Held { term: String },
}

/// The form terms and messages are compared in: full-width ASCII and half-width katakana
/// folded to their usual forms, lower case, and only letters and digits kept (of any script),
/// so spaces, punctuation, symbols and emoji put between characters do not hide a term.
pub fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = fold_width(c);
        for lower in c.to_lowercase() {
            if lower.is_alphanumeric() {
                out.push(lower);
            }
        }
    }
    out
}

/// Half-width katakana U+FF66..=U+FF9D in order, as full-width katakana.
const HALF_WIDTH_KATAKANA: &str =
    "ヲァィゥェォャュョッーアイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン";

/// Full-width ASCII (U+FF01..=U+FF5E) to ASCII; half-width katakana to full-width.
fn fold_width(c: char) -> char {
    let u = c as u32;
    match u {
        0xFF01..=0xFF5E => char::from_u32(u - 0xFF01 + 0x21).unwrap_or(c),
        0xFF66..=0xFF9D => HALF_WIDTH_KATAKANA
            .chars()
            .nth((u - 0xFF66) as usize)
            .unwrap_or(c),
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rules(terms: &[(&str, BlockAction)]) -> ChatRules {
        let blocked = terms
            .iter()
            .map(|(t, a)| BlockedTerm::parse(t, *a).expect("term"))
            .collect();
        ChatRules::new(blocked, 0, false).expect("rules")
    }

    #[test]
    fn the_usual_disguises_do_not_hide_a_term() {
        let r = rules(&[("加微信", BlockAction::Refuse), ("VX", BlockAction::Refuse)]);
        for text in [
            "加微信领红包",
            "加 微 信",
            "加.微.信",
            "加，微；信！",
            "快来 vx 我",
            "ＶＸ：abc123",
            "v-x",
            "V x",
        ] {
            assert!(
                matches!(r.screen(text), Screened::Refused { .. }),
                "{text} should be refused"
            );
        }
        for text in ["微信支付可以吗", "vivid colours", "加油"] {
            assert_eq!(r.screen(text), Screened::Clear, "{text}");
        }
    }

    #[test]
    fn half_width_katakana_matches_full_width() {
        let r = rules(&[("セール", BlockAction::Hold)]);
        assert!(matches!(r.screen("ｾｰﾙ中"), Screened::Held { .. }));
    }

    #[test]
    fn refusing_wins_over_holding_and_names_the_term_as_written() {
        let r = rules(&[("cheap", BlockAction::Hold), ("Fake", BlockAction::Refuse)]);
        assert_eq!(
            r.screen("cheap fake bags"),
            Screened::Refused {
                term: "Fake".into()
            }
        );
        assert_eq!(
            r.screen("so cheap"),
            Screened::Held {
                term: "cheap".into()
            }
        );
    }

    #[test]
    fn terms_need_a_letter_or_digit_and_have_bounds() {
        assert_eq!(
            BlockedTerm::parse(" ！！ ", BlockAction::Refuse),
            Err(RuleError::EmptyTerm)
        );
        assert_eq!(
            BlockedTerm::parse(&"a".repeat(41), BlockAction::Refuse),
            Err(RuleError::TermTooLong)
        );
        let many = (0..201)
            .map(|i| BlockedTerm::parse(&format!("w{i}"), BlockAction::Hold).expect("term"))
            .collect();
        assert_eq!(ChatRules::new(many, 0, false), Err(RuleError::TooManyTerms));
        assert_eq!(
            ChatRules::new(vec![], 301, false),
            Err(RuleError::SlowModeTooLong)
        );
    }

    #[test]
    fn the_same_term_twice_is_kept_once() {
        let r = rules(&[("VX", BlockAction::Refuse), ("ｖｘ", BlockAction::Hold)]);
        assert_eq!(r.blocked.len(), 1);
    }

    #[test]
    fn the_form_round_trips_and_a_term_in_both_lists_is_refused() {
        let form = crate::model::ChatRulesForm {
            refuse: "VX\n\n 加微信 ".into(),
            hold: "cheap\nｖｘ".into(),
            slow_mode_secs: 5,
            verified_only: true,
        };
        let r = ChatRules::from_form(&form).expect("rules");
        assert_eq!(r.blocked.len(), 3);
        assert!(matches!(r.screen("v x"), Screened::Refused { .. }));
        let back = r.to_form();
        assert_eq!(back.refuse, "VX\n加微信");
        assert_eq!(back.hold, "cheap");
        assert_eq!((back.slow_mode_secs, back.verified_only), (5, true));
    }

    #[test]
    fn slow_mode_counts_whole_seconds_up() {
        let r = ChatRules::new(vec![], 10, false).expect("rules");
        assert_eq!(r.slow_mode_wait(None, 5_000), None);
        assert_eq!(r.slow_mode_wait(Some(0), 10_000), None);
        assert_eq!(r.slow_mode_wait(Some(0), 9_001), Some(1));
        assert_eq!(r.slow_mode_wait(Some(0), 1), Some(10));
        let off = ChatRules::default();
        assert_eq!(off.slow_mode_wait(Some(0), 0), None);
    }

    proptest! {
        /// Anything put between a term's characters that is not a letter or digit, and any
        /// mix of cases and widths, still matches.
        #[test]
        fn separators_case_and_width_never_hide_a_term(
            term in "[a-z0-9\u{4e00}-\u{4e2f}]{1,8}",
            seps in proptest::collection::vec("[ .,!?*_\\-/\u{3000}\u{ff0c}\u{3002}]{0,3}", 8),
            upper in any::<bool>(),
            wide in any::<bool>(),
            before in "[\u{4e00}-\u{9fff}a-z ]{0,6}",
            after in "[\u{4e00}-\u{9fff}a-z ]{0,6}",
        ) {
            let r = rules(&[(&term, BlockAction::Refuse)]);
            let mut disguised = before.clone();
            for (i, c) in term.chars().enumerate() {
                let c = if upper { c.to_ascii_uppercase() } else { c };
                let c = if wide && c.is_ascii_graphic() {
                    char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c)
                } else {
                    c
                };
                disguised.push(c);
                disguised.push_str(&seps[i % seps.len()]);
            }
            disguised.push_str(&after);
            let refused = matches!(r.screen(&disguised), Screened::Refused { .. });
            prop_assert!(refused, "{disguised:?} hides {term:?}");
        }

        /// Screening only refuses text whose normalised form contains a term's: no false
        /// positives from the folding itself.
        #[test]
        fn only_text_containing_the_term_is_screened(
            term in "[a-z]{3,6}",
            text in "[a-z \u{4e00}-\u{4e0f}]{0,30}",
        ) {
            let r = rules(&[(&term, BlockAction::Hold)]);
            let contains = normalize(&text).contains(&term);
            prop_assert_eq!(r.screen(&text) != Screened::Clear, contains);
        }
    }
}
