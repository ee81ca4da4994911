//! Per-window aggregates: requests, status classes, error rate, bytes and
//! latency percentiles for each window of `--window` length.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use jiff::Timestamp;
use serde::Serialize;

use super::latency::{self, Percentiles};
use super::request::Request;

/// Requests by status class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatusCounts {
    #[serde(rename = "1xx")]
    pub informational: u64,
    #[serde(rename = "2xx")]
    pub success: u64,
    #[serde(rename = "3xx")]
    pub redirect: u64,
    #[serde(rename = "4xx")]
    pub client_error: u64,
    #[serde(rename = "5xx")]
    pub server_error: u64,
    pub other: u64,
}

impl StatusCounts {
    pub fn add(&mut self, status: u16) {
        match status / 100 {
            1 => self.informational += 1,
            2 => self.success += 1,
            3 => self.redirect += 1,
            4 => self.client_error += 1,
            5 => self.server_error += 1,
            _ => self.other += 1,
        }
    }

    pub fn merge(&mut self, o: &StatusCounts) {
        self.informational += o.informational;
        self.success += o.success;
        self.redirect += o.redirect;
        self.client_error += o.client_error;
        self.server_error += o.server_error;
        self.other += o.other;
    }

    pub fn total(&self) -> u64 {
        self.informational
            + self.success
            + self.redirect
            + self.client_error
            + self.server_error
            + self.other
    }
}

/// The share of requests answered with a 5xx (server errors; a 4xx is the
/// client's).
pub fn error_rate(status: &StatusCounts) -> f64 {
    let total = status.total();
    if total == 0 {
        0.0
    } else {
        status.server_error as f64 / total as f64
    }
}

fn add_counts(w: &mut Window, requests: u64, status: &StatusCounts, bytes: u64) {
    w.requests += requests;
    w.status.merge(status);
    w.error_rate = error_rate(&w.status);
    w.bytes += bytes;
}

/// One window's figures, as reports show them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    pub start: Timestamp,
    pub requests: u64,
    pub status: StatusCounts,
    /// 5xx / requests, 0..1.
    pub error_rate: f64,
    pub bytes: u64,
    /// `None` when the format records no request time.
    pub latency: Option<Percentiles>,
}

/// A window still receiving requests: counts and a full histogram.
#[derive(Debug, Clone)]
pub struct Accumulator {
    pub requests: u64,
    pub status: StatusCounts,
    pub bytes: u64,
    pub latency: Histogram<u32>,
}

impl Default for Accumulator {
    fn default() -> Accumulator {
        Accumulator {
            requests: 0,
            status: StatusCounts::default(),
            bytes: 0,
            latency: latency::histogram(),
        }
    }
}

impl Accumulator {
    pub fn add(&mut self, r: &Request<'_>) {
        self.requests += 1;
        self.status.add(r.status);
        self.bytes += r.bytes;
        if let Some(d) = r.latency() {
            latency::record(&mut self.latency, d.as_micros() as u64);
        }
    }

    pub fn summary(&self, start: Timestamp) -> Window {
        Window {
            start,
            requests: self.requests,
            status: self.status,
            error_rate: error_rate(&self.status),
            bytes: self.bytes,
            latency: Percentiles::of(&self.latency),
        }
    }
}

/// Windows kept open with their histograms: lines arrive nearly in time
/// order (nginx logs a request when it ends), so only the few most
/// recently used windows need one; older ones are closed to their
/// percentiles. Memory is then flat whatever the log's length.
const OPEN: usize = 8;

/// Most windows filled in between the first and the last (empty windows
/// are traffic too: none).
const MAX_WINDOWS: usize = 200_000;

#[derive(Debug)]
pub struct Windows {
    align: crate::align::Align,
    /// The window last looked up, `[start, end)`: lines come in time order,
    /// so most need no time-zone arithmetic.
    last: (i64, i64),
    open: BTreeMap<i64, (u64, Accumulator)>,
    closed: BTreeMap<i64, Window>,
    /// Requests whose window had already been closed: counted, but their
    /// time missed the window's percentiles.
    pub late: u64,
    touches: u64,
    /// Closed accumulators, reused (a histogram is 13 KB).
    spare: Vec<Accumulator>,
    /// A part of an input read apart ([`Windows::part`]): the first
    /// [`OPEN`] windows it opens stay open, to be completed by the part
    /// before it (which ends in them too when lines are a little out of
    /// order: Apache logs a request when it started).
    held: Vec<i64>,
    is_part: bool,
}

impl Windows {
    /// Windows `width_seconds` long, aligned to multiples of it since the
    /// Unix epoch (a minute window starts at :00).
    pub fn new(width_seconds: i64) -> Windows {
        Windows::aligned(crate::align::Align::utc(width_seconds))
    }

