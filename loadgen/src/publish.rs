//! The `publish` scenario: a synthetic broadcaster for the HLS benchmark (scripts/bench-hls.sh).
//!
//! It is the tests' WHIP publisher (server/tests/it/common/whip_publisher.rs): an H.264 test
//! pattern (testsrc2, x264 baseline, an IDR every second) and a 440 Hz Opus tone, encoded with
//! Debian's `/usr/bin/ffmpeg`, sent in real time over WebRTC (str0m) after a WHIP POST. For
//! long runs it encodes a short clip (`--clip`, default 10 s) and loops it, RTP timestamps
//! continuing. SIGINT or SIGTERM ends the broadcast early but cleanly (the WHIP DELETE is
//! sent). Prints one JSON line at the end.

#[path = "../../server/tests/it/common/whip_publisher.rs"]
mod whip_publisher;

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use serde_json::{json, Value};
use whip_publisher::{publish_with, MediaOptions, PublishOptions};

struct Opts {
    whip: Option<String>,
    token: Option<String>,
    seconds: f64,
    width: u32,
    height: u32,
    fps: u32,
    kbps: u32,
    audio: bool,
    clip: u64,
    preset: String,
}

fn parse(args: Vec<String>) -> Result<Opts, String> {
    let mut o = Opts {
        whip: None,
        token: None,
        seconds: 60.0,
        width: 1280,
        height: 720,
        fps: 30,
        kbps: 2000,
        audio: true,
        clip: 10,
        preset: "veryfast".into(),
    };
    let mut it = args.into_iter();
    while let Some(flag) = it.next() {
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = || format!("{flag}: bad value {v}");
        match flag.as_str() {
            "--whip" => o.whip = Some(v),
            "--token" => o.token = Some(v).filter(|t| !t.is_empty()),
            "--seconds" => o.seconds = v.parse().map_err(|_| bad())?,
            "--size" => {
                let (w, h) = v.split_once('x').ok_or_else(bad)?;
                o.width = w.parse().map_err(|_| bad())?;
                o.height = h.parse().map_err(|_| bad())?;
            }
            "--fps" => o.fps = v.parse().map_err(|_| bad())?,
            "--kbps" => o.kbps = v.parse().map_err(|_| bad())?,
            "--audio" => o.audio = v.parse().map_err(|_| bad())?,
            "--clip" => o.clip = v.parse().map_err(|_| bad())?,
            "--preset" => o.preset = v,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if o.seconds <= 0.0 || o.fps == 0 || o.kbps == 0 {
        return Err("--seconds, --fps and --kbps must be > 0".into());
    }
    Ok(o)
}

pub async fn run(args: Vec<String>) -> Result<Value, String> {
    let o = parse(args)?;
    let whip = o.whip.clone().ok_or("--whip URL is needed")?;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                return;
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            eprintln!("publish: stopping (signal)");
            stop.store(true, Ordering::Relaxed);
        });
    }
    let mut p = PublishOptions::new(whip.clone());
    p.bearer_token = o.token.clone();
    p.duration = Duration::from_secs_f64(o.seconds);
    p.fps = o.fps;
    p.audio = o.audio;
    let m = MediaOptions {
        width: o.width,
        height: o.height,
        video_kbps: Some(o.kbps),
        preset: Some(o.preset.clone()).filter(|p| !p.is_empty()),
        clip: Some(Duration::from_secs(o.clip.max(1))),
        stop: Some(stop.clone()),
    };
    let started = Instant::now();
    let report = publish_with(p, m).await?;
    let wall = started.elapsed().as_secs_f64();
    let out = json!({
        "scenario": "publish",
        "whip_url": whip,
        "size": format!("{}x{}", o.width, o.height),
        "fps": o.fps,
        "kbps": o.kbps,
        "audio": o.audio,
        "clip_s": o.clip,
        "seconds_requested": o.seconds,
        "stopped_by_signal": stop.load(Ordering::Relaxed),
        "wall_s": (wall * 10.0).round() / 10.0,
        "status": report.status,
        "location": report.location,
        "connected": report.connected,
        "frames_sent": report.frames_sent,
        "seconds_sent": (report.frames_sent as f64 / o.fps as f64 * 10.0).round() / 10.0,
        "audio_packets_sent": report.audio_packets_sent,
        "keyframe_requests": report.keyframe_requests,
        "delete_status": report.delete_status,
        "disconnected_early": report.disconnected_early,
    });
    if report.status != 201 || !report.connected {
        return Err(format!("the broadcast did not get going: {out}"));
    }
    Ok(out)
}
