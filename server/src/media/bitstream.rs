//! What the ladder needs to know of the host's video before packaging starts, read from the
//! RTP payloads themselves: the picture size (rungs taller than it are left out) and, for
//! H.264, the profile and level for the `CODECS` attribute. H.264 from its sequence parameter
//! set (RFC 6184 packetisation: single NAL unit or STAP-A), VP8 from a key frame's header
//! (RFC 7741 payload descriptor, RFC 6386 frame tag).

/// An H.264 SPS, the parts we use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sps {
    pub profile_idc: u8,
    pub constraints: u8,
    pub level_idc: u8,
    pub width: u32,
    pub height: u32,
}

/// The SPS carried in one H.264 RTP payload, if it carries one.
pub fn h264_sps_in_rtp(payload: &[u8]) -> Option<Sps> {
    let first = *payload.first()?;
    match first & 0x1f {
        7 => parse_sps(payload),
        // STAP-A: 16-bit sizes, each followed by one NAL unit.
        24 => {
            let mut rest = &payload[1..];
            while rest.len() > 2 {
                let size = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                let nal = rest.get(2..2 + size)?;
                if nal.first().is_some_and(|b| b & 0x1f == 7) {
                    return parse_sps(nal);
                }
                rest = &rest[2 + size..];
            }
            None
        }
        _ => None,
    }
}

/// Parses an SPS NAL unit (with its one-byte NAL header).
pub fn parse_sps(nal: &[u8]) -> Option<Sps> {
    if nal.len() < 4 || nal[0] & 0x1f != 7 {
        return None;
    }
    let rbsp = unescape(&nal[1..]);
    let mut r = Bits::new(&rbsp);
    let profile_idc = r.u(8)? as u8;
    let constraints = r.u(8)? as u8;
    let level_idc = r.u(8)? as u8;
    r.ue()?; // seq_parameter_set_id
    let mut chroma_format_idc = 1;
    if matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma_format_idc = r.ue()?;
        if chroma_format_idc == 3 {
            r.u(1)?; // separate_colour_plane_flag
        }
        r.ue()?; // bit_depth_luma_minus8
        r.ue()?; // bit_depth_chroma_minus8
        r.u(1)?; // qpprime_y_zero_transform_bypass_flag
        if r.u(1)? == 1 {
            // seq_scaling_matrix_present_flag: skip the lists.
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.u(1)? == 1 {
                    let size = if i < 6 { 16 } else { 64 };
                    let (mut last, mut next) = (8i64, 8i64);
                    for _ in 0..size {
                        if next != 0 {
                            next = (last + r.se()? + 256) % 256;
                        }
                        if next != 0 {
                            last = next;
                        }
                    }
                }
            }
        }
    }
    r.ue()?; // log2_max_frame_num_minus4
    match r.ue()? {
        0 => {
            r.ue()?; // log2_max_pic_order_cnt_lsb_minus4
        }
        1 => {
            r.u(1)?;
            r.se()?;
            r.se()?;
            let cycle = r.ue()?;
            if cycle > 255 {
                return None;
            }
            for _ in 0..cycle {
                r.se()?;
            }
        }
        _ => {}
    }
    r.ue()?; // max_num_ref_frames
    r.u(1)?; // gaps_in_frame_num_value_allowed_flag
    let width_mbs = r.ue()? + 1;
    let height_map_units = r.ue()? + 1;
    let frame_mbs_only = r.u(1)?;
    if frame_mbs_only == 0 {
        r.u(1)?; // mb_adaptive_frame_field_flag
    }
    r.u(1)?; // direct_8x8_inference_flag
    let (mut crop_l, mut crop_r, mut crop_t, mut crop_b) = (0, 0, 0, 0);
    if r.u(1)? == 1 {
        crop_l = r.ue()?;
        crop_r = r.ue()?;
        crop_t = r.ue()?;
        crop_b = r.ue()?;
    }
    let field = 2 - frame_mbs_only;
    let (unit_x, unit_y) = match chroma_format_idc {
        0 => (1, field),
        1 => (2, 2 * field),
        2 => (2, field),
        _ => (1, field),
    };
    let width = (width_mbs * 16).checked_sub(unit_x * (crop_l + crop_r))?;
    let height = (field * height_map_units * 16).checked_sub(unit_y * (crop_t + crop_b))?;
    if width == 0 || height == 0 || width > 8192 || height > 8192 {
        return None;
    }
    Some(Sps {
        profile_idc,
        constraints,
        level_idc,
        width,
        height,
    })
}

