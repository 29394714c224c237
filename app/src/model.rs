//! Types that travel between server and client. Prices are integer fen (1/100 CNY) everywhere;
//! the client formats them and never computes them.

use serde::{Deserialize, Serialize};

use crate::domain::money::Fen;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Scheduled,
    Live,
    Ended,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Scheduled => "scheduled",
            SessionStatus::Live => "live",
            SessionStatus::Ended => "ended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "scheduled" => Some(SessionStatus::Scheduled),
            "live" => Some(SessionStatus::Live),
            "ended" => Some(SessionStatus::Ended),
            _ => None,
        }
    }

    /// The badge a viewer sees on a session card.
    pub fn label(self) -> &'static str {
        match self {
            SessionStatus::Scheduled => "Upcoming",
            SessionStatus::Live => "LIVE",
            SessionStatus::Ended => "Ended",
        }
    }
}

/// One card on the home page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionSummary {
    pub id: i64,
    pub title: String,
    pub host_name: String,
    pub cover_url: String,
    pub status: SessionStatus,
    /// Unix epoch milliseconds; the client shows it in the viewer's locale and time zone.
    pub scheduled_start_ms: i64,
    pub product_count: i64,
}

/// A product as a shopper sees it on the session page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductView {
    pub id: i64,
    pub position: i64,
    pub name: String,
    pub description: String,
    pub category: String,
    pub price: Fen,
    pub stock: i64,
    pub image_url: String,
}

/// Everything the session page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionDetail {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub host_name: String,
    pub cover_url: String,
    pub status: SessionStatus,
    pub scheduled_start_ms: i64,
    pub currency: String,
    pub products: Vec<ProductView>,
}
