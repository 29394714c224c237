//! Lucky draws (issue 30): a producer opens one in a live session, shoppers enter, and when
//! its countdown ends (or the producer closes it) the server draws fairly with
//! `domain::draw`, gives each winner a ¥0 prize order and announces the winners in the room.
//!
//! Fairness anyone can check: the seed (32 random bytes) is fixed and its SHA-256 published
//! when the draw opens; at the close the seed, every entrant's public key and the winners are
//! published (`proof`), and `domain::draw::draw(seed, keys, winners)` gives the same winners.
//!
//! Entrant keys. One phone number is one entry: a shopper with a verified phone is keyed by
//! that number, whichever account enters; one without (allowed when the draw does not ask for
//! a verified phone) by their shopper id. The published key is
//! `p-`/`s-` + the first 24 hex digits (96 bits) of HMAC-SHA256(k, "{draw}:phone:{number}" or
//! "{draw}:shopper:{id}"), with k derived from the server's secret: a list of keys reveals no
//! phone number (a bare hash of an 11-digit number could be reversed by trying them all), keys
//! differ from one draw to the next, and an entrant learns their own key when entering.
//!
//! Closing happens once, on whichever node claims it first (`repo::draws::close`: a
//! conditional UPDATE in the same transaction that writes the winners and their orders);
//! every node runs [`spawn_closer`], and an entry after the countdown also triggers it.

use std::time::Duration;

use shop_core::{
    domain::{draw, session::SessionStatus, text::clean_line},
    ids::{SessionId, ShopperId},
};

use crate::{
    crypto,
    error::{AppError, Error, Result},
    identity::{host_auth::Host, Shopper},
    model::{DrawCard, DrawEntered, DrawForm, DrawProof, DrawRules, LiveEvent},
    now_ms,
    ratelimit::Action,
    repo::{self, draws::DrawRow},
    AppState,
};

pub const MAX_PRIZE_CHARS: usize = 60;
pub const MAX_KEYWORD_CHARS: usize = 20;
pub const WINNERS: std::ops::RangeInclusive<u32> = 1..=100;
pub const COUNTDOWN_SECS: std::ops::RangeInclusive<u32> = 10..=600;
/// How often each node looks for draws whose countdown ended.
pub const CLOSER_EVERY: Duration = Duration::from_millis(500);

/// A checked draw form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedDraw {
    pub prize: String,
    pub winners: u32,
    pub countdown_secs: u32,
    pub rules: DrawRules,
}

/// Checks the studio's form: a prize of 1 to 60 characters, 1 to 100 winners, a countdown
/// of 10 to 600 seconds, a keyword of at most 20 characters (or none).
pub fn parse_form(form: &DrawForm) -> Result<ParsedDraw, AppError> {
    let prize = clean_line(&form.prize, MAX_PRIZE_CHARS)
        .map_err(|_| AppError::bad_request("Name the prize in 1 to 60 characters."))?;
    if !WINNERS.contains(&form.winners) {
        return Err(AppError::bad_request(
            "A draw has between 1 and 100 winners.",
        ));
    }
    if !COUNTDOWN_SECS.contains(&form.countdown_secs) {
        return Err(AppError::bad_request(
            "The countdown must be between 10 and 600 seconds.",
        ));
    }
    let keyword = if form.rules.keyword.trim().is_empty() {
        String::new()
    } else {
        clean_line(&form.rules.keyword, MAX_KEYWORD_CHARS)
            .map_err(|_| AppError::bad_request("The keyword can be at most 20 characters."))?
    };
    Ok(ParsedDraw {
        prize,
        winners: form.winners,
        countdown_secs: form.countdown_secs,
        rules: DrawRules {
            keyword,
            ..form.rules.clone()
        },
    })
}

/// Whether a chat message enters a draw whose keyword is `keyword`: it contains it, letter
/// case aside.
pub fn says_keyword(text: &str, keyword: &str) -> bool {
    !keyword.is_empty() && text.to_lowercase().contains(&keyword.to_lowercase())
}

