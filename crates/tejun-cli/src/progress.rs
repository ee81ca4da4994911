//! How a run looks: the CLI's [`Operator`].
//!
//! Three faces for one stream of events: a spinner with step n/m and elapsed
//! time when stderr is a terminal, plain lines when it is not (logs, CI),
//! and one JSON object per line with `--json` (for scripts; the same
//! payloads the journal stores). Prompts (confirm verdicts, typed
//! environment names, unknown steps) read from the terminal; the engine
//! only asks when the run is interactive.

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;
use tejun_engine::reason::localize;

use anstyle::{AnsiColor, Style};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use tejun_engine::events::{Outcome, StepStatus};
use tejun_engine::operator::{
    ConfirmRequest, DestructiveChallenge, EnvChallenge, HostView, UnknownStep,
};
use tejun_engine::{AbortSignal, Answer, Operator, RunEvent, UnknownChoice};
use tejun_locale::Lang;
use tejun_runbook::model::{Safety, Verdict};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Spinner,
    Plain,
    Json,
}

pub struct Progress {
    mode: Mode,
    lang: Lang,
    total: Cell<usize>,
    bar: RefCell<Option<ProgressBar>>,
    /// Signals a prompt gives up on (Ctrl-C at a prompt is an answer too).
    abort: RefCell<AbortSignal>,
    /// The phase that only notes a first Ctrl-C, if the run is in one.
    cleanup: Arc<AtomicU8>,
    /// Signals the operator was already told about.
    announced: Arc<AtomicUsize>,
    /// The running command's output lines shown, and held back past
    /// [`LIVE_LINES`].
    live_shown: Cell<usize>,
    live_hidden: Cell<usize>,
    /// Holds the step's spinner and, during a fleet step, a line per host.
    multi: MultiProgress,
    hosts: HostLines,
}

/// One line per host while a fleet step runs: on a terminal a spinner per
/// host under the step's (then its result, until the step ends); plain
/// lines as each host finishes otherwise; nothing with `--json` (the
/// step's `step.finished` has every host). Called from the hosts' threads.
struct HostLines {
    mode: Mode,
    lang: Lang,
    multi: MultiProgress,
    bars: std::sync::Mutex<Vec<ProgressBar>>,
}

impl HostLines {
    fn bars(&self) -> std::sync::MutexGuard<'_, Vec<ProgressBar>> {
        self.bars.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The step ended: its own lines say the rest.
    fn clear(&self) {
        for bar in self.bars().drain(..) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
    }

    fn result(&self, ok: bool, duration: Duration) -> String {
        let took = duration.as_millis();
        if ok {
            let green = AnsiColor::Green.on_default();
            format!(
                "{green}✓ {}{green:#} {took} ms",
                self.lang.pick("ok", "成功")
            )
        } else {
            let red = AnsiColor::Red.on_default().bold();
            format!(
                "{red}✗ {}{red:#} {took} ms",
                self.lang.pick("failed", "失敗")
            )
        }
    }
}