    /// Windows aligned on a zone's wall clock (a `1d` window is a local
    /// day).
    pub fn aligned(align: crate::align::Align) -> Windows {
        Windows {
            align,
            last: (0, 0),
            open: BTreeMap::new(),
            closed: BTreeMap::new(),
            late: 0,
            touches: 0,
            spare: Vec::new(),
            held: Vec::new(),
            is_part: false,
        }
    }

    /// Windows for one part of an input read on its own thread, to be
    /// [`merged`](Windows::merge) into the parts before it in file order:
    /// its first window keeps its histogram (the part before ends inside
    /// it), so the merged percentiles are those of a read in one piece.
    pub fn part(align: crate::align::Align) -> Windows {
        Windows {
            is_part: true,
            ..Windows::aligned(align)
        }
    }

    /// Adds the next part of the same input. Exact for a log in time order;
    /// a window both closed on one side and met again on the other (lines
    /// far out of order) adds its counts, and its latencies count as late.
    pub fn merge(&mut self, part: Windows) {
        self.late += part.late;
        let mut open: Vec<(i64, (u64, Accumulator))> = part.open.into_iter().collect();
        // Oldest touched first: the part's newest windows stay open.
        open.sort_by_key(|(_, (touched, _))| *touched);
        for (key, w) in part.closed {
            if let Some((_, acc)) = self.open.get_mut(&key) {
                // Only counts are left of the part's side.
                self.late += w.latency.map_or(0, |l| l.count);
                acc.requests += w.requests;
                acc.status.merge(&w.status);
                acc.bytes += w.bytes;
            } else if let Some(mine) = self.closed.get_mut(&key) {
                self.late += w.latency.map_or(0, |l| l.count);
                add_counts(mine, w.requests, &w.status, w.bytes);
            } else {
                self.closed.insert(key, w);
            }
        }
        for (key, (_, acc)) in open {
            self.touches += 1;
            if let Some((touched, mine)) = self.open.get_mut(&key) {
                *touched = self.touches;
                mine.requests += acc.requests;
                mine.status.merge(&acc.status);
                mine.bytes += acc.bytes;
                let _ = mine.latency.add(&acc.latency);
            } else if let Some(mine) = self.closed.get_mut(&key) {
                self.late += acc.latency.len();
                add_counts(mine, acc.requests, &acc.status, acc.bytes);
            } else {
                if self.unheld_open() >= OPEN {
                    self.close_least_recent();
                }
                self.open.insert(key, (self.touches, acc));
            }
        }
    }

    pub fn width(&self) -> i64 {
        self.align.width()
    }

    fn start_of(&mut self, t: Timestamp) -> i64 {
        let secs = t.as_second();
        if !(self.last.0..self.last.1).contains(&secs) {
            let start = self.align.start(secs);
            self.last = (start, self.align.next(start));
        }
        self.last.0
    }

    pub fn add(&mut self, r: &Request<'_>) {
        let key = self.start_of(r.time);
        self.touches += 1;
        if let Some((touched, acc)) = self.open.get_mut(&key) {
            *touched = self.touches;
            acc.add(r);
            return;
        }
        if let Some(w) = self.closed.get_mut(&key) {
            w.requests += 1;
            w.status.add(r.status);
            w.error_rate = error_rate(&w.status);
            w.bytes += r.bytes;
            self.late += u64::from(r.latency().is_some());
            return;
        }
        if self.is_part && self.held.len() < OPEN {
            self.held.push(key);
        }
        if self.unheld_open() >= OPEN {
            self.close_least_recent();
        }
        let mut acc = self.spare.pop().unwrap_or_default();
        acc.add(r);
        self.open.insert(key, (self.touches, acc));
    }

    /// Open windows a part may close.
    fn unheld_open(&self) -> usize {
        self.open.keys().filter(|k| !self.held.contains(k)).count()
    }

    fn close_least_recent(&mut self) {
        let held = &self.held;
        let oldest = self
            .open
            .iter()
            .filter(|(k, _)| !held.contains(k))
            .min_by_key(|(_, (touched, _))| *touched)
            .map(|(k, _)| *k);
        if let Some(key) = oldest
            && let Some((_, mut acc)) = self.open.remove(&key)
        {
            let start = Timestamp::from_second(key).unwrap_or(Timestamp::UNIX_EPOCH);
            self.closed.insert(key, acc.summary(start));
            acc.requests = 0;
            acc.status = StatusCounts::default();
            acc.bytes = 0;
            acc.latency.reset();
            self.spare.push(acc);
        }
    }