/// Opens a draw in a live session and tells the room. 409 when the session is not live or
/// another draw is open; 400 for a bad form or a product of another session.
pub async fn open(
    st: &AppState,
    host: &Host,
    session_id: SessionId,
    form: &DrawForm,
) -> Result<DrawCard> {
    let parsed = parse_form(form)?;
    if repo::shopping::session_status(&st.db, session_id).await? != SessionStatus::Live {
        return Err(AppError::Conflict("Draws run only while the session is live.".into()).into());
    }
    if !repo::draws::product_in_session(&st.db, session_id, form.product_id).await? {
        return Err(
            AppError::bad_request("Choose one of this session's products as the prize.").into(),
        );
    }
    st.live.ensure_up()?;
    let seed = crypto::random_bytes::<32>()?;
    let seed_hex = hex(&seed);
    let commitment = draw::commitment(&seed);
    let now = now_ms();
    let closes_at_ms = now + i64::from(parsed.countdown_secs) * 1000;
    let id = repo::draws::open(
        &st.db,
        &repo::draws::NewDraw {
            session_id,
            prize: &parsed.prize,
            product_id: form.product_id,
            winners: parsed.winners,
            rules: &parsed.rules,
            seed_hex: &seed_hex,
            commitment: &commitment,
            opened_by: host.account_id,
            opened_at_ms: now,
            closes_at_ms,
        },
    )
    .await?;
    let card = DrawCard {
        id,
        prize: parsed.prize.clone(),
        winners: parsed.winners,
        closes_at_ms,
        rules: parsed.rules,
        commitment,
        open: true,
        entrants: 0,
        winner_names: Vec::new(),
    };
    repo::studio::audit(
        &st.db,
        Some(session_id),
        host,
        "draw opened",
        &format!("draw {id}: {} × {}", parsed.prize, parsed.winners),
    )
    .await?;
    // The draw stands even if the room cannot be told now; a viewer's snapshot has it.
    crate::live::told(
        st.live
            .publish(
                session_id,
                LiveEvent::Draw {
                    seq: 0,
                    draw: card.clone(),
                },
            )
            .await,
    );
    Ok(card)
}

/// The entrant key of a shopper in a draw (see the module's comment).
pub async fn entrant_key(st: &AppState, draw_id: i64, shopper_id: ShopperId) -> Result<String> {
    let key = crypto::derive_key(&st.cookie_key, "draw entrants");
    let phone = repo::phones::verified_phone(&st.db, shopper_id).await?;
    Ok(match phone {
        Some(p) => format!(
            "p-{}",
            &crypto::hmac_sha256_hex(&key, &format!("{draw_id}:phone:{}", p.as_str()))[..24]
        ),
        None => format!(
            "s-{}",
            &crypto::hmac_sha256_hex(&key, &format!("{draw_id}:shopper:{shopper_id}"))[..24]
        ),
    })
}

/// How a shopper asks to enter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The Enter button (refused when the draw asks for its keyword instead).
    Button,
    /// Their chat message said the keyword.
    Keyword,
}

/// Enters `shopper` in the session's open draw (`draw_id`, when the client names the one it
/// shows). 404 no draw open, 409 closed or already entered (this account or this phone), 403
/// a rule not met, 400 entering by button where the keyword is the way in.
pub async fn enter(
    st: &AppState,
    shopper: &Shopper,
    session_id: SessionId,
    draw_id: Option<i64>,
    via: Via,
) -> Result<DrawEntered> {
    st.limits
        .check(Action::DrawEntry, &shopper.id.to_string())
        .await?;
    let Some(d) = repo::draws::open_in(&st.db, session_id).await? else {
        return Err(match draw_id {
            Some(_) => repo::draws::closed(),
            None => AppError::not_found("No draw is open in this session."),
        }
        .into());
    };
    if draw_id.is_some_and(|id| id != d.id) {
        return Err(repo::draws::closed().into());
    }
    let now = now_ms();
    if now >= d.closes_at_ms {
        // Its countdown is over: close it now rather than at the closer's next look.
        let st = st.clone();
        tokio::spawn(async move { log_close(&st, d.id).await });
        return Err(repo::draws::closed().into());
    }
    if !d.rules.keyword.is_empty() && via == Via::Button {
        return Err(AppError::bad_request(
            "Enter this draw by commenting its keyword in the chat.",
        )
        .into());
    }
    check_rules(st, &d, shopper).await?;
    let key = entrant_key(st, d.id, shopper.id).await?;
    repo::draws::enter(&st.db, d.id, &key, shopper.id, &shopper.nickname, now).await?;
    Ok(DrawEntered {
        draw_id: d.id,
        entrant_key: key,
    })
}

