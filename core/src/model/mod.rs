//! Types that travel between server and client. Prices are integer fen (1/100 CNY) everywhere;
//! the client formats them and never computes them.

use serde::{Deserialize, Serialize};

use crate::domain::money::Fen;

pub use crate::ids::{HostId, OrderId, ProductId, SessionId, ShopperId};

pub use crate::domain::restream::RestreamState;
pub use crate::domain::session::SessionStatus;
// The studio's forms live beside the rules that parse them.
pub use crate::domain::forms::{PolicyForm, ProductForm, SessionForm};
pub use crate::domain::time::{default_time_zone, DEFAULT_TIME_ZONE};
pub use crate::domain::variant::VariantForm;

/// One card on the home page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionSummary {
    pub id: SessionId,
    pub title: String,
    pub host_name: String,
    pub cover_url: String,
    pub status: SessionStatus,
    /// Unix epoch milliseconds; shown in the session's time zone (and the viewer's).
    pub scheduled_start_ms: i64,
    pub product_count: i64,
    /// The session's IANA time zone (`Asia/Shanghai`).
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// The zone's offset from UTC at the start, in minutes (480 for Asia/Shanghai), worked out
    /// by the server (which has the zone database) so the browser writes the time without one.
    #[serde(default)]
    pub start_offset_minutes: Option<i64>,
}

/// A product as a shopper sees it on the session page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductView {
    pub id: ProductId,
    pub position: i64,
    pub name: String,
    pub description: String,
    pub category: String,
    pub price: Fen,
    pub stock: i64,
    pub image_url: String,
    /// Its shades or sizes, when it has any: the shopper picks one.
    #[serde(default)]
    pub variants: Vec<VariantView>,
}

/// `wx.config`'s parameters for one page URL (`GET /api/wechat/jssdk`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsSdkSignature {
    #[serde(rename = "appId")]
    pub app_id: String,
    pub timestamp: i64,
    #[serde(rename = "nonceStr")]
    pub nonce_str: String,
    pub signature: String,
}

/// A product's variant (shade, size), with its own stock and maybe its own price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantView {
    pub id: i64,
    pub name: String,
    /// `None`: the product's price.
    pub price: Option<Fen>,
    pub stock: i64,
}

/// A session's products' variants, by product id.
pub type VariantsByProduct = std::collections::HashMap<ProductId, Vec<VariantView>>;

/// Everything the session page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionDetail {
    pub id: SessionId,
    pub title: String,
    pub description: String,
    pub host_name: String,
    pub cover_url: String,
    pub status: SessionStatus,
    pub scheduled_start_ms: i64,
    pub currency: String,
    pub products: Vec<ProductView>,
    /// The session's IANA time zone: its times are shown there (and in the viewer's own).
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// The zone's offset from UTC at the start, in minutes (480 for Asia/Shanghai), worked out
    /// by the server (which has the zone database) so the browser writes the time without one.
    #[serde(default)]
    pub start_offset_minutes: Option<i64>,
}

/// The calling shopper.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Me {
    pub id: ShopperId,
    pub nickname: String,
    /// Inside WeChat, the page first passes through WeChat's silent authorisation
    /// (`/wechat/auth`) so that WeChat Pay can be opened in WeChat itself.
    #[serde(default)]
    pub wechat_auth_needed: bool,
    /// WeChat's JS-SDK can be configured here (`GET /api/wechat/jssdk` answers).
    #[serde(default)]
    pub wechat_jssdk: bool,
}

/// A shopper's personal invite for a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InviteLink {
    pub code: String,
    /// Absolute URL to share: `{public_url}/i/{code}`.
    pub url: String,
    /// Same-origin path of the poster PNG.
    pub poster_path: String,
}

/// What one product costs this viewer right now (decided by the server).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductOffer {
    pub product_id: ProductId,
    pub presented: bool,
    pub explaining_now: bool,
    pub stock: i64,
    pub price: Fen,
    /// The price of the next unit for this viewer (discounted when eligible and available).
    pub your_price: Fen,
    pub discounted: bool,
    pub bought_units: i64,
    /// How many of this viewer's next units get the discount (0 when none do).
    pub discounted_units_left: i64,
    /// What each of those units saves.
    pub discount_per_unit: Fen,
    /// Discounted units of this product this viewer has bought (for working out its price
    /// when a live event reprices the product).
    #[serde(default)]
    pub discounted_bought: i64,
}

