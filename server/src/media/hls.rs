//! HLS packaging by Debian's ffmpeg, supervised, and serving the result.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use axum::{
    body::Body,
    extract::{Path as UrlPath, State},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use tokio::{io::AsyncWriteExt, process::Child};

use crate::ServerState;

/// The video codec the publisher sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    /// Copied into the segments as is.
    H264,
    /// Transcoded to H.264 (Safari and most phones play H.264 HLS).
    Vp8,
}

impl VideoCodec {
    pub fn as_str(self) -> &'static str {
        match self {
            VideoCodec::H264 => "h264",
            VideoCodec::Vp8 => "vp8",
        }
    }
}

/// Where ffmpeg listens for our forwarded RTP.
#[derive(Debug, Clone, Copy)]
pub struct RtpPorts {
    pub video: u16,
    pub audio: Option<u16>,
}

/// The SDP that tells ffmpeg what arrives on which port. Payload types are normalised by the
/// forwarder: video 96, audio 111.
pub fn sdp(codec: VideoCodec, ports: RtpPorts) -> String {
    let mut s = String::from(
        "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=live\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n",
    );
    match codec {
        VideoCodec::H264 => s.push_str(&format!(
            "m=video {} RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1\r\n",
            ports.video
        )),
        VideoCodec::Vp8 => s.push_str(&format!(
            "m=video {} RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n",
            ports.video
        )),
    }
    if let Some(a) = ports.audio {
        s.push_str(&format!(
            "m=audio {a} RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n"
        ));
    }
    s
}

/// ffmpeg's arguments for run number `run` (each restart starts a new init segment and continues
/// the same playlist after a discontinuity).
pub fn ffmpeg_args(codec: VideoCodec, audio: bool, run: u32) -> Vec<String> {
    let mut a: Vec<String> = [
        "-hide_banner",
        "-loglevel",
        "warning",
        "-nostats",
        "-protocol_whitelist",
        "file,udp,rtp",
        "-fflags",
        "+genpts+nobuffer",
        "-flags",
        "low_delay",
        "-analyzeduration",
        "3000000",
        "-probesize",
        "2000000",
        "-reorder_queue_size",
        "256",
        "-max_delay",
        "500000",
        "-i",
        "stream.sdp",
        "-map",
        "0:v:0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // stdin stays open: writing `q` to it is how we stop ffmpeg cleanly.
    match codec {
        VideoCodec::H264 => a.extend(["-c:v", "copy"].map(String::from)),
        VideoCodec::Vp8 => a.extend(
            [
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-tune",
                "zerolatency",
                "-pix_fmt",
                "yuv420p",
                "-g",
                "30",
                "-keyint_min",
                "30",
                "-sc_threshold",
                "0",
            ]
            .map(String::from),
        ),
    }
    if audio {
        a.extend(
            [
                "-map", "0:a:0?", "-c:a", "aac", "-b:a", "96k", "-ar", "48000",
            ]
            .map(String::from),
        );
    }
    let flags = if run == 0 {
        "independent_segments+program_date_time+append_list"
    } else {
        "independent_segments+program_date_time+append_list+discont_start"
    };
    a.extend([
        "-f".to_string(),
        "hls".into(),
        "-hls_time".into(),
        "1".into(),
        "-hls_list_size".into(),
        "0".into(),
        "-hls_playlist_type".into(),
        "event".into(),
        "-hls_segment_type".into(),
        "fmp4".into(),
        "-hls_fmp4_init_filename".into(),
        format!("init_{run}_{}.mp4", stamp()),
        "-hls_segment_filename".into(),
        format!("seg_{run}_{}_%05d.m4s", stamp()),
        "-hls_flags".into(),
        flags.into(),
        "index.m3u8".into(),
    ]);
    a
}

/// A short unique tag so file names never repeat across broadcasts (segments are cached forever).
fn stamp() -> String {
    format!("{:x}", app::backend::now_ms())
}

/// A free UDP port on loopback for ffmpeg to listen on.
pub fn free_udp_port() -> std::io::Result<u16> {
    let s = std::net::UdpSocket::bind("127.0.0.1:0")?;
    Ok(s.local_addr()?.port())
}

/// A supervised ffmpeg packaging one broadcast: restarted when it fails, stopped cleanly
/// (so the playlist gets its end marker) when the broadcast ends.
pub struct Packager {
    dir: PathBuf,
    ffmpeg: String,
    codec: VideoCodec,
    pub ports: RtpPorts,
    child: Option<Child>,
    runs: u32,
    restarts: Vec<Instant>,
}

impl Packager {
    pub async fn start(
        dir: &Path,
        ffmpeg: &str,
        codec: VideoCodec,
        audio: bool,
    ) -> std::io::Result<Packager> {
        tokio::fs::create_dir_all(dir).await?;
        let ports = RtpPorts {
            video: free_udp_port()?,
            audio: if audio { Some(free_udp_port()?) } else { None },
        };
        tokio::fs::write(dir.join("stream.sdp"), sdp(codec, ports)).await?;
        // Continue numbering after an earlier broadcast of the same session.
        let runs = count_inits(dir).await;
        let mut p = Packager {
            dir: dir.to_path_buf(),
            ffmpeg: ffmpeg.to_string(),
            codec,
            ports,
            child: None,
            runs,
            restarts: Vec::new(),
        };
        p.spawn()?;
        Ok(p)
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        let mut child = tokio::process::Command::new(&self.ffmpeg)
            .args(ffmpeg_args(
                self.codec,
                self.ports.audio.is_some(),
                self.runs,
            ))
            .current_dir(&self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        // ffmpeg's warnings go to our log.
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(async move {
                use tokio::io::AsyncBufReadExt;
                let mut lines = tokio::io::BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::warn!(target: "ffmpeg", "{line}");
                }
            });
        }
        tracing::info!(dir = %self.dir.display(), run = self.runs, codec = self.codec.as_str(), "HLS packager started");
        self.runs += 1;
        self.child = Some(child);
        Ok(())
    }

    /// Checks on ffmpeg; restarts it if it died (at most 5 times a minute).
    pub fn supervise(&mut self) {
        let exited = match self.child.as_mut().map(|c| c.try_wait()) {
            Some(Ok(Some(status))) => Some(status),
            _ => None,
        };
        let Some(status) = exited else { return };
        tracing::warn!(%status, dir = %self.dir.display(), "ffmpeg exited during a broadcast");
        let now = Instant::now();
        self.restarts
            .retain(|t| now.duration_since(*t) < Duration::from_secs(60));
        if self.restarts.len() >= 5 {
            tracing::error!(dir = %self.dir.display(), "ffmpeg keeps failing; giving up on this broadcast's recording");
            self.child = None;
            return;
        }
        self.restarts.push(now);
        if let Err(e) = self.spawn() {
            tracing::error!(error = %e, "could not restart ffmpeg");
            self.child = None;
        }
    }

    pub fn video_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ports.video))
    }

    pub fn audio_addr(&self) -> Option<SocketAddr> {
        self.ports
            .audio
            .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
    }

    /// Asks ffmpeg to finish (writing the playlist's end), waits up to 5 s, then kills it.
    pub async fn stop(mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(b"q").await;
        }
        match tokio::time::timeout(Duration::from_secs(5), child.wait()).await {
            Ok(_) => {}
            Err(_) => {
                let _ = child.kill().await;
            }
        }
        finalize_playlist(&self.dir).await;
        tracing::info!(dir = %self.dir.display(), "HLS packager stopped");
    }
}