impl HostView for HostLines {
    fn host_started(&self, host: &str) {
        if self.mode != Mode::Spinner {
            return;
        }
        let bar = self.multi.add(ProgressBar::new_spinner());
        let style = ProgressStyle::with_template(
            "    {spinner:.cyan} {prefix:<16} {elapsed:>3.dim} {wide_msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.set_prefix(host.to_string());
        bar.set_message(self.lang.pick("running", "実行中").to_string());
        bar.enable_steady_tick(Duration::from_millis(100));
        self.bars().push(bar);
    }

    fn host_finished(&self, host: &str, ok: bool, duration: Duration) {
        let result = self.result(ok, duration);
        match self.mode {
            Mode::Spinner => {
                if let Some(bar) = self.bars().iter().find(|b| b.prefix() == host) {
                    let style = ProgressStyle::with_template("    · {prefix:<16} {wide_msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner());
                    bar.set_style(style);
                    bar.finish_with_message(result);
                }
            }
            Mode::Plain => {
                let _ = writeln!(anstream::stdout(), "    · {host:<16} {result}");
            }
            Mode::Json => {}
        }
    }
}

/// Lines of a step's output shown as they arrive; later ones only show on
/// the spinner line (a terminal) and are counted.
const LIVE_LINES: usize = 40;

const NOT_CLEANUP: u8 = 0;
const IN_ROLLBACK: u8 = 1;
const IN_EXIT: u8 = 2;

impl Progress {
    pub fn new(mode: Mode, lang: Lang) -> Progress {
        let multi = MultiProgress::new();
        Progress {
            mode,
            lang,
            total: Cell::new(0),
            bar: RefCell::new(None),
            abort: RefCell::new(AbortSignal::never()),
            cleanup: Arc::new(AtomicU8::new(NOT_CLEANUP)),
            live_shown: Cell::new(0),
            live_hidden: Cell::new(0),
            announced: Arc::new(AtomicUsize::new(0)),
            multi: multi.clone(),
            hosts: HostLines {
                mode,
                lang,
                multi,
                bars: std::sync::Mutex::new(Vec::new()),
            },
        }
    }

    /// Prompts stop waiting when `abort` counts a signal, and a Ctrl-C that
    /// rollback or the exit phase only notes is acknowledged at once (the
    /// engine hears of it only after the running step), so nobody presses
    /// it again thinking it was lost.
    pub fn watch(&self, abort: &AbortSignal) {
        *self.abort.borrow_mut() = abort.clone();
        let (abort, cleanup, announced, lang) = (
            abort.clone(),
            Arc::clone(&self.cleanup),
            Arc::clone(&self.announced),
            self.lang,
        );
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(100));
                let phase = cleanup.load(Ordering::SeqCst);
                if abort.count() == 1
                    && phase != NOT_CLEANUP
                    && announced.swap(1, Ordering::SeqCst) == 0
                {
                    let _ = writeln!(anstream::stderr(), "\r\n{}", noted_text(phase, lang));
                }
            }
        });
    }

    fn pick<'a>(&self, en: &'a str, ja: &'a str) -> &'a str {
        self.lang.pick(en, ja)
    }

    /// A line for people: above the spinner, or on stdout.
    ///
    /// Write errors are ignored on purpose: a closed pipe (`tejun run ... |
    /// head`) must not stop a run halfway; the journal still has it all.
    fn line(&self, text: &str) {
        let to_stderr = || {
            let _ = writeln!(anstream::stderr(), "{text}");
        };
        match self.mode {
            Mode::Json => to_stderr(),
            Mode::Spinner => self.multi.suspend(to_stderr),
            Mode::Plain => {
                let _ = writeln!(anstream::stdout(), "{text}");
            }
        }
    }

    /// One line of the running command's output, indented under its step.
    fn live_line(&self, text: &str) {
        if self.live_shown.get() < LIVE_LINES {
            self.live_shown.set(self.live_shown.get() + 1);
            let dim = Style::new().dimmed();
            self.line(&format!("    {dim}│{dim:#} {text}"));
        } else {
            self.live_hidden.set(self.live_hidden.get() + 1);
            if let Some(bar) = &*self.bar.borrow() {
                bar.set_message(format!("│ {}", anstream::adapter::strip_str(text)));
            }
        }
    }

    /// Shows how much output was held back at a step's end; true when
    /// every line was shown (then its tail need not be repeated).
    fn end_live_output(&self) -> bool {
        let hidden = self.live_hidden.get();
        if hidden > 0 {
            let dim = Style::new().dimmed();
            self.line(&format!(
                "    {dim}│ … {}{dim:#}",
                self.pick(
                    &format!(
                        "{hidden} more lines (the journal keeps the last lines and the hash of all)"
                    ),
                    &format!("他 {hidden} 行 (ジャーナルに末尾の行と全体のハッシュを記録)"),
                )
            ));
        }
        self.live_shown.get() > 0 && hidden == 0
    }

    fn stop_spinner(&self) {
        self.hosts.clear();
        if let Some(bar) = self.bar.borrow_mut().take() {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
    }

    /// Runs `f` with the spinner hidden (prompts must not be overdrawn).
    fn suspended<T>(&self, f: impl FnOnce() -> T) -> T {
        match self.mode {
            Mode::Spinner => self.multi.suspend(f),
            _ => f(),
        }
    }

    fn describe(&self, event: &RunEvent) {
        let bold = Style::new().bold();
        let dim = Style::new().dimmed();
        let red = AnsiColor::Red.on_default().bold();
        let green = AnsiColor::Green.on_default();
        let yellow = AnsiColor::Yellow.on_default().bold();
        match event {
            RunEvent::RunStarted(e) => {
                self.total.set(e.total_steps);
                self.line(&format!(
                    "{bold}▶ {} {}{bold:#}  {} · {} {} · {} {} · {} {}{}",
                    self.pick("run", "実行"),
                    e.run_id,
                    e.runbook,
                    self.pick("env", "環境"),
                    e.env,
                    e.total_steps,
                    if e.total_steps == 1 {
                        self.pick("step", "ステップ")
                    } else {
                        self.pick("steps", "ステップ")
                    },
                    self.pick("by", "実行者"),
                    e.operator,
                    e.incident
                        .as_deref()
                        .map(|i| format!(" · incident {i}"))
                        .unwrap_or_default(),
                ));
                if let Some(line) = e.kernel_guard.as_ref().and_then(|k| k.describe(self.lang)) {
                    self.line(&format!("{dim}{line}{dim:#}"));
                }
            }
            RunEvent::StepStarted(e) => {
                let phase = match e.phase.as_str() {
                    "rollback" => IN_ROLLBACK,
                    "exit" => IN_EXIT,
                    _ => NOT_CLEANUP,
                };
                self.cleanup.store(phase, Ordering::SeqCst);
                self.live_shown.set(0);
                self.live_hidden.set(0);
                let total = self.total.get();
                let position = if e.phase == "rollback" {
                    self.pick("rollback", "ロールバック").to_string()
                } else {
                    format!("{}/{}", e.ordinal, total)
                };
                // `retry 1/3`: the first retry of three allowed.
                let attempt = match (e.attempt, e.attempts) {
                    (1, _) => String::new(),
                    (n, max) if max > 1 => {
                        format!(" ({} {}/{})", self.pick("retry", "再試行"), n - 1, max - 1)
                    }
                    (n, _) => format!(" ({} {})", self.pick("attempt", "試行"), n),
                };
                let command = e.command.as_deref().map(one_line).unwrap_or_default();
                let label = safety_label(&e.safety, self.lang);
                // The header is a line of its own in every mode, so the
                // scrollback keeps which step ran and its command; the
                // spinner below it only shows that it is still running.
                self.line(&format!(
                    "[{position}] {} {bold}{}{bold:#}{attempt} {label}{dim}{command}{dim:#}",
                    e.phase, e.step_id
                ));
                if self.mode == Mode::Spinner {
                    let mut bar = self.bar.borrow_mut();
                    let bar = bar.get_or_insert_with(|| self.multi.add(new_spinner()));
                    bar.set_message(format!("{}{attempt}", e.step_id));
                    bar.reset_elapsed();
                }
            }
            RunEvent::StepFinished(e) => {
                self.hosts.clear();
                let took = format!("{} ms", e.duration_ms);
                let text = match e.status {
                    StepStatus::Ok => format!(
                        "  {green}✓ {}{green:#} {} {dim}{took}{dim:#}",
                        self.pick("ok", "成功"),
                        e.step_id
                    ),
                    StepStatus::Skipped => format!(
                        "  {yellow}↷ {}{yellow:#} {} {}",
                        self.pick("skipped", "スキップ"),
                        e.step_id,
                        localize(e.error.as_deref().unwrap_or(""), self.lang)
                    ),
                    StepStatus::Failed | StepStatus::TimedOut => format!(
                        "  {red}✗ {}{red:#} {} {dim}{took}{dim:#}: {}",
                        self.pick("failed", "失敗"),
                        e.step_id,
                        localize(e.error.as_deref().unwrap_or(""), self.lang)
                    ),
                };
                let streamed_all = self.end_live_output();
                self.line(&text);
                if matches!(e.status, StepStatus::Failed | StepStatus::TimedOut) && !streamed_all {
                    for (name, tail) in [("stdout", &e.stdout_tail), ("stderr", &e.stderr_tail)] {
                        let lines: Vec<&str> = tail.lines().collect();
                        for line in &lines[lines.len().saturating_sub(5)..] {
                            self.line(&format!("    {dim}{name}|{dim:#} {line}"));
                        }
                    }
                }
                for file in &e.files {
                    self.line(&format!(
                        "    {dim}{} sha256 {}{dim:#}",
                        file.path,
                        &file.sha256[..16.min(file.sha256.len())]
                    ));
                }
            }
            RunEvent::StepConfirmed(e) => self.line(&format!(
                "  {} {} ({}) {}{}",
                self.pick("answer:", "回答:"),
                verdict_text(&e.answer, self.lang),
                e.who,
                if e.auto {
                    self.pick("[auto]", "[自動]")
                } else {
                    ""
                },
                e.evidence
                    .as_deref()
                    .map(|ev| format!(" — {}", localize(ev, self.lang)))
                    .unwrap_or_default()
            )),
            RunEvent::RollbackStarted(e) => self.line(&format!(
                "{red}↺ {}{red:#} ({}{})",
                self.pick("ROLLBACK", "ロールバック開始"),
                localize(&e.reason, self.lang),
                e.failed_step
                    .as_deref()
                    .map(|s| format!(": {s}"))
                    .unwrap_or_default()
            )),
            RunEvent::RunResumed(e) => {
                self.total.set(e.total_steps);
                self.line(&format!(
                    "{bold}⟳ {} {}{bold:#} {}{}",
                    self.pick("resumed", "再開"),
                    e.run_id,
                    e.operator,
                    match (&e.unknown_step, &e.choice) {
                        (Some(step), Some(choice)) => format!(
                            " · {} {step}: {choice}",
                            self.pick("unknown step", "不明なステップ")
                        ),
                        _ => String::new(),
                    }
                ))
            }
            RunEvent::RunRefused(_) => {}
            RunEvent::RunPaused(e) => {
                self.stop_spinner();
                self.line(&format!(
                    "{yellow}⏸ {} {}{yellow:#} ({}). {} tejun resume {}",
                    self.pick("paused at", "一時停止:"),
                    e.step_id,
                    localize(&e.reason, self.lang),
                    self.pick("Continue with:", "再開するには:"),
                    e.run_id
                ));
            }
            RunEvent::RunEnded(_) => self.stop_spinner(),
            RunEvent::ExitStarted(_) => self.line(&format!(
                "{bold}⏏ {}{bold:#}",
                self.pick(
                    "exit phase: clean-up and final checks run whatever the outcome",
                    "終了フェーズ: 結果にかかわらず後始末と最終確認を実行します"
                )
            )),
            RunEvent::RunStopped(e) => {
                self.stop_spinner();
                self.line(&format!(
                    "{red}■ {} ({} {}). {}{red:#} {}",
                    self.pick("STOPPED", "停止"),
                    e.phase,
                    e.step_id.as_deref().unwrap_or(""),
                    if e.next.starts_with("tejun rollback") {
                        self.pick(
                            "The change may still be live; roll it back with:",
                            "変更が残っている可能性があります。ロールバックするには:",
                        )
                    } else {
                        self.pick(
                            "The exit phase did not finish; finish it with:",
                            "終了フェーズが完了していません。完了するには:",
                        )
                    },
                    e.next
                ));
            }
            RunEvent::ApprovalRequested(e) => self.line(&format!(
                "{yellow}⏸ {}{yellow:#}",
                self.pick(
                    &format!(
                        "approval requested: {} approval(s) needed from people other than {}",
                        e.count, e.executor
                    ),
                    &format!(
                        "承認を依頼しました: {} 以外の {} 人の承認が必要です",
                        e.executor, e.count
                    ),
                )
            )),
            // Each answer of a gate is journaled; the step's end says enough.
            // The logoff step's end names the sessions left.
            RunEvent::ProbeResult(_) | RunEvent::ProbeSamples(_) | RunEvent::LogoffChecked(_) => {}
            RunEvent::TriggerFired(e) => self.line(&format!(
                "{red}⚡ {} {}{}{red:#} ({})",
                self.pick("TRIGGER FIRED:", "トリガー発火:"),
                e.trigger,
                e.host
                    .as_deref()
                    .map(|h| format!(" @{h}"))
                    .unwrap_or_default(),
                fired_values(e, self.lang)
            )),
            RunEvent::FleetStarted(_) => {}
            RunEvent::BatchGate(e) => self.line(&batch_gate_line(e, self.lang)),
        }
    }

    /// Reads one line from the terminal after showing `prompt`. `None` at
    /// the end of input, or when a signal (Ctrl-C) arrives or a trigger
    /// fires while waiting: the engine decides what that means. A trigger
    /// stops the prompt only when it fires during it (the flag stays set
    /// afterwards, and rollback prompts must still be answerable).
    fn ask(&self, prompt: &str) -> Option<String> {
        let abort = self.abort.borrow().clone();
        let since = abort.count();
        let was_tripped = abort.is_tripped();
        self.suspended(|| {
            let mut tty = File::options()
                .read(true)
                .write(true)
                .open("/dev/tty")
                .ok()?;
            let _ = write!(tty, "{prompt}");
            let _ = tty.flush();
            let line = read_line_unless(&mut tty, || {
                abort.count() > since || (!was_tripped && abort.is_tripped())
            })?;
            Some(line.trim().to_string())
        })
    }
}