impl ProductOffer {
    /// This offer after a live event: the product presented (or repriced) at `pricing`. The
    /// viewer's own price follows from its eligibility, with the server's arithmetic.
    pub fn reprice(
        &mut self,
        pricing: &crate::domain::discount::LivePrice,
        presented: bool,
        eligible: bool,
        purchase_limit: i64,
    ) {
        use crate::domain::discount;
        self.presented |= presented;
        self.price = pricing.price;
        let mine = discount::viewer_price(
            pricing,
            eligible && self.presented,
            discount::count(self.discounted_bought),
            discount::count(self.bought_units),
            discount::count(purchase_limit),
        );
        self.your_price = mine.your_price;
        self.discounted = mine.discounted_units_left > 0;
        self.discounted_units_left = i64::from(mine.discounted_units_left);
        self.discount_per_unit = mine.discount_per_unit;
    }

    /// What `quantity` units cost this viewer at these (server-given) prices: the first
    /// `discounted_units_left` units at the discount, the rest at full price. The pay sheet
    /// shows it and sends it with the order; the server prices the order itself and refuses
    /// it (409) when the two differ.
    pub fn total(&self, quantity: i64) -> Fen {
        let q = quantity.max(0);
        let discounted = q.min(self.discounted_units_left.max(0));
        Fen(self
            .price
            .0
            .saturating_mul(q)
            .saturating_sub(self.discount_per_unit.0.saturating_mul(discounted)))
    }

    /// This offer for a variant sold at its own `price`: the same discounted units, each
    /// saving `percent_off` of that price (the server's rule, `discount_per_unit`).
    pub fn at_price(&self, price: Fen, percent_off: i64) -> ProductOffer {
        use crate::domain::discount::discount_per_unit;
        let mut o = self.clone();
        let pct = u8::try_from(percent_off.clamp(0, 100)).unwrap_or(0);
        o.price = price;
        o.discount_per_unit = if o.discounted_units_left > 0 {
            discount_per_unit(price, pct)
        } else {
            Fen::ZERO
        };
        o.your_price = Fen(price.0 - o.discount_per_unit.0);
        o
    }

    /// Units this viewer may still add in one order: the stock, and what is left of the
    /// per-shopper limit.
    pub fn max_quantity(&self, purchase_limit: i64) -> i64 {
        (purchase_limit - self.bought_units).min(self.stock).max(0)
    }
}

/// The session page's per-viewer state: reservation, invite, discount, prices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewerState {
    pub me: Me,
    pub session_id: SessionId,
    pub status: SessionStatus,
    pub reserved: bool,
    pub reservation_count: i64,
    pub invite: Option<InviteLink>,
    /// Friends who joined through this viewer's invite and count towards the discount (with
    /// verified numbers required, only those who verified one).
    pub friends_joined: i64,
    /// Friends who joined but do not count yet: they still have to verify their number.
    #[serde(default)]
    pub friends_waiting: i64,
    /// The nickname of the friend whose invite this viewer joined through.
    pub joined_via: Option<String>,
    pub eligible: bool,
    pub percent_off: i64,
    /// Explains the discount status, e.g. "50% off: 2 friends joined through your invite".
    pub discount_text: String,
    pub payment_label: String,
    pub purchase_limit: i64,
    pub offers: Vec<ProductOffer>,
    /// The session's discount needs a verified mobile number.
    #[serde(default)]
    pub phone_required: bool,
    /// This shopper's verified number, masked (`+86 138****5678`).
    #[serde(default)]
    pub phone: Option<String>,
}

/// A one-time code was sent to a number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodeSent {
    /// The number it went to, masked.
    pub masked: String,
    pub expires_in_s: i64,
    /// Development only (the `log` code sender): the code itself, shown on the page.
    pub dev_code: Option<String>,
}