async fn check_rules(st: &AppState, d: &DrawRow, shopper: &Shopper) -> Result<()> {
    let rules = &d.rules;
    if rules.reserved || rules.invited {
        let facts = repo::draws::entrant_facts(&st.db, d.session_id, shopper.id).await?;
        if rules.reserved && !facts.reserved {
            return Err(AppError::Forbidden(
                "This draw is for shoppers who reserved the session.".into(),
            )
            .into());
        }
        if rules.invited && facts.friends_joined < 1 {
            return Err(AppError::Forbidden(
                "This draw is for shoppers who invited a friend who joined.".into(),
            )
            .into());
        }
    }
    if rules.verified_phone
        && repo::phones::verified_phone(&st.db, shopper.id)
            .await?
            .is_none()
    {
        return Err(AppError::Forbidden(
            "This draw needs a verified phone number. Verify your number first.".into(),
        )
        .into());
    }
    if rules.in_room && !st.live.in_room(&st.db, d.session_id, shopper.id).await? {
        return Err(AppError::Forbidden(
            "This draw is for shoppers watching the live room.".into(),
        )
        .into());
    }
    Ok(())
}

/// A chat message from `shopper`: when it says the open draw's keyword, enters them. Never
/// fails the message: a refused entry is `None` (the shopper can read why on the draw card).
pub async fn enter_by_keyword(
    st: &AppState,
    shopper: &Shopper,
    session_id: SessionId,
    text: &str,
) -> Option<DrawEntered> {
    let card = st.live.open_draw(&st.db, session_id).await.ok().flatten()?;
    if !says_keyword(text, &card.rules.keyword) {
        return None;
    }
    match enter(st, shopper, session_id, Some(card.id), Via::Keyword).await {
        Ok(entered) => Some(entered),
        Err(e) => {
            tracing::debug!(error = %e, "a keyword did not enter the draw");
            None
        }
    }
}

/// Closes a draw if it is still open: draws, stores the winners and their prize orders,
/// announces them. `None` when it was closed already (by another node, or the producer).
pub async fn close(st: &AppState, draw_id: i64) -> Result<Option<DrawCard>> {
    let Some(d) = repo::draws::get(&st.db, draw_id).await? else {
        return Err(AppError::not_found("No such draw.").into());
    };
    if !d.open {
        return Ok(None);
    }
    let seed = parse_seed(&d.seed_hex)?;
    let winners = d.winners as usize;
    let Some((entrants, won)) = repo::draws::close(&st.db, &d, now_ms(), |keys| {
        draw::draw(&seed, keys, winners)
    })
    .await?
    else {
        return Ok(None);
    };
    let closed = DrawRow { open: false, ..d };
    let card = closed.card(
        entrants,
        won.iter()
            .map(|w| crate::live::mask_name(&w.nickname))
            .collect(),
    );
    crate::live::told(
        st.live
            .publish(
                closed.session_id,
                LiveEvent::Draw {
                    seq: 0,
                    draw: card.clone(),
                },
            )
            .await,
    );
    for w in &won {
        // Their "My orders" and viewer state refresh.
        crate::live::told(
            st.live
                .shopper_changed(closed.session_id, w.shopper_id)
                .await,
        );
    }
    Ok(Some(card))
}

async fn log_close(st: &AppState, draw_id: i64) {
    if let Err(e) = close(st, draw_id).await {
        tracing::warn!(draw = draw_id, error = %crate::error::Chain(&e), "closing a draw failed");
    }
}

/// The producer closes a draw before its countdown ends. 404 not this session's, 409 closed.
pub async fn close_early(
    st: &AppState,
    host: &Host,
    session_id: SessionId,
    draw_id: i64,
) -> Result<DrawCard> {
    match repo::draws::get(&st.db, draw_id).await? {
        Some(d) if d.session_id == session_id => {}
        _ => return Err(AppError::not_found("No such draw.").into()),
    }
    let card = close(st, draw_id).await?.ok_or_else(repo::draws::closed)?;
    repo::studio::audit(
        &st.db,
        Some(session_id),
        host,
        "draw closed",
        &format!("draw {draw_id}: {} entrants", card.entrants),
    )
    .await?;
    Ok(card)
}

