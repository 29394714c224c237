//! HLS packaging by Debian's ffmpeg, supervised, and serving the result.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use axum::{
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

/// ffmpeg's arguments for run number `run`. Each run (a restart after a failure, or another
/// broadcast of the same session) writes its own `run_{n}.m3u8` with its own init segment;
/// [`merge_playlists`] joins the runs into the `index.m3u8` that players load.
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
        "1500000",
        "-probesize",
        "1000000",
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
    let tag = stamp();
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
        format!("init_{run}_{tag}.mp4"),
        "-hls_segment_filename".into(),
        format!("seg_{run}_{tag}_%05d.m4s"),
        "-hls_flags".into(),
        "independent_segments+program_date_time".into(),
        format!("run_{run}.m3u8"),
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
        let runs = count_runs(dir).await;
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
                    // Live RTP input makes ffmpeg chatty (timestamp notes before the first
                    // keyframe); only its errors deserve a warning.
                    if line.to_ascii_lowercase().contains("error") {
                        tracing::warn!(target: "ffmpeg", "{line}");
                    } else {
                        tracing::debug!(target: "ffmpeg", "{line}");
                    }
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
        merge_playlists(&self.dir, true).await;
        tracing::info!(dir = %self.dir.display(), "HLS packager stopped");
    }
}

/// Joins every run's playlist (in order) into `index.m3u8`: each run starts after a
/// discontinuity with its own init segment. `finished` adds `#EXT-X-ENDLIST`, which makes the
/// playlist a recording. Written atomically; a run with no segment yet is left out.
pub async fn merge_playlists(dir: &Path, finished: bool) {
    let mut runs: Vec<(u32, String)> = Vec::new();
    if let Ok(mut rd) = tokio::fs::read_dir(dir).await {
        while let Ok(Some(e)) = rd.next_entry().await {
            let name = e.file_name().to_string_lossy().into_owned();
            let n = name
                .strip_prefix("run_")
                .and_then(|r| r.strip_suffix(".m3u8"))
                .and_then(|n| n.parse::<u32>().ok());
            if let (Some(n), Ok(text)) = (n, tokio::fs::read_to_string(e.path()).await) {
                runs.push((n, text));
            }
        }
    }
    runs.sort_by_key(|r| r.0);
    let texts: Vec<&str> = runs.iter().map(|r| r.1.as_str()).collect();
    let Some(merged) = merge(&texts, finished) else {
        return;
    };
    let tmp = dir.join("index.m3u8.tmp");
    if tokio::fs::write(&tmp, merged).await.is_ok() {
        let _ = tokio::fs::rename(&tmp, dir.join("index.m3u8")).await;
    }
}

/// The merge itself (pure): `None` until some run has a segment.
pub fn merge(runs: &[&str], finished: bool) -> Option<String> {
    let mut body = String::new();
    let mut target = 1u32;
    let mut any = false;
    for run in runs {
        let map = run.lines().find(|l| l.starts_with("#EXT-X-MAP:"));
        let mut entries = String::new();
        let mut pending = String::new();
        for line in run.lines() {
            if let Some(d) = line.strip_prefix("#EXT-X-TARGETDURATION:") {
                target = target.max(d.trim().parse().unwrap_or(1));
            } else if line.starts_with("#EXTINF:") || line.starts_with("#EXT-X-PROGRAM-DATE-TIME:")
            {
                pending.push_str(line);
                pending.push('\n');
            } else if !line.starts_with('#') && !line.trim().is_empty() {
                entries.push_str(&pending);
                entries.push_str(line.trim());
                entries.push('\n');
                pending.clear();
            }
        }
        let (Some(map), false) = (map, entries.is_empty()) else {
            continue;
        };
        if any {
            body.push_str("#EXT-X-DISCONTINUITY\n");
        }
        body.push_str(map);
        body.push('\n');
        body.push_str(&entries);
        any = true;
    }
    if !any {
        return None;
    }
    let mut out = format!(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-INDEPENDENT-SEGMENTS\n"
    );
    out.push_str(&body);
    if finished {
        out.push_str("#EXT-X-ENDLIST\n");
    }
    Some(out)
}

async fn count_runs(dir: &Path) -> u32 {
    let mut n = 0;
    if let Ok(mut rd) = tokio::fs::read_dir(dir).await {
        while let Ok(Some(e)) = rd.next_entry().await {
            if e.file_name().to_string_lossy().starts_with("run_") {
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
    req: axum::extract::Request,
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
    let (ctype, cache) = if file.ends_with(".m3u8") {
        ("application/vnd.apple.mpegurl", "no-cache")
    } else if file.ends_with(".mp4") {
        ("video/mp4", crate::assets::IMMUTABLE)
    } else {
        ("video/iso.segment", crate::assets::IMMUTABLE)
    };
    let mut res = crate::assets::serve_file(&path, req, ctype, cache).await;
    res.headers_mut().insert(
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
        assert!(v.contains("-c:v libx264") && !v.contains("-c:a") && v.ends_with("run_2.m3u8"));
    }

    #[test]
    fn runs_are_merged_with_discontinuities_and_their_own_init_segments() {
        let run0 = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n#EXT-X-MAP:URI=\"init_0_a.mp4\"\n#EXTINF:1.000000,\n#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:00.000+0000\nseg_0_a_00000.m4s\n#EXTINF:1.000000,\nseg_0_a_00001.m4s\n";
        let run1 = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"init_1_b.mp4\"\n#EXTINF:1.500000,\nseg_1_b_00000.m4s\n";
        let empty = "#EXTM3U\n#EXT-X-MAP:URI=\"init_2_c.mp4\"\n";
        let m = merge(&[run0, run1, empty], true).expect("segments");
        assert!(m.starts_with("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n"));
        let map0 = m.find("init_0_a.mp4").expect("map 0");
        let disc = m.find("#EXT-X-DISCONTINUITY").expect("discontinuity");
        let map1 = m.find("init_1_b.mp4").expect("map 1");
        assert!(map0 < disc && disc < map1);
        assert!(m.contains(
            "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:00.000+0000\nseg_0_a_00000.m4s\n"
        ));
        assert!(
            !m.contains("init_2_c"),
            "a run without segments is left out"
        );
        assert!(m.ends_with("#EXT-X-ENDLIST\n"));
        assert_eq!(merge(&[empty], false), None);
        assert!(!merge(&[run0], false).expect("live").contains("ENDLIST"));
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
