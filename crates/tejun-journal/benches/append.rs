//! Latency of one durable append (WAL, `synchronous=FULL`: an fsync per
//! append), as the engine pays it twice per step.
//!
//! `cargo bench -p tejun-journal --bench append` (optionally
//! `TEJUN_BENCH_DIR=/some/disk` to measure a particular file system; the
//! default is the system temp dir). Prints median and p99.

use std::time::{Duration, Instant};

use serde_json::json;
use tejun_journal::{Journal, NewEvent};

const WARMUP: usize = 50;
const SAMPLES: usize = 1000;

fn main() {
    let base = std::env::var_os("TEJUN_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::tempdir_in(&base).expect("bench dir");
    let journal = Journal::open(&dir.path().join("journal.db")).expect("open journal");
    // A step.finished-sized payload.
    let payload = json!({
        "run_id": "01JD3Q5R8ZK3Y2V7W9X4N6M1PB", "phase": "execute", "step_id": "reload-nginx",
        "ordinal": 7, "attempt": 1, "status": "ok", "exit_code": 0, "duration_ms": 12,
        "output_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "stdout_tail": "nginx: configuration file /etc/nginx/nginx.conf test is successful\n",
        "stderr_tail": "", "error": null
    });
    let event = NewEvent {
        stream: "run/bench",
        refs: &[],
        kind: "step.finished",
        actor: "bench@host",
        payload: &payload,
        ts: None,
    };
    let single = measure(|| {
        journal.append(event.clone()).expect("append");
    });
    report("durable append, 1 event", &base, single);
    // A step boundary written as one transaction: end of N + start of N+1.
    let pair = measure(|| {
        journal
            .append_all(&[event.clone(), event.clone()])
            .expect("append_all");
    });
    report("durable append_all, 2 events", &base, pair);

    let start = Instant::now();
    let report_ = journal.verify().expect("verify");
    let took = start.elapsed();
    assert!(report_.first_bad.is_none());
    println!(
        "verify: {} events in {:?} ({:.0} events/s)",
        report_.checked,
        took,
        report_.checked as f64 / took.as_secs_f64()
    );
}

fn measure(mut op: impl FnMut()) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(SAMPLES);
    for i in 0..WARMUP + SAMPLES {
        let start = Instant::now();
        op();
        if i >= WARMUP {
            samples.push(start.elapsed());
        }
    }
    samples.sort();
    samples
}

fn report(what: &str, base: &std::path::Path, samples: Vec<Duration>) {
    let pct = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "{what} ({} samples, {}): median {:?}, p99 {:?}, mean {:?}, max {:?}",
        samples.len(),
        base.display(),
        pct(0.5),
        pct(0.99),
        mean,
        samples[samples.len() - 1]
    );
}
