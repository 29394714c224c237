//! Latency histograms the scenarios share, mergeable across worker processes.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use serde_json::{json, Value};

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// Latencies: 10 µs buckets up to 10 ms, then 1 ms buckets up to 60 s.
pub struct Histogram {
    buckets: Vec<AtomicU64>,
}

const FINE: usize = 1000;
const COARSE: usize = 60_000;

impl Histogram {
    pub fn new() -> Histogram {
        Histogram {
            buckets: (0..FINE + COARSE).map(|_| AtomicU64::new(0)).collect(),
        }
    }
    pub fn record(&self, d: Duration) {
        let us = d.as_micros() as usize;
        let i = if us < 10_000 {
            us / 10
        } else {
            (FINE + (us - 10_000) / 1000).min(FINE + COARSE - 1)
        };
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
    }
    fn ms(i: usize) -> f64 {
        if i < FINE {
            i as f64 / 100.0
        } else {
            10.0 + (i - FINE) as f64
        }
    }
    pub fn percentile(&self, p: f64) -> Option<f64> {
        let total: u64 = self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum();
        if total == 0 {
            return None;
        }
        let rank = ((total as f64) * p).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            seen += b.load(Ordering::Relaxed);
            if seen >= rank {
                return Some(round(Self::ms(i), 2));
            }
        }
        None
    }
    /// Non-empty buckets as `[[bucket, count], ...]`, how a worker process reports them.
    pub fn sparse(&self) -> Value {
        Value::Array(
            self.buckets
                .iter()
                .enumerate()
                .filter_map(|(i, b)| {
                    let n = b.load(Ordering::Relaxed);
                    (n > 0).then(|| json!([i, n]))
                })
                .collect(),
        )
    }
    pub fn merge(&self, sparse: &Value) {
        for pair in sparse.as_array().into_iter().flatten() {
            if let (Some(i), Some(n)) = (pair[0].as_u64(), pair[1].as_u64()) {
                self.buckets[(i as usize).min(FINE + COARSE - 1)].fetch_add(n, Ordering::Relaxed);
            }
        }
    }
    /// p50, p99 and max in milliseconds.
    pub fn summary(&self) -> Value {
        json!({ "p50": self.percentile(0.50), "p99": self.percentile(0.99), "max": self.percentile(1.0) })
    }
}