/// The picture size of a VP8 key frame starting in this RTP payload, if it starts one.
pub fn vp8_keyframe_size(payload: &[u8]) -> Option<(u32, u32)> {
    let d = *payload.first()?;
    let (extended, start, partition) = (d & 0x80 != 0, d & 0x10 != 0, d & 0x07);
    if !start || partition != 0 {
        return None;
    }
    let mut i = 1;
    if extended {
        let x = *payload.get(1)?;
        i = 2;
        if x & 0x80 != 0 {
            // PictureID: 7 or 15 bits.
            i += if payload.get(i)? & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            i += 1; // TL0PICIDX
        }
        if x & 0x30 != 0 {
            i += 1; // TID/Y/KEYIDX
        }
    }
    let frame = payload.get(i..i + 10)?;
    // Frame tag bit 0: 0 for a key frame; then the start code 9d 01 2a.
    if frame[0] & 0x01 != 0 || frame[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let width = u32::from(u16::from_le_bytes([frame[6], frame[7]]) & 0x3fff);
    let height = u32::from(u16::from_le_bytes([frame[8], frame[9]]) & 0x3fff);
    (width > 0 && height > 0).then_some((width, height))
}

/// Removes emulation prevention bytes (00 00 03 → 00 00).
fn unescape(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut zeros = 0;
    for &b in data {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// An MSB-first bit reader with Exp-Golomb codes.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8]) -> Self {
        Bits { data, pos: 0 }
    }

    fn bit(&mut self) -> Option<u32> {
        let byte = self.data.get(self.pos / 8)?;
        let b = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Some(u32::from(b))
    }

    fn u(&mut self, n: u32) -> Option<u32> {
        let mut v = 0;
        for _ in 0..n {
            v = (v << 1) | self.bit()?;
        }
        Some(v)
    }

    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        Some((1u32 << zeros) - 1 + self.u(zeros)?)
    }

    fn se(&mut self) -> Option<i64> {
        let k = i64::from(self.ue()?);
        Some(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An SPS NAL unit as x264 writes it (High profile, level 3.1, 1280x720 with cropping).
    const X264_HIGH_720P: [u8; 26] = [
        0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x10, 0x00, 0x00, 0x03,
        0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x83, 0x19, 0x60,
    ];

    #[test]
    fn sps_sizes_profiles_and_levels() {
        let s = parse_sps(&X264_HIGH_720P).expect("sps");
        assert_eq!((s.width, s.height), (1280, 720));
        assert_eq!((s.profile_idc, s.level_idc), (100, 0x1f));
        // In a STAP-A with a PPS after it.
        let mut stap = vec![24u8];
        stap.extend_from_slice(&(X264_HIGH_720P.len() as u16).to_be_bytes());
        stap.extend_from_slice(&X264_HIGH_720P);
        stap.extend_from_slice(&[0, 4, 0x68, 0xeb, 0xe3, 0xcb]);
        assert_eq!(h264_sps_in_rtp(&stap), Some(s));
        assert_eq!(h264_sps_in_rtp(&[0x65, 0x88, 0x84]), None, "an IDR slice");
        assert_eq!(
            h264_sps_in_rtp(&[24, 0, 200, 0x67]),
            None,
            "a size past the end"
        );
    }

    #[test]
    fn sps_from_ffmpeg_encodes_of_several_sizes() {
        // Encoded here by Debian's ffmpeg, so the parser meets real cropping and profiles.
        let ffmpeg = std::process::Command::new("ffmpeg")
            .arg("-version")
            .output();
        if ffmpeg.is_err() {
            eprintln!("no ffmpeg; skipped");
            return;
        }
        for (size, profile) in [
            ("1280x720", "high"),
            ("640x480", "baseline"),
            ("854x480", "main"),
            ("426x240", "main"),
            ("720x1280", "high"),
        ] {
            let dir = tempfile_dir();
            let out = dir.join("v.h264");
            let status = std::process::Command::new("ffmpeg")
                .args([
                    "-hide_banner",
                    "-loglevel",
                    "error",
                    "-y",
                    "-f",
                    "lavfi",
                    "-i",
                ])
                .arg(format!("testsrc2=size={size}:rate=30"))
                .args(["-frames:v", "1", "-c:v", "libx264", "-profile:v", profile])
                .args(["-pix_fmt", "yuv420p", "-f", "h264"])
                .arg(&out)
                .status()
                .expect("ffmpeg runs");
            assert!(status.success());
            let data = std::fs::read(&out).expect("written");
            let sps = data
                .windows(5)
                .position(|w| w[..4] == [0, 0, 0, 1] && w[4] & 0x1f == 7)
                .map(|i| &data[i + 4..])
                .expect("an SPS");
            let end = sps
                .windows(3)
                .position(|w| w == [0, 0, 1])
                .unwrap_or(sps.len());
            let parsed = parse_sps(&sps[..end]).expect("parses");
            assert_eq!(
                format!("{}x{}", parsed.width, parsed.height),
                size,
                "{profile}"
            );
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!(
            "sps-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&d).expect("dir");
        d
    }

    #[test]
    fn vp8_key_frames_give_their_size() {
        // Descriptor with X, I (15-bit picture id), then a key frame tag, start code, 640x480.
        let key = [
            0x90, 0x80, 0x81, 0x23, 0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01,
        ];
        assert_eq!(vp8_keyframe_size(&key), Some((640, 480)));
        // Minimal descriptor.
        let key2 = [
            0x10, 0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x00, 0x05, 0xd0, 0x02,
        ];
        assert_eq!(vp8_keyframe_size(&key2), Some((1280, 720)));
        // An inter frame, a continuation packet, garbage.
        let mut inter = key;
        inter[4] |= 1;
        assert_eq!(vp8_keyframe_size(&inter), None);
        assert_eq!(vp8_keyframe_size(&[0x80, 0x80, 0x01]), None);
        assert_eq!(vp8_keyframe_size(&[]), None);
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for len in 0..200 {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            let _ = h264_sps_in_rtp(&data);
            let mut nal = data.clone();
            if let Some(b) = nal.first_mut() {
                *b = 0x67;
            }
            let _ = parse_sps(&nal);
            let _ = vp8_keyframe_size(&data);
        }
    }
}
