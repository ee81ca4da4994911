//! `tejun stats` over requests: windows, totals and top lists, in bounded
//! memory.

use jiff::Timestamp;
use serde::Serialize;

use super::latency::{Percentiles, SmallLatencies};
use super::request::Request;
use super::template::Templates;
use super::tops::{Counted, TopTable};
use super::window::{Accumulator, StatusCounts, Window, Windows, error_rate};

#[derive(Debug, Clone)]
pub struct StatsOptions {
    /// Window length in seconds.
    pub window_seconds: i64,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub templates: Templates,
    /// Rows in each top list.
    pub top: usize,
    /// Distinct endpoints and clients kept while counting.
    pub endpoint_cap: usize,
    pub client_cap: usize,
    /// `--baseline 7d`: endpoints whose p95 rose against previous days.
    pub baseline: Option<crate::trend::BaselineSpec>,
    /// Windows start on this zone's wall clock (`--tz`: a `1d` window is a
    /// local day).
    pub zone: jiff::tz::TimeZone,
}

impl Default for StatsOptions {
    fn default() -> StatsOptions {
        StatsOptions {
            window_seconds: 60,
            since: None,
            until: None,
            templates: Templates::default(),
            top: 10,
            endpoint_cap: 2_000,
            client_cap: 20_000,
            baseline: None,
            zone: jiff::tz::TimeZone::UTC,
        }
    }
}

#[derive(Debug, Default)]
struct EndpointCounts {
    requests: u64,
    server_errors: u64,
    bytes: u64,
    latency: SmallLatencies,
}

impl Counted for EndpointCounts {
    fn count(&self) -> u64 {
        self.requests
    }
    fn merge(&mut self, o: EndpointCounts) {
        self.requests += o.requests;
        self.server_errors += o.server_errors;
        self.bytes += o.bytes;
        self.latency.merge(o.latency);
    }
}

#[derive(Debug, Default)]
struct ClientCounts {
    requests: u64,
    status: StatusCounts,
    bytes: u64,
}

impl Counted for ClientCounts {
    fn count(&self) -> u64 {
        self.requests
    }
    fn merge(&mut self, o: ClientCounts) {
        self.requests += o.requests;
        self.status.merge(&o.status);
        self.bytes += o.bytes;
    }
}

/// Requests gathered so far.
#[derive(Debug)]
pub struct Stats {
    options: StatsOptions,
    windows: Windows,
    total: Accumulator,
    endpoints: TopTable<EndpointCounts>,
    clients: TopTable<ClientCounts>,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    out_of_range: u64,
    /// The endpoint key being built (reused: no allocation per line).
    key: String,
    trends: Option<crate::trend::Trends>,
}

impl Stats {
    pub fn new(options: StatsOptions) -> Stats {
        Stats {
            windows: Windows::aligned(crate::align::Align::new(
                options.window_seconds,
                &options.zone,
            )),
            total: Accumulator::default(),
            endpoints: TopTable::new(options.endpoint_cap),
            clients: TopTable::new(options.client_cap),
            first: None,
            last: None,
            out_of_range: 0,
            key: String::new(),
            trends: options.baseline.map(|spec| {
                crate::trend::Trends::new(options.window_seconds, spec).aligned_in(&options.zone)
            }),
            options,
        }
    }

    /// Statistics of one part of an input read on its own thread, to be
    /// [`merged`](Stats::merge) in file order. `--baseline` needs the
    /// requests in one piece: give it to [`Stats::new`] only.
    pub fn part(options: StatsOptions) -> Stats {
        let align = crate::align::Align::new(options.window_seconds, &options.zone);
        Stats {
            windows: Windows::part(align),
            ..Stats::new(StatsOptions {
                baseline: None,
                ..options
            })
        }
    }

    /// Whether this reads with baselines (and so in one piece).
    pub fn has_baseline(&self) -> bool {
        self.trends.is_some()
    }

    /// Adds the next part of the same input (file order). The report is
    /// the one a read in one piece gives for a log in time order with
    /// fewer distinct endpoints and clients than the tables keep (beyond,
    /// both stay within the reported count error).
    pub fn merge(&mut self, part: Stats) {
        self.windows.merge(part.windows);
        self.total.requests += part.total.requests;
        self.total.status.merge(&part.total.status);
        self.total.bytes += part.total.bytes;
        let _ = self.total.latency.add(&part.total.latency);
        self.endpoints.merge(part.endpoints);
        self.clients.merge(part.clients);
        self.first = earliest(self.first, part.first);
        self.last = latest(self.last, part.last);
        self.out_of_range += part.out_of_range;
    }