/// A number was verified. When it already belonged to another shopper, this browser is now
/// signed in as that shopper (`signed_in` true) and their reservations, invites and orders
/// are back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhoneVerified {
    pub me: Me,
    pub masked: String,
    pub signed_in: bool,
}

/// What a friend sees when opening an invite link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InviteView {
    pub code: String,
    pub inviter_nickname: String,
    pub session: SessionSummary,
    pub percent_off: i64,
    /// The viewer is the inviter.
    pub is_own: bool,
    /// The viewer already joined the session through this invite.
    pub joined: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JoinOutcome {
    pub session_id: SessionId,
    /// Whose invite this shopper's reservation is attributed to (the first one wins).
    pub attributed_to: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    PendingPayment,
    Paid,
    PaymentFailed,
    /// Paid, then refunded by the host (a refund that went through).
    Refunded,
    /// Paid and handed to the carrier.
    Shipped,
}

impl OrderStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            OrderStatus::PendingPayment => "pending_payment",
            OrderStatus::Paid => "paid",
            OrderStatus::PaymentFailed => "payment_failed",
            OrderStatus::Refunded => "refunded",
            OrderStatus::Shipped => "shipped",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending_payment" => Some(OrderStatus::PendingPayment),
            "paid" => Some(OrderStatus::Paid),
            "payment_failed" => Some(OrderStatus::PaymentFailed),
            "refunded" => Some(OrderStatus::Refunded),
            "shipped" => Some(OrderStatus::Shipped),
            _ => None,
        }
    }
    /// The status as shoppers and hosts read it, in the page's language.
    pub fn label(&self) -> String {
        use crate::i18n::{t, K};
        t(match self {
            OrderStatus::PendingPayment => K::shop_orders_status_pending_payment,
            OrderStatus::Paid => K::shop_orders_status_paid,
            OrderStatus::PaymentFailed => K::shop_orders_status_payment_failed,
            OrderStatus::Refunded => K::shop_orders_status_refunded,
            OrderStatus::Shipped => K::shop_orders_status_shipped,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderLineView {
    pub product_id: ProductId,
    pub product_name: String,
    /// The variant bought ("Rose 02"), empty for a product without variants.
    #[serde(default)]
    pub variant: String,
    pub image_url: String,
    pub quantity: i64,
    pub unit_price: Fen,
    pub discounted_units: i64,
    pub full_amount: Fen,
    pub discount: Fen,
    pub paid: Fen,
    /// Why the discount was (not) given, as recorded in the ledger.
    pub rule: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderView {
    pub id: OrderId,
    pub session_id: SessionId,
    pub session_title: String,
    pub status: OrderStatus,
    pub created_at_ms: i64,
    pub payment_provider: String,
    pub lines: Vec<OrderLineView>,
    pub full_amount: Fen,
    pub discount: Fen,
    pub paid: Fen,
    /// What the shopper does next to pay, when the provider waits for them (WeChat Pay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay: Option<PayAction>,
    /// The parcel, once the host shipped the order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping: Option<Shipping>,
    /// Where it ships: recipient, masked phone, address on one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_to: Option<String>,
    /// What a live coupon took off (after the invite discount): `paid` is what was left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coupon: Option<Fen>,
}

/// One of a shopper's delivery addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedAddress {
    pub id: i64,
    pub form: crate::domain::address::AddressForm,
    /// Province, city, district and street on one line.
    pub one_line: String,
}

/// A shipped order's parcel.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shipping {
    pub carrier: String,
    pub tracking_no: String,
    pub shipped_at_ms: i64,
}

/// One order in the studio's orders view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudioOrder {
    pub id: OrderId,
    pub created_at_ms: i64,
    pub status: OrderStatus,
    pub shopper_nickname: String,
    pub product_name: String,
    pub quantity: i64,
    pub paid: Fen,
    pub shipping: Option<Shipping>,
    /// Where it ships (in full: the host hands it to the carrier); `None` until the shopper
    /// gave an address.
    pub ship_to: Option<String>,
}

/// What a tracking-number import did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShipImport {
    pub shipped: i64,
    /// "line 3: ..." for each line that was not applied (the first 50).
    pub errors: Vec<String>,
}