/// Every node closes the draws whose countdown ended, for as long as the process runs.
pub fn spawn_closer(st: AppState) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(CLOSER_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            match repo::draws::due(&st.db, now_ms()).await {
                Ok(ids) => {
                    for id in ids {
                        log_close(&st, id).await;
                    }
                }
                Err(e) => tracing::debug!(error = %e, "looking for draws to close failed"),
            }
        }
    });
}

/// A draw's proof, for anyone: the seed and the entrants once it has closed. 404 unknown.
pub async fn proof(st: &AppState, draw_id: i64) -> Result<DrawProof> {
    let d = repo::draws::get(&st.db, draw_id)
        .await?
        .ok_or_else(|| AppError::not_found("No such draw."))?;
    repo::draws::proof(&st.db, &d).await
}

/// The session's draws with their proofs for the studio, newest first (entrant keys left out:
/// the studio links to each draw's full proof).
pub async fn of_session(st: &AppState, session_id: SessionId) -> Result<Vec<DrawProof>> {
    let mut out = Vec::new();
    for d in repo::draws::of_session(&st.db, session_id).await? {
        let mut p = repo::draws::proof(&st.db, &d).await?;
        p.entrant_count = if d.open {
            p.entrant_count
        } else {
            p.entrants.len() as u64
        };
        p.entrants = Vec::new();
        out.push(p);
    }
    Ok(out)
}

/// The live room's card for the session's latest draw (room snapshots).
pub async fn latest_card(db: &crate::Db, session_id: SessionId) -> Result<Option<DrawCard>> {
    let Some(d) = repo::draws::latest(db, session_id).await? else {
        return Ok(None);
    };
    if d.open {
        return Ok(Some(d.card(0, Vec::new())));
    }
    let names = repo::draws::winners(db, d.id)
        .await?
        .iter()
        .map(|w| crate::live::mask_name(&w.1))
        .collect();
    let entrants = repo::draws::entrant_count(db, d.id).await?;
    Ok(Some(d.card(entrants, names)))
}

fn parse_seed(seed_hex: &str) -> Result<[u8; 32]> {
    let bytes: Option<Vec<u8>> = (0..seed_hex.len())
        .step_by(2)
        .map(|i| {
            seed_hex
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect();
    bytes
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| Error::fault("a draw's seed in the database is not 32 bytes of hex"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use shop_core::ids::ProductId;

    fn form() -> DrawForm {
        DrawForm {
            prize: " Serum 30 ml ".into(),
            product_id: ProductId(1),
            winners: 1,
            countdown_secs: 60,
            rules: DrawRules::default(),
        }
    }

    #[test]
    fn forms_are_checked() {
        assert_eq!(parse_form(&form()).expect("valid").prize, "Serum 30 ml");
        for bad in [
            DrawForm {
                prize: "  ".into(),
                ..form()
            },
            DrawForm {
                winners: 0,
                ..form()
            },
            DrawForm {
                winners: 101,
                ..form()
            },
            DrawForm {
                countdown_secs: 9,
                ..form()
            },
            DrawForm {
                countdown_secs: 601,
                ..form()
            },
            DrawForm {
                rules: DrawRules {
                    keyword: "x".repeat(21),
                    ..DrawRules::default()
                },
                ..form()
            },
        ] {
            assert_eq!(
                parse_form(&bad).map_err(|e| e.status()),
                Err(400),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn keywords_match_inside_a_message_whatever_the_case() {
        assert!(says_keyword("I want it! LUCKY", "lucky"));
        assert!(says_keyword("抽奖抽奖", "抽奖"));
        assert!(!says_keyword("hello", "lucky"));
        assert!(!says_keyword("anything", ""));
    }

    #[test]
    fn seeds_round_trip_through_hex() {
        let seed = [0xabu8; 32];
        assert_eq!(parse_seed(&hex(&seed)).expect("seed"), seed);
        assert!(parse_seed("abc").is_err());
        assert!(parse_seed(&"zz".repeat(32)).is_err());
    }
}