/// Marks the playlist complete (`#EXT-X-ENDLIST`) once the broadcast is over, whatever way
/// ffmpeg ended: players then treat it as a recording (seekable, no live edge).
pub async fn finalize_playlist(dir: &Path) {
    let path = dir.join("index.m3u8");
    let Ok(text) = tokio::fs::read_to_string(&path).await else {
        return;
    };
    if text.contains("#EXT-X-ENDLIST") {
        return;
    }
    let mut done = text;
    if !done.ends_with('\n') {
        done.push('\n');
    }
    done.push_str("#EXT-X-ENDLIST\n");
    let tmp = dir.join("index.m3u8.tmp");
    if tokio::fs::write(&tmp, done).await.is_ok() {
        let _ = tokio::fs::rename(&tmp, &path).await;
    }
}

async fn count_inits(dir: &Path) -> u32 {
    let mut n = 0;
    if let Ok(mut rd) = tokio::fs::read_dir(dir).await {
        while let Ok(Some(e)) = rd.next_entry().await {
            if e.file_name().to_string_lossy().starts_with("init_") {
                n += 1;
            }
        }
    }
    n
}

/// File names we serve: `index.m3u8`, `init_*.mp4`, `seg_*.m4s` (no paths).
pub fn is_servable(name: &str) -> bool {
    let safe = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        && !name.contains("..");
    safe && (name == "index.m3u8"
        || (name.starts_with("init_") && name.ends_with(".mp4"))
        || (name.starts_with("seg_") && name.ends_with(".m4s")))
}

/// `GET /hls/{session}/{file}`: playlists are revalidated every time (they grow while live);
/// segments never change, so they are cached for good (a CDN serves them).
pub async fn serve(
    State(state): State<ServerState>,
    UrlPath((session, file)): UrlPath<(String, String)>,
) -> Response {
    let Ok(session_id) = session.parse::<i64>() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !is_servable(&file) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let path = state
        .media
        .settings
        .media_dir
        .join(session_id.to_string())
        .join(&file);
    let Ok(bytes) = tokio::fs::read(&path).await else {
        return (StatusCode::NOT_FOUND, "Not found").into_response();
    };
    let (ctype, cache) = if file.ends_with(".m3u8") {
        ("application/vnd.apple.mpegurl", "no-cache")
    } else if file.ends_with(".mp4") {
        ("video/mp4", crate::assets::IMMUTABLE)
    } else {
        ("video/iso.segment", crate::assets::IMMUTABLE)
    };
    let mut res = Response::new(Body::from(bytes));
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdp_describes_the_forwarded_streams() {
        let s = sdp(
            VideoCodec::H264,
            RtpPorts {
                video: 5000,
                audio: Some(5002),
            },
        );
        assert!(s.contains("m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000"));
        assert!(s.contains("m=audio 5002 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2"));
        assert!(!sdp(
            VideoCodec::Vp8,
            RtpPorts {
                video: 1,
                audio: None
            }
        )
        .contains("m=audio"));
    }

    #[test]
    fn ffmpeg_copies_h264_and_transcodes_vp8_into_1s_fmp4_hls() {
        let a = ffmpeg_args(VideoCodec::H264, true, 0).join(" ");
        assert!(
            a.contains("-c:v copy")
                && a.contains("-c:a aac")
                && a.contains("-hls_time 1")
                && a.contains("-hls_segment_type fmp4")
        );
        let v = ffmpeg_args(VideoCodec::Vp8, false, 2).join(" ");
        assert!(v.contains("-c:v libx264") && !v.contains("-c:a") && v.contains("discont_start"));
    }

    #[test]
    fn only_playlists_and_segments_are_served() {
        assert!(is_servable("index.m3u8"));
        assert!(is_servable("seg_0_18c_00012.m4s"));
        assert!(is_servable("init_0_18c.mp4"));
        assert!(!is_servable("stream.sdp"));
        assert!(!is_servable("../index.m3u8"));
        assert!(!is_servable("seg_0/../../x.m4s"));
    }
}