/// Where a host's refund stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundState {
    /// The money went back; the order's units and discount were given back.
    Refunded,
    /// The provider accepted it and confirms later (its notification).
    Pending,
}

/// How a shopper pays an order the provider waits on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PayAction {
    /// Inside WeChat: these parameters go to
    /// `WeixinJSBridge.invoke('getBrandWCPayRequest', params, done)` as they are.
    WechatJsapi { params: serde_json::Value },
    /// Another mobile browser: open this page (it hands over to WeChat).
    Redirect { url: String },
    /// A computer (or WeChat without the shopper's openid): a QR code to scan with WeChat.
    QrCode { code_url: String },
}

/// The signed-in host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostMe {
    pub host_id: HostId,
    /// The shop's name (what the room sees when the host speaks).
    pub display_name: String,
    pub email: String,
    /// The account's role in the shop's team; the studio hides what it cannot use.
    pub role: crate::domain::team::Role,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudioProduct {
    pub id: ProductId,
    pub position: i64,
    pub name: String,
    pub description: String,
    pub category: String,
    pub price: Fen,
    pub stock: i64,
    pub image_url: String,
    pub presented: bool,
    #[serde(default)]
    pub variants: Vec<VariantView>,
}

/// A session as its host sees it in the studio.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudioSession {
    pub id: SessionId,
    pub title: String,
    pub description: String,
    pub cover_url: String,
    pub status: SessionStatus,
    pub scheduled_start_ms: i64,
    pub time_zone: String,
    /// The zone's offset from UTC at the start, in minutes (480 for Asia/Shanghai), worked out
    /// by the server (which has the zone database) so the browser writes the time without one.
    #[serde(default)]
    pub start_offset_minutes: Option<i64>,
    pub current_product_id: Option<ProductId>,
    pub policy: PolicyForm,
    pub products: Vec<StudioProduct>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductSales {
    pub product_id: ProductId,
    pub name: String,
    pub presented: bool,
    pub stock: i64,
    pub units_sold: i64,
    pub revenue: Fen,
    pub discount: Fen,
}

/// Live figures for the host's dashboard and the after-session summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dashboard {
    pub session_id: SessionId,
    pub status: SessionStatus,
    pub reservations: i64,
    pub invites_created: i64,
    pub friends_joined: i64,
    /// Current live-room viewers; `None` until the live room reports them.
    pub viewers: Option<i64>,
    pub orders: i64,
    pub units_sold: i64,
    /// Gross merchandise value: what shoppers paid for paid orders.
    pub gmv: Fen,
    pub discount_given: Fen,
    /// Orders refunded and what went back to the shoppers (not counted in the figures above).
    pub refunds: i64,
    pub refunded: Fen,
    pub per_product: Vec<ProductSales>,
}

/// A chat message in a live room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatLine {
    pub id: u64,
    pub shopper_id: ShopperId,
    pub nickname: String,
    /// Plain text: the client renders it as text, never as HTML.
    pub text: String,
    pub at_ms: i64,
    /// Sent by the session's host.
    pub host: bool,
}

/// The product being explained now, as the live room shows it: with its public price, the
/// discounted price and the rule (`LivePrice`, flattened), so each viewer works out its own
/// price without a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PresentingView {
    pub product_id: ProductId,
    pub name: String,
    pub image_url: String,
    #[serde(flatten)]
    pub pricing: crate::domain::discount::LivePrice,
}