    /// Counts one request (unless outside `--since`/`--until`).
    pub fn add(&mut self, r: &Request<'_>) {
        if self.options.since.is_some_and(|s| r.time < s)
            || self.options.until.is_some_and(|u| r.time > u)
        {
            self.out_of_range += 1;
            return;
        }
        self.first = Some(self.first.map_or(r.time, |f| f.min(r.time)));
        self.last = Some(self.last.map_or(r.time, |l| l.max(r.time)));
        self.windows.add(r);
        self.total.add(r);
        self.key.clear();
        if !r.method.is_empty() {
            self.key.push_str(r.method);
            self.key.push(' ');
        }
        self.options.templates.push(r.path, &mut self.key);
        if let Some(trends) = &mut self.trends
            && let Some(d) = r.latency()
        {
            let ms = d.as_secs_f64() * 1000.0;
            trends.observe(r.time, &self.key, ms, r.status / 100 == 5);
        }
        let e = self.endpoints.entry(&self.key);
        e.requests += 1;
        e.server_errors += u64::from(r.status / 100 == 5);
        e.bytes += r.bytes;
        if let Some(d) = r.latency() {
            e.latency.record(d.as_micros() as u64);
        }
        let c = self.clients.entry(r.client);
        c.requests += 1;
        c.status.add(r.status);
        c.bytes += r.bytes;
    }

    pub fn finish(self) -> Summary {
        let top = self.options.top;
        let mut endpoints: Vec<EndpointRow> = self
            .endpoints
            .iter()
            .map(|(k, v)| EndpointRow {
                endpoint: k.to_string(),
                requests: v.requests,
                error_rate: if v.requests == 0 {
                    0.0
                } else {
                    v.server_errors as f64 / v.requests as f64
                },
                bytes: v.bytes,
                latency: v.latency.percentiles(),
            })
            .collect();
        let by_requests = |a: &EndpointRow, b: &EndpointRow| {
            b.requests
                .cmp(&a.requests)
                .then_with(|| a.endpoint.cmp(&b.endpoint))
        };
        endpoints.sort_by(by_requests);
        // Slow: by p95, among endpoints with enough requests for a p95 to
        // mean something (all of them when none has).
        let mut slow: Vec<EndpointRow> = endpoints
            .iter()
            .filter(|e| e.latency.is_some_and(|l| l.count >= SLOW_MIN_REQUESTS))
            .cloned()
            .collect();
        if slow.is_empty() {
            slow = endpoints
                .iter()
                .filter(|e| e.latency.is_some())
                .cloned()
                .collect();
        }
        slow.sort_by(|a, b| {
            let p = |e: &EndpointRow| e.latency.map_or(0.0, |l| l.p95_ms);
            p(b).total_cmp(&p(a)).then_with(|| by_requests(a, b))
        });
        slow.truncate(top);
        endpoints.truncate(top);
        let mut clients: Vec<ClientRow> = self
            .clients
            .iter()
            .map(|(k, v)| ClientRow {
                client: k.to_string(),
                requests: v.requests,
                status: v.status,
                bytes: v.bytes,
            })
            .collect();
        clients.sort_by(|a, b| {
            b.requests
                .cmp(&a.requests)
                .then_with(|| a.client.cmp(&b.client))
        });
        clients.truncate(top);
        let window_seconds = self.windows.width();
        let late = self.windows.late;
        Summary {
            window_seconds,
            first: self.first,
            last: self.last,
            out_of_range: self.out_of_range,
            total: Totals {
                requests: self.total.requests,
                status: self.total.status,
                error_rate: error_rate(&self.total.status),
                bytes: self.total.bytes,
                latency: Percentiles::of(&self.total.latency),
            },
            windows: self.windows.finish(),
            late,
            endpoints,
            slow_endpoints: slow,
            clients,
            endpoint_count_error: self.endpoints.error_bound(),
            client_count_error: self.clients.error_bound(),
            trends: self.trends.map(crate::trend::Trends::finish),
        }
    }
}

fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    a.into_iter().chain(b).min()
}

fn latest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    a.into_iter().chain(b).max()
}

/// An endpoint needs this many timed requests to rank as slow.
pub const SLOW_MIN_REQUESTS: u64 = 5;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Totals {
    pub requests: u64,
    pub status: StatusCounts,
    pub error_rate: f64,
    pub bytes: u64,
    pub latency: Option<Percentiles>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EndpointRow {
    /// `GET /users/:id`.
    pub endpoint: String,
    pub requests: u64,
    pub error_rate: f64,
    pub bytes: u64,
    pub latency: Option<Percentiles>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientRow {
    pub client: String,
    pub requests: u64,
    pub status: StatusCounts,
    pub bytes: u64,
}

/// What `tejun stats` reports over its input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub window_seconds: i64,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    /// Requests outside `--since`/`--until`.
    pub out_of_range: u64,
    pub total: Totals,
    pub windows: Vec<Window>,
    /// Requests that arrived after their window was closed (far out of
    /// time order): counted, but not in that window's percentiles.
    pub late: u64,
    pub endpoints: Vec<EndpointRow>,
    pub slow_endpoints: Vec<EndpointRow>,
    pub clients: Vec<ClientRow>,
    /// 0 when endpoint counts are exact; else how much any may be short by
    /// (more distinct endpoints than could be kept).
    pub endpoint_count_error: u64,
    pub client_count_error: u64,
    /// `--baseline`: regressions against previous days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trends: Option<crate::trend::TrendReport>,
}
