//! Operational counters of one node, read by `GET /metrics` (Prometheus text format) and
//! served only to the addresses in `APP_METRICS_ALLOW`. Plain atomics: counting never takes
//! a lock on a request path.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct Metrics {
    /// Events delivered to this node's live rooms (rate = events/s).
    pub live_events: AtomicU64,
    /// Viewers resynced with a snapshot after falling behind.
    pub live_resyncs: AtomicU64,
    /// Viewers dropped for lagging again and again.
    pub live_dropped: AtomicU64,
    /// Orders placed (paid or declined) through this node.
    pub orders: AtomicU64,
    /// Responses by status code, 100..=599.
    statuses: StatusCounts,
}

struct StatusCounts(Box<[AtomicU64]>);

impl Default for StatusCounts {
    fn default() -> Self {
        StatusCounts((100..600).map(|_| AtomicU64::new(0)).collect())
    }
}

/// Gauges read when `/metrics` is asked (not counted as they change).
pub struct Gauges {
    pub viewers: u64,
    pub rooms: u64,
    pub open_fds: Option<u64>,
    /// Distributed mode: whether Redis answers, and its last PING round trip.
    pub redis: Option<(bool, std::time::Duration)>,
}

impl Metrics {
    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a response with this status.
    pub fn response(&self, status: u16) {
        if let Some(c) = status
            .checked_sub(100)
            .and_then(|i| self.statuses.0.get(usize::from(i)))
        {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Everything in Prometheus text exposition format (version 0.0.4).
    pub fn render(&self, g: &Gauges) -> String {
        let mut out = String::with_capacity(2048);
        let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for (labels, value) in samples {
                out.push_str(&format!("{name}{labels} {value}\n"));
            }
        };
        let one = |v: u64| vec![(String::new(), v)];
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        metric(
            "live_viewers",
            "gauge",
            "Event streams held by this node.",
            &one(g.viewers),
        );
        metric(
            "live_rooms",
            "gauge",
            "Live rooms open on this node.",
            &one(g.rooms),
        );
        metric(
            "live_events_total",
            "counter",
            "Events delivered to this node's live rooms.",
            &one(load(&self.live_events)),
        );
        metric(
            "live_viewer_resyncs_total",
            "counter",
            "Viewers that fell behind and were resynced with a snapshot.",
            &one(load(&self.live_resyncs)),
        );
        metric(
            "live_viewers_dropped_total",
            "counter",
            "Viewers dropped for lagging repeatedly.",
            &one(load(&self.live_dropped)),
        );
        metric(
            "orders_placed_total",
            "counter",
            "Orders placed through this node.",
            &one(load(&self.orders)),
        );
        let statuses: Vec<(String, u64)> = self
            .statuses
            .0
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let v = load(c);
                (v > 0).then(|| (format!("{{status=\"{}\"}}", i + 100), v))
            })
            .collect();
        metric(
            "http_responses_total",
            "counter",
            "Responses by status code.",
            &statuses,
        );
        if let Some(fds) = g.open_fds {
            metric(
                "process_open_fds",
                "gauge",
                "Open file descriptors.",
                &one(fds),
            );
        }
        if let Some((up, rtt)) = g.redis {
            metric(
                "redis_up",
                "gauge",
                "Whether Redis answered its last PING.",
                &one(u64::from(up)),
            );
            out.push_str(&format!(
                "# HELP redis_rtt_seconds Round trip of the last PING to Redis.\n# TYPE redis_rtt_seconds gauge\nredis_rtt_seconds {}\n",
                rtt.as_secs_f64()
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        Metrics::count(&m.orders);
        Metrics::count(&m.orders);
        m.response(200);
        m.response(429);
        m.response(429);
        m.response(42); // out of range: ignored
        let text = m.render(&Gauges {
            viewers: 7,
            rooms: 1,
            open_fds: Some(30),
            redis: Some((true, std::time::Duration::from_micros(250))),
        });
        assert!(
            text.contains("# TYPE live_viewers gauge\nlive_viewers 7\n"),
            "{text}"
        );
        assert!(text.contains("orders_placed_total 2\n"));
        assert!(text.contains("http_responses_total{status=\"429\"} 2\n"));
        assert!(text.contains("http_responses_total{status=\"200\"} 1\n"));
        assert!(text.contains("redis_up 1\n"));
        assert!(text.contains("redis_rtt_seconds 0.00025\n"));
        // Every sample line is `name[{labels}] value`.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.rsplit_once(' ').expect("name value");
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