/// One event of a live room's stream (`data:` of each SSE event). Every event but `hb` and
/// `me` carries the room's sequence number `seq` and the server's publish time `ts` (µs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveEvent {
    Snapshot {
        seq: u64,
        status: SessionStatus,
        presenting: Option<PresentingView>,
        /// [product id, stock]
        stock: Vec<[i64; 2]>,
        viewers: i64,
        likes: u64,
        chat: Vec<ChatLine>,
        /// The note pinned above the chat, if any.
        #[serde(default)]
        pinned: Option<PinnedNote>,
        /// The session's latest lucky draw (open, or closed with its winners).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        draw: Option<DrawCard>,
    },
    Status {
        seq: u64,
        status: SessionStatus,
    },
    Presenting {
        seq: u64,
        product: PresentingView,
    },
    Counters {
        seq: u64,
        viewers: i64,
        likes: u64,
        stock: Vec<[i64; 2]>,
    },
    Chat {
        seq: u64,
        message: ChatLine,
    },
    ChatDeleted {
        seq: u64,
        id: u64,
    },
    Purchase {
        seq: u64,
        buyer: String,
        product: String,
        more: u64,
    },
    /// The host changed a product's price during the session: each viewer works out its
    /// new price from this (no refetch).
    Product {
        seq: u64,
        product_id: ProductId,
        pricing: crate::domain::discount::LivePrice,
    },
    /// The host started or stopped broadcasting video.
    Video {
        seq: u64,
        live: bool,
    },
    /// The host or a moderator pinned a note above the chat (`None`: unpinned it).
    Pinned {
        seq: u64,
        note: Option<PinnedNote>,
    },
    /// A lucky draw opened, or closed with its winners.
    Draw {
        seq: u64,
        draw: DrawCard,
    },
    /// A coupon was dropped into the room or withdrawn (`withdrawn`).
    Coupon {
        seq: u64,
        coupon: LiveCoupon,
    },
    /// Heartbeat (every 15 s): the connection is alive.
    Hb,
    /// Something about this viewer changed: refetch their state.
    Me,
}

impl LiveEvent {
    /// The event with its room sequence number set (the room numbers events as it publishes).
    pub fn numbered(mut self, n: u64) -> LiveEvent {
        match &mut self {
            LiveEvent::Snapshot { seq, .. }
            | LiveEvent::Status { seq, .. }
            | LiveEvent::Presenting { seq, .. }
            | LiveEvent::Counters { seq, .. }
            | LiveEvent::Chat { seq, .. }
            | LiveEvent::ChatDeleted { seq, .. }
            | LiveEvent::Purchase { seq, .. }
            | LiveEvent::Product { seq, .. }
            | LiveEvent::Video { seq, .. }
            | LiveEvent::Pinned { seq, .. }
            | LiveEvent::Draw { seq, .. }
            | LiveEvent::Coupon { seq, .. } => *seq = n,
            LiveEvent::Hb | LiveEvent::Me => {}
        }
        self
    }

    pub fn seq(&self) -> Option<u64> {
        match self {
            LiveEvent::Snapshot { seq, .. }
            | LiveEvent::Status { seq, .. }
            | LiveEvent::Presenting { seq, .. }
            | LiveEvent::Counters { seq, .. }
            | LiveEvent::Chat { seq, .. }
            | LiveEvent::ChatDeleted { seq, .. }
            | LiveEvent::Purchase { seq, .. }
            | LiveEvent::Product { seq, .. }
            | LiveEvent::Video { seq, .. }
            | LiveEvent::Pinned { seq, .. }
            | LiveEvent::Draw { seq, .. }
            | LiveEvent::Coupon { seq, .. } => Some(*seq),
            LiveEvent::Hb | LiveEvent::Me => None,
        }
    }
}

/// A short note pinned above the live room's chat for everyone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinnedNote {
    pub text: String,
    pub at_ms: i64,
    /// A coupon of the session shoppers claim from the note.
    #[serde(default)]
    pub coupon_id: Option<i64>,
}

/// Why a shopper reports a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportReason {
    Spam,
    Abuse,
    Scam,
    Other,
}