/// One line from `tty`, polled so that `stop` is checked every 100 ms (a
/// blocking read would swallow Ctrl-C: the signal handler restarts it).
fn read_line_unless(tty: &mut File, stop: impl Fn() -> bool) -> Option<String> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut line = Vec::new();
    loop {
        if stop() {
            let _ = writeln!(tty);
            return None;
        }
        let mut fds = [PollFd::new(tty.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(100u16)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => {}
            Err(_) => return None,
        }
        let mut chunk = [0u8; 512];
        match tty.read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => {
                line.extend_from_slice(&chunk[..n]);
                if let Some(end) = line.iter().position(|&b| b == b'\n') {
                    line.truncate(end);
                    return Some(String::from_utf8_lossy(&line).into_owned());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        }
    }
}

/// What the operator sees when rollback or the exit phase notes a Ctrl-C.
fn noted_text(phase: u8, lang: Lang) -> String {
    let yellow = AnsiColor::Yellow.on_default().bold();
    let text = if phase == IN_ROLLBACK {
        lang.pick(
            "Ctrl-C noted: the rollback goes on (stopping it halfway is the worst state). Press Ctrl-C again to stop waiting.",
            "Ctrl-C を受け付けました: ロールバックは続行します (途中で止めるのが最も危険です)。待機をやめるにはもう一度 Ctrl-C。",
        )
    } else {
        lang.pick(
            "Ctrl-C noted: the exit phase (clean-up) goes on. Press Ctrl-C again to stop waiting.",
            "Ctrl-C を受け付けました: 終了フェーズ (後始末) は続行します。待機をやめるにはもう一度 Ctrl-C。",
        )
    };
    format!("{yellow}! {text}{yellow:#}")
}

/// A command for a status line: the first line, marked when there are more.
fn one_line(command: &str) -> String {
    let mut lines = command.lines();
    let first = lines.next().unwrap_or("");
    let more = if lines.next().is_some() { " …" } else { "" };
    format!("  $ {first}{more}")
}

fn new_spinner() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    let style = ProgressStyle::with_template("{spinner:.cyan} {elapsed:>3.dim} {wide_msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// The step's safety label, coloured; `safety` is the journaled string.
pub fn safety_label(safety: &str, lang: Lang) -> String {
    let safety = Safety::parse(safety).unwrap_or(Safety::Destructive);
    let style = crate::style::safety(safety);
    format!("{style}{}{style:#}", safety.label(lang))
}

fn verdict_text(answer: &str, lang: Lang) -> String {
    match answer {
        "ok" => lang.pick("ok (正常)", "正常").to_string(),
        "abnormal" => lang.pick("abnormal (異常)", "異常").to_string(),
        "pending" => lang.pick("pending (保留)", "保留").to_string(),
        other => other.to_string(),
    }
}

/// The run's outcome, loud, in the operator's language.
pub fn outcome_line(outcome: Outcome, lang: Lang) -> String {
    let (en, ja, color) = match outcome {
        Outcome::Succeeded => ("SUCCEEDED", "成功", AnsiColor::Green),
        Outcome::RolledBack => ("ROLLED BACK", "ロールバック完了", AnsiColor::Yellow),
        Outcome::RollbackFailed => (
            "ROLLBACK FAILED — manual recovery needed",
            "ロールバック失敗 — 手動での復旧が必要です",
            AnsiColor::Red,
        ),
        Outcome::Failed => ("FAILED", "失敗", AnsiColor::Red),
        Outcome::Aborted => ("ABORTED", "中断", AnsiColor::Red),
    };
    let style = Style::new().bold().fg_color(Some(color.into()));
    format!("{style}■ {}{style:#}", lang.pick(en, ja))
}

impl Operator for Progress {
    fn host_view(&self) -> Option<&dyn HostView> {
        Some(&self.hosts)
    }

    fn on_output(&self, line: &str) {
        if self.mode != Mode::Json {
            self.live_line(line);
        }
    }

    fn on_event(&self, event: &RunEvent) {
        if self.mode == Mode::Json {
            let mut object = serde_json::Map::new();
            // When it became durable (the journal's own time is a moment
            // earlier), UTC, as in `tejun show --json`.
            object.insert("ts".to_string(), jiff::Timestamp::now().to_string().into());
            object.insert("kind".to_string(), event.kind().into());
            object.insert("payload".to_string(), event.payload());
            let _ = writeln!(
                std::io::stdout().lock(),
                "{}",
                serde_json::Value::Object(object)
            );
            return;
        }
        self.describe(event);
    }

    fn notice(&self, text: &str) {
        self.line(text);
    }

    fn on_leftover_stopped(&self, step_id: &str, group: u32) {
        let yellow = AnsiColor::Yellow.on_default().bold();
        self.line(&format!(
            "{yellow}! {} `{step_id}` {} {group}{yellow:#}",
            self.pick("the command of unknown step", "状態不明のステップ"),
            self.pick(
                "was still running after the crash; stopped its process group",
                "のコマンドがクラッシュ後も実行中でした。プロセスグループを停止しました:"
            ),
        ));
    }

    fn on_abort(&self) {
        let count = self.abort.borrow().count();
        self.announced.fetch_max(count, Ordering::SeqCst);
        let red = AnsiColor::Red.on_default().bold();
        self.line(&format!(
            "{red}■ {}{red:#}",
            self.pick(
                "Interrupted: the running command was stopped; rolling back where needed, then the exit phase. A second Ctrl-C stops waiting (and prints the command that rolls back).",
                "中断しました: 実行中のコマンドを停止し、必要ならロールバックしてから終了フェーズを実行します。もう一度 Ctrl-C で待機をやめます (ロールバックするコマンドを表示します)。"
            )
        ));
    }

    fn on_abort_noted(&self, phase: &str) {
        let count = self.abort.borrow().count();
        if self.announced.swap(count, Ordering::SeqCst) >= count {
            return;
        }
        let phase = if phase == "rollback" {
            IN_ROLLBACK
        } else {
            IN_EXIT
        };
        self.line(&noted_text(phase, self.lang));
    }

    fn confirm(&self, request: &ConfirmRequest<'_>) -> Option<Answer> {
        let bold = Style::new().bold();
        self.line(&format!(
            "{bold}? {}{bold:#} {}\n  {}",
            request.name.unwrap_or(request.step_id),
            self.pick("— please check", "— 確認してください"),
            request.prompt
        ));
        let verdict = loop {
            let answer = self.ask(self.pick(
                "  verdict: [o]k 正常 / [a]bnormal 異常 / [p]ending 保留 > ",
                "  判定: [o] 正常 / [a] 異常 / [p] 保留 > ",
            ))?;
            match answer.to_lowercase().as_str() {
                "o" | "ok" | "正常" => break Verdict::Ok,
                "a" | "abnormal" | "異常" => break Verdict::Abnormal,
                "p" | "pending" | "保留" => break Verdict::Pending,
                _ => continue,
            }
        };
        let evidence = loop {
            let prompt = if request.evidence_required {
                self.pick("  evidence (required) > ", "  証跡 (必須) > ")
            } else {
                self.pick(
                    "  evidence (optional, Enter to skip) > ",
                    "  証跡 (任意、Enter で省略) > ",
                )
            };
            let text = self.ask(prompt)?;
            if text.is_empty() && request.evidence_required {
                continue;
            }
            break (!text.is_empty()).then_some(text);
        };
        Some(Answer { verdict, evidence })
    }

    fn type_env_name(&self, challenge: &EnvChallenge<'_>) -> Option<String> {
        let style = Style::new()
            .bold()
            .bg_color(Some(crate::style::env_color(challenge.color).into()))
            .fg_color(Some(AnsiColor::Black.into()));
        let banner = format!(
            "{style}  ██ {} ██ {}  {style:#}{}",
            challenge.env.to_uppercase(),
            self.pick("PROTECTED ENVIRONMENT", "保護された環境"),
            challenge
                .description
                .map(|d| format!("  {d}"))
                .unwrap_or_default()
        );
        self.line(&banner);
        self.ask(&format!(
            "{} `{}` > ",
            self.pick(
                "type the environment name to continue:",
                "続行するには環境名を入力してください:"
            ),
            challenge.env
        ))
    }

    fn type_step_id(&self, challenge: &DestructiveChallenge<'_>) -> Option<String> {
        let red = AnsiColor::Red.on_default().bold();
        self.line(&format!(
            "{red}{} {}{red:#} {}{}",
            self.pick("[Destructive] step", "[破壊的] ステップ"),
            challenge.step_id,
            challenge.name.unwrap_or(""),
            challenge
                .command
                .map(|c| format!("\n  $ {c}"))
                .unwrap_or_default()
        ));
        self.ask(&format!(
            "{} `{}` > ",
            self.pick(
                "type the step id to allow it:",
                "許可するにはステップ ID を入力してください:"
            ),
            challenge.step_id
        ))
    }

    fn choose_unknown(&self, step: &UnknownStep<'_>) -> Option<UnknownChoice> {
        let yellow = AnsiColor::Yellow.on_default().bold();
        self.line(&format!(
            "{yellow}? {} {}{yellow:#} ({}, {}) {}{}",
            self.pick("unknown step", "状態不明のステップ"),
            step.step_id,
            step.phase,
            step.kind,
            self.pick(
                "started before the crash but has no recorded end",
                "はクラッシュ前に開始されましたが終了が記録されていません"
            ),
            step.command
                .map(|c| format!("\n  $ {c}"))
                .unwrap_or_default()
        ));
        loop {
            let answer = self.ask(self.pick(
                "  retry / skip / rollback > ",
                "  retry (再実行) / skip (スキップ) / rollback (ロールバック) > ",
            ))?;
            if let Some(choice) = UnknownChoice::parse(answer.as_str()) {
                return Some(choice);
            }
        }
    }
}

/// The values that made a trigger fire: `error_rate 0.4 over 5 samples, 2
/// failed`.
pub fn fired_values(e: &tejun_engine::events::TriggerFired, lang: Lang) -> String {
    format!(
        "{} {} · {} {} · {} {}",
        lang.pick("value", "値"),
        (e.value * 1000.0).round() / 1000.0,
        lang.pick("samples", "サンプル"),
        e.samples,
        lang.pick("failed", "失敗"),
        e.failures
    )
}

/// One line for a batch's health gate: held, or what failed it.
fn batch_gate_line(e: &tejun_engine::events::BatchGate, lang: Lang) -> String {
    let secs = e.watched_ms as f64 / 1000.0;
    if e.ok {
        let style = AnsiColor::Green.on_default();
        return format!(
            "{style}✓ {}{style:#}",
            lang.pick(
                &format!("batch {} healthy for {secs:.1}s (gate held)", e.batch),
                &format!("バッチ {} は {secs:.1} 秒間正常 (ゲート通過)", e.batch),
            )
        );
    }
    let style = AnsiColor::Red.on_default().bold();
    let why = match (&e.failed_probe, &e.failed_sample, e.stopped_by.as_deref()) {
        (Some(probe), Some(sample), _) => {
            let error = sample.error.clone().unwrap_or_default();
            lang.pick(
                &format!("probe `{probe}` unhealthy after {secs:.1}s: {error}"),
                &format!("プローブ `{probe}` が {secs:.1} 秒後に異常: {error}"),
            )
            .to_string()
        }
        (_, _, Some("trigger")) => lang.pick("a trigger fired", "トリガーが発火").to_string(),
        _ => lang.pick("aborted", "中断").to_string(),
    };
    format!(
        "{style}✗ {}{style:#}",
        lang.pick(
            &format!("batch {} failed its health gate: {why}", e.batch),
            &format!("バッチ {} がヘルスゲートを通過できません: {why}", e.batch),
        )
    )
}
