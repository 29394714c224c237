//! Every server function with what its request must look like: method, body type and the
//! largest body it accepts. The server's request gate (`server/src/api_guard.rs`) checks a
//! request against this before any server function decodes it, so a body of the wrong type
//! is a 415, an oversized one a 413 and one that is not valid UTF-8 a 400, for every endpoint
//! alike. Method and content type come from each function's own codec (not retyped here); a
//! test checks that the table lists every registered server function.

use axum::http::Method;
use server_fn::{codec::Encoding, Http, ServerFn};
use shop_core::domain::team::Permission::{self, *};

/// The body of an ordinary server function call: a few form fields or a small JSON document.
pub const MAX_BODY: usize = 64 * 1024;
/// Image uploads: the upload limit plus room for the multipart framing.
pub const MAX_UPLOAD_BODY: usize = shop_backend::uploads::MAX_UPLOAD_BYTES + 64 * 1024;

/// A tracking-number import: a CSV of a few thousand lines.
pub const MAX_IMPORT_BODY: usize = 512 * 1024;

/// Who may call: studio functions name the team permission they need (`domain::team`), and
/// the gate refuses a caller without it before the body is read or decoded (401 anonymous,
/// 403 a shopper or a role without it). The function checks again, with the session's shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// Anyone; the function itself checks who is calling.
    Anyone,
    /// A signed-in team member whose role covers the permission.
    Host(Permission),
}

/// What a request to one server function must look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `/api/...`
    pub path: &'static str,
    pub method: Method,
    /// The body's media type for POST (`application/json`, `application/x-www-form-urlencoded`,
    /// `multipart/form-data`); arguments of GET functions travel in the query string.
    pub content_type: &'static str,
    pub max_body: usize,
    pub caller: Caller,
}

/// The input codec of a server function's protocol.
pub trait InputCodec {
    const CONTENT_TYPE: &'static str;
    const METHOD: Method;
}

impl<I: Encoding, O> InputCodec for Http<I, O> {
    const CONTENT_TYPE: &'static str = I::CONTENT_TYPE;
    const METHOD: Method = I::METHOD;
}

fn endpoint<F>(max_body: usize, caller: Caller) -> Endpoint
where
    F: ServerFn,
    F::Protocol: InputCodec,
{
    Endpoint {
        path: F::PATH,
        method: <F::Protocol as InputCodec>::METHOD,
        content_type: <F::Protocol as InputCodec>::CONTENT_TYPE,
        max_body,
        caller,
    }
}

macro_rules! endpoints {
    ($($f:ty $(=> $perm:ident $([$max:expr])?)?),* $(,)?) => {
        vec![$(endpoints!(@one $f $(, $perm $(, $max)?)?)),*]
    };
    (@one $f:ty) => { endpoint::<$f>(MAX_BODY, Caller::Anyone) };
    (@one $f:ty, $perm:ident) => { endpoint::<$f>(MAX_BODY, Caller::Host($perm)) };
    (@one $f:ty, $perm:ident, $max:expr) => { endpoint::<$f>($max, Caller::Host($perm)) };
}

/// Every server function of the app.
pub fn all() -> Vec<Endpoint> {
    use super::{
        addresses::*, catalog::*, coupons::*, draws::*, embed::*, invites::*, live::*,
        moderation::*, orders::*, phone::*, reminders::*, restream::*, shopper::*, studio::*,
        team::*, video::*, wechat::*,
    };
    endpoints![
        ListSessions,
        GetSession,
        CreateInvite,
        GetInvite,
        JoinInvite,
        PostChat,
        DeleteChat => Moderate,
        MuteShopper => Moderate,
        StudioChatRules => Moderate,
        StudioSaveChatRules => Moderate,
        StudioHeldMessages => Moderate,
        StudioDecideHeld => Moderate,
        SendLikes,
        StudioOpenDraw => RunDraws,
        StudioCloseDraw => RunDraws,
        StudioDraws => RunDraws,
        EnterDraw,
        GetDrawProof,
        LiveCoupons,
        ClaimCoupon,
        StudioCoupons => DropCoupons,
        StudioDropCoupon => DropCoupons,
        StudioWithdrawCoupon => DropCoupons,
        PlaceOrder,
        OrdersReady,
        MyOrders,
        Whoami,
        SetNickname,
        Reserve,
        GetViewerState,
        HostSignUp,
        HostSignIn,
        HostSignOut,
        CurrentHost,
        StudioSessions => ViewShow,
        StudioCreateSession => EditShow,
        GetStudioSession => ViewShow,
        StudioUpdateSession => EditShow,
        StudioDeleteSession => EditShow,
        StudioAddProduct => EditShow,
        StudioUpdateProduct => EditShow,
        WechatJssdk,
        EmbedOrigins,
        StudioEmbedOrigins => ManageShop,
        StudioAddEmbedOrigin => ManageShop,
        StudioRemoveEmbedOrigin => ManageShop,
        StudioRestreams => EditShow,
        StudioAddRestream => EditShow,
        StudioEnableRestream => EditShow,
        StudioDeleteRestream => EditShow,
        StudioSetVariants => EditShow,
        StudioDeleteProduct => EditShow,
        StudioMoveProduct => EditShow,
        StudioUploadImage => EditShow [MAX_UPLOAD_BODY],
        Rehearse => EditShow,
        GoLive => EditShow,
        PresentProduct => EditShow,
        PresentNext => EditShow,
        MarkSoldOut => EditShow,
        EndSession => EditShow,
        RefundOrder => Refund,
        MyAddresses,
        SaveAddress,
        DeleteAddress,
        ShipTo,
        StudioOrders => HandleOrders,
        ShipOrder => HandleOrders,
        ImportTracking => HandleOrders [MAX_IMPORT_BODY],
        StudioDashboard => ViewFigures,
        GetBroadcastInfo => EditShow,
        GetVideo,
        SendPhoneCode,
        VerifyPhone,
        MyReminderChannels,
        ChooseReminderChannels,
        StopReminders,
        PushKey,
        PushSubscribe,
        PushUnsubscribe,
        StudioReminders => ViewFigures,
        StudioTeam => ManageShop,
        StudioInvite => ManageShop,
        StudioRevokeInvite => ManageShop,
        StudioSetRole => ManageShop,
        StudioRemoveMember => ManageShop,
        StudioAuditLog => ManageShop,
        TeamInviteInfo,
        TeamJoin,
        StudioPin => Moderate,
        StudioUnpin => Moderate,
        ReportChat,
        StudioReports => Moderate,
        StudioDecideReport => Moderate,
    ]
}

/// The endpoint at `path`, if there is one.
pub fn find(path: &str) -> Option<&'static Endpoint> {
    // A few dozen entries: a linear scan of a table built once.
    static TABLE: std::sync::OnceLock<Vec<Endpoint>> = std::sync::OnceLock::new();
    TABLE.get_or_init(all).iter().find(|e| e.path == path)
}