impl ReportReason {
    pub const ALL: [ReportReason; 4] = [
        ReportReason::Spam,
        ReportReason::Abuse,
        ReportReason::Scam,
        ReportReason::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReportReason::Spam => "spam",
            ReportReason::Abuse => "abuse",
            ReportReason::Scam => "scam",
            ReportReason::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<ReportReason> {
        ReportReason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A reported chat message waiting for a moderator, with every report's reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedMessage {
    pub message_id: u64,
    pub author_id: ShopperId,
    pub nickname: String,
    pub text: String,
    /// How many shoppers reported it.
    pub reports: i64,
    /// The reasons given, most given first.
    pub reasons: Vec<ReportReason>,
    pub first_at_ms: i64,
}

/// Who may enter a lucky draw (any combination; none: everyone in the room may enter).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawRules {
    /// Reserved the session.
    #[serde(default)]
    pub reserved: bool,
    /// Has a verified phone number.
    #[serde(default)]
    pub verified_phone: bool,
    /// Is watching the room (its event stream open) when entering.
    #[serde(default)]
    pub in_room: bool,
    /// At least one friend joined through their invite.
    #[serde(default)]
    pub invited: bool,
    /// Non-empty: entering is commenting this keyword in the chat during the draw.
    #[serde(default)]
    pub keyword: String,
}

/// The studio's form for a new draw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawForm {
    /// What the winners get, e.g. "Serum 30 ml".
    pub prize: String,
    /// The session's product the prize orders refer to.
    pub product_id: ProductId,
    /// 1..=100.
    pub winners: u32,
    /// 10..=600 seconds.
    pub countdown_secs: u32,
    pub rules: DrawRules,
}

/// A lucky draw as the live room shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawCard {
    pub id: i64,
    pub prize: String,
    pub winners: u32,
    pub closes_at_ms: i64,
    pub rules: DrawRules,
    /// SHA-256 of the seed, hex: published when the draw opens.
    pub commitment: String,
    pub open: bool,
    /// Closed: how many entered.
    #[serde(default)]
    pub entrants: u64,
    /// Closed: the winners' nicknames, masked ("L***"), in the order drawn.
    #[serde(default)]
    pub winner_names: Vec<String>,
}

/// A draw's proof: with the seed (once closed), the entrants' public keys and the winners'
/// keys anyone can check `domain::draw::commitment(seed) == commitment` and re-run
/// `domain::draw::draw(seed, entrants, winners)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawProof {
    pub id: i64,
    pub session_id: SessionId,
    pub prize: String,
    /// Winners asked for.
    pub winners_wanted: u32,
    pub rules: DrawRules,
    pub commitment: String,
    /// Hex of the 32-byte seed; `None` while the draw is open.
    pub seed: Option<String>,
    pub open: bool,
    pub opened_at_ms: i64,
    pub closes_at_ms: i64,
    pub closed_at_ms: Option<i64>,
    pub entrant_count: u64,
    /// The entrants' public keys, sorted (empty while open).
    pub entrants: Vec<String>,
    /// The winners' keys in the order drawn.
    pub winners: Vec<String>,
    /// Their nicknames, masked, in the same order.
    pub winner_names: Vec<String>,
}

/// What entering a draw answers: the entrant's public key (to find oneself in the proof).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawEntered {
    pub draw_id: i64,
    pub entrant_key: String,
}

/// What posting a chat message returns to its sender.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatPosted {
    pub message: ChatLine,
    /// False when the room's chat was too fast and this message was not shown to everyone
    /// (the sender still sees it).
    pub broadcast: bool,
    /// Held for a moderator (it contains a term the host holds for review): only the sender
    /// sees it until a moderator lets it through.
    #[serde(default)]
    pub held: bool,
    /// The message was the open draw's keyword and entered its sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entered: Option<DrawEntered>,
}

/// A host's chat rules as the studio edits them (`domain::chat_rules` parses and checks it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatRulesForm {
    /// Terms refused outright, one per line.
    pub refuse: String,
    /// Terms whose messages wait for a moderator, one per line.
    pub hold: String,
    /// 0: off.
    pub slow_mode_secs: u32,
    pub verified_only: bool,
}

/// A chat message a "hold" term kept back, waiting for a moderator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldMessage {
    pub id: i64,
    pub shopper_id: ShopperId,
    pub nickname: String,
    pub text: String,
    /// The term that held it, as the host wrote it.
    pub term: String,
    pub at_ms: i64,
}

