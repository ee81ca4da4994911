//! Latency distributions: HdrHistogram (bounded memory, 2 significant
//! digits) over microseconds, and the percentiles reports show.

use hdrhistogram::Histogram;
use serde::Serialize;

/// Microseconds from 1 µs to one hour; longer times count as one hour.
const HIGHEST_US: u64 = 3_600_000_000;

pub fn histogram() -> Histogram<u32> {
    Histogram::new_with_bounds(1, HIGHEST_US, 2).expect("valid histogram bounds")
}

pub fn record(h: &mut Histogram<u32>, micros: u64) {
    h.saturating_record(micros.clamp(1, HIGHEST_US));
}

/// Percentiles of a distribution, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Percentiles {
    /// Requests that had a time.
    pub count: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

impl Percentiles {
    pub fn of(h: &Histogram<u32>) -> Option<Percentiles> {
        (!h.is_empty()).then(|| Percentiles {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p95_ms: ms(h.value_at_quantile(0.95)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        })
    }
}

/// A few latencies kept as they are, and a histogram once there are more:
/// an endpoint seen once (a scanner's random path) costs 64 bytes, not a
/// histogram's 13 KB.
#[derive(Debug, Clone, Default)]
pub struct SmallLatencies {
    few: Vec<u32>,
    many: Option<Box<Histogram<u32>>>,
}

const FEW: usize = 16;

impl SmallLatencies {
    pub fn record(&mut self, micros: u64) {
        if let Some(h) = &mut self.many {
            record(h, micros);
        } else if self.few.len() < FEW {
            if self.few.capacity() == 0 {
                self.few.reserve_exact(FEW);
            }
            self.few.push(micros.min(u64::from(u32::MAX)) as u32);
        } else {
            let mut h = Box::new(histogram());
            for v in self.few.drain(..) {
                record(&mut h, u64::from(v));
            }
            self.few = Vec::new();
            record(&mut h, micros);
            self.many = Some(h);
        }
    }

    pub fn merge(&mut self, other: SmallLatencies) {
        for v in other.few {
            self.record(u64::from(v));
        }
        if let Some(h) = other.many {
            let mine = self.many.get_or_insert_with(|| Box::new(histogram()));
            for v in self.few.drain(..) {
                record(mine, u64::from(v));
            }
            let _ = mine.add(&*h);
        }
    }

    pub fn percentiles(&self) -> Option<Percentiles> {
        if let Some(h) = &self.many {
            return Percentiles::of(h);
        }
        let mut h = histogram();
        for v in &self.few {
            record(&mut h, u64::from(*v));
        }
        Percentiles::of(&h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_distribution() {
        let mut h = histogram();
        for ms in 1..=100u64 {
            record(&mut h, ms * 1000);
        }
        let p = Percentiles::of(&h).unwrap();
        assert_eq!(p.count, 100);
        assert!((p.p50_ms - 50.0).abs() <= 0.5, "{p:?}");
        assert!((p.p95_ms - 95.0).abs() <= 1.0, "{p:?}");
        assert!((p.max_ms - 100.0).abs() <= 1.0, "{p:?}");
    }

    #[test]
    fn few_then_many_give_the_same_percentiles() {
        let mut small = SmallLatencies::default();
        let mut h = histogram();
        for v in [5_000u64, 200_000, 1_000, 3_000_000] {
            small.record(v);
            record(&mut h, v);
        }
        assert_eq!(small.percentiles(), Percentiles::of(&h));
        for v in 0..100u64 {
            small.record(v * 1000);
            record(&mut h, v * 1000);
        }
        assert_eq!(small.percentiles(), Percentiles::of(&h));
    }
}
