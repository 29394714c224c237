//! The HTTP side of a WebRTC offer/answer, the same for publishing (WHIP) and playing (WHEP):
//! read the SDP offer, open the peer's UDP socket with its one host candidate (ICE-lite), and
//! answer 201 Created with the answer and the resource's `Location`.

use std::net::IpAddr;

use axum::{
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use str0m::{change::SdpOffer, Candidate, Rtc, RtcConfig};
use tokio::net::UdpSocket;

/// A plain-text refusal.
pub fn refuse(status: StatusCode, why: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        why.to_string(),
    )
        .into_response()
}

/// The SDP offer in `body` (415 unless sent as `application/sdp`, 400 unless it parses), with
/// its text. (The refusal is the response itself: the handlers return it as it is.)
#[allow(clippy::result_large_err)]
pub fn read_offer<'a>(
    headers: &HeaderMap,
    body: &'a [u8],
) -> Result<(&'a str, SdpOffer), Response> {
    let is_sdp = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/sdp"));
    if !is_sdp {
        return Err(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Send the SDP offer as application/sdp.",
        ));
    }
    let Ok(sdp) = std::str::from_utf8(body) else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "The SDP offer is not UTF-8.",
        ));
    };
    let Ok(offer) = SdpOffer::from_sdp_string(sdp) else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "The SDP offer could not be parsed.",
        ));
    };
    Ok((sdp, offer))
}

/// A UDP socket for one peer on `ip`, and the host candidate that names it (503 when no port
/// is left).
#[allow(clippy::result_large_err)]
pub async fn peer_socket(ip: IpAddr) -> Result<(UdpSocket, Candidate), Response> {
    let unavailable = || {
        refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "No media port is available.",
        )
    };
    let socket = UdpSocket::bind((ip, 0)).await.map_err(|e| {
        tracing::warn!(error = %e, "could not bind a media socket");
        unavailable()
    })?;
    let local = socket.local_addr().map_err(|_| unavailable())?;
    let candidate = Candidate::host(local, "udp").map_err(|_| unavailable())?;
    Ok((socket, candidate))
}

/// The server's side of a WebRTC session with a browser: ICE-lite on `candidate`, RTP mode
/// (packets forwarded as they are), H.264 (preferred: copied into HLS and to viewers as it
/// is), VP8 and Opus.
pub fn lite_peer(candidate: Candidate) -> Rtc {
    let mut rtc = RtcConfig::new()
        .clear_codecs()
        .enable_h264(true)
        .enable_vp8(true)
        .enable_opus(true, false)
        .set_rtp_mode(true)
        .set_ice_lite(true)
        .build(std::time::Instant::now());
    rtc.add_local_candidate(candidate);
    rtc
}

/// 201 Created with the SDP answer, and where to DELETE the resource.
pub fn created(answer: String, location: &str) -> Response {
    let mut res = (StatusCode::CREATED, answer).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/sdp"),
    );
    if let Ok(v) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, v);
    }
    res
}