/// What a host's broadcaster needs to publish (studio only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BroadcastInfo {
    pub whip_url: String,
    /// Bearer token for the WHIP request.
    pub token: String,
    /// The live playlist viewers play.
    pub hls_url: String,
}

/// A product's place in a session's recording, for the replay page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayMarker {
    pub product_id: ProductId,
    pub name: String,
    /// Seconds from the start of the recording.
    pub offset_s: f64,
}

/// The video a viewer can play for a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoInfo {
    /// The HLS playlist once the host has broadcast: the live one while a broadcast is on
    /// (`live`), the recording otherwise.
    pub hls_url: Option<String>,
    /// While the broadcast is on: WebRTC playback (WHEP), tried before HLS.
    #[serde(default)]
    pub whep_url: Option<String>,
    /// The broadcast is on now.
    pub live: bool,
    /// Where each presented product starts in the recording.
    pub markers: Vec<ReplayMarker>,
}

/// A restream destination as the studio sees it. The stream key never leaves the server: only
/// its masked form (`••••abcd`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestreamDestination {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub key_masked: String,
    pub enabled: bool,
    pub state: RestreamState,
    /// With `Failing`: why (ffmpeg's last error, e.g. "Connection refused").
    pub reason: Option<String>,
    /// When the ingest node last wrote the state (Unix ms).
    pub state_at_ms: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(price: i64, left: i64, per_unit: i64) -> ProductOffer {
        ProductOffer {
            product_id: ProductId(1),
            presented: true,
            explaining_now: true,
            stock: 10,
            price: Fen(price),
            your_price: Fen(price - if left > 0 { per_unit } else { 0 }),
            discounted: left > 0,
            bought_units: 0,
            discounted_units_left: left,
            discount_per_unit: Fen(per_unit),
            discounted_bought: 0,
        }
    }

    /// A variant at its own price keeps the viewer's discounted units and takes the same
    /// share off its price (the server's `discount_per_unit`, rounded down to the fen).
    #[test]
    fn a_variant_price_keeps_the_discount_share() {
        let o = offer(12_900, 1, 6_450).at_price(Fen(13_999), 50);
        assert_eq!(
            (o.price, o.discount_per_unit, o.your_price),
            (Fen(13_999), Fen(6_999), Fen(7_000))
        );
        assert_eq!(o.total(2), Fen(13_999 * 2 - 6_999));
        let full = offer(12_900, 0, 0).at_price(Fen(9_900), 50);
        assert_eq!(
            (full.discount_per_unit, full.your_price),
            (Fen::ZERO, Fen(9_900))
        );
    }
}

mod team;
pub use team::*;
/// A live coupon as the room shows it (`domain::coupon`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveCoupon {
    pub id: i64,
    pub value: crate::domain::coupon::CouponValue,
    pub min_spend: Fen,
    pub quota: i64,
    pub expires_at_ms: i64,
    pub withdrawn: bool,
    /// The viewer's claim (none in room events: each viewer knows its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mine: Option<MyCoupon>,
}

/// What the viewer did with a coupon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MyCoupon {
    Claimed,
    Used,
}

/// The answer to a claim: one tap, answered at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimOutcome {
    Claimed,
    AllGone,
    AlreadyClaimed,
    /// Past its time, withdrawn, or the session is no longer live.
    Expired,
}

/// A coupon in the studio, with how many shoppers claimed it and used it on an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponView {
    pub coupon: LiveCoupon,
    pub claimed: i64,
    pub used: i64,
    pub created_at_ms: i64,
}

/// A shopper's reminder channels and what they can be reached by (issue 31).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReminderChoice {
    pub channels: crate::domain::reminder::Channels,
    /// Text messages need a verified number.
    pub phone_verified: bool,
    /// Web Push needs a subscription of this browser.
    pub push_subscribed: bool,
}

/// One channel's reminders for a session, as the studio shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReminderChannelStats {
    pub channel: crate::domain::reminder::Channel,
    /// Due or being sent.
    pub scheduled: i64,
    pub sent: i64,
    pub failed: i64,
    pub cancelled: i64,
    /// Sent ones whose link was opened.
    pub opened: i64,
}