    /// Every window from the first to the last, empty ones included (up to
    /// [`MAX_WINDOWS`]), in time order.
    pub fn finish(mut self) -> Vec<Window> {
        self.held.clear();
        while !self.open.is_empty() {
            self.close_least_recent();
        }
        let (Some(first), Some(last)) = (
            self.closed.keys().next().copied(),
            self.closed.keys().next_back().copied(),
        ) else {
            return Vec::new();
        };
        let span = ((last - first) / self.align.width()) as usize + 1;
        if span > MAX_WINDOWS {
            return self.closed.into_values().collect();
        }
        // Walked window by window (a local day may be 23 or 25 hours).
        let mut out = Vec::with_capacity(span);
        let mut closed = self.closed.into_iter().peekable();
        let mut key = first;
        while let Some((next, _)) = closed.peek() {
            if *next <= key {
                let reached = *next == key;
                out.push(closed.next().expect("peeked").1);
                if reached {
                    key = self.align.next(key);
                }
                continue;
            }
            out.push(Window {
                start: Timestamp::from_second(key).unwrap_or(Timestamp::UNIX_EPOCH),
                requests: 0,
                status: StatusCounts::default(),
                error_rate: 0.0,
                bytes: 0,
                latency: None,
            });
            key = self.align.next(key);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn request(second: i64, millis: u64) -> Request<'static> {
        Request {
            time: Timestamp::from_second(second).unwrap(),
            method: "GET",
            path: "/",
            status: if millis > 1000 { 503 } else { 200 },
            bytes: 10,
            request_time: Some(Duration::from_millis(millis)),
            upstream_time: None,
            client: "",
            host: "",
            referer: "",
            user_agent: "",
        }
    }

    #[test]
    fn windows_are_aligned_and_gaps_are_listed_empty() {
        let mut w = Windows::new(60);
        w.add(&request(3_601, 10));
        w.add(&request(3_659, 30));
        w.add(&request(3_600 + 180, 2_000));
        let out = w.finish();
        assert_eq!(out.len(), 4);
        assert_eq!(out[0].start.as_second(), 3_600);
        assert_eq!(
            (out[0].requests, out[1].requests, out[3].requests),
            (2, 0, 1)
        );
        assert_eq!(out[3].error_rate, 1.0);
        assert!(out[1].latency.is_none());
    }

    #[test]
    fn a_day_window_in_tokyo_is_a_local_day_with_empty_days_listed() {
        let tokyo = jiff::tz::TimeZone::get("Asia/Tokyo").unwrap();
        let mut w = Windows::aligned(crate::align::Align::new(86_400, &tokyo));
        // 2026-12-01 14:59 and 15:00 UTC: the last minute of Dec 1 and the
        // first of Dec 2 in Tokyo; then Dec 4 (Tokyo).
        let dec1 = 1_796_083_200;
        w.add(&request(dec1 + 14 * 3600 + 59 * 60, 10));
        w.add(&request(dec1 + 15 * 3600, 10));
        w.add(&request(dec1 + 3 * 86_400 + 3600, 10));
        let out = w.finish();
        let starts: Vec<i64> = out.iter().map(|x| x.start.as_second() - dec1).collect();
        let h15 = 15 * 3600;
        assert_eq!(starts, [h15 - 86_400, h15, h15 + 86_400, h15 + 2 * 86_400]);
        assert_eq!(
            out.iter().map(|x| x.requests).collect::<Vec<_>>(),
            [1, 1, 0, 1]
        );
    }

    #[test]
    fn files_given_newest_first_keep_their_percentiles() {
        // The newer file's windows, then the older file's: each window is
        // filled while open, so nothing is late.
        let mut w = Windows::new(60);
        for minute in 100..120 {
            w.add(&request(minute * 60, 5));
        }
        for minute in 50..70 {
            for _ in 0..3 {
                w.add(&request(minute * 60 + 1, 7));
            }
        }
        assert_eq!(w.late, 0);
        let out = w.finish();
        assert_eq!(out.iter().map(|x| x.requests).sum::<u64>(), 80);
    }

    #[test]
    fn a_request_for_a_closed_window_counts_but_is_late() {
        let mut w = Windows::new(60);
        for minute in 0..20 {
            w.add(&request(minute * 60, 5));
        }
        w.add(&request(30, 9_000));
        assert_eq!(w.late, 1);
        let out = w.finish();
        assert_eq!(out[0].requests, 2);
        assert_eq!(out[0].status.server_error, 1);
        // Its time missed the closed window's percentiles.
        assert!(out[0].latency.unwrap().max_ms < 10.0);
    }
}
