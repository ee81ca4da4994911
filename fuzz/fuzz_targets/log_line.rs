#![no_main]
//! Date detection and rule matching never panic on any line, and a date
//! remembered by the shape of earlier lines (`tejun_detect::memo`) is the
//! date a fresh search finds.

use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;
use std::sync::OnceLock;
use tejun_detect::date::DateState;
use tejun_detect::memo::Memo;

static RULES: OnceLock<tejun_detect::RuleSet> = OnceLock::new();
static CTX: OnceLock<tejun_detect::DateContext> = OnceLock::new();
static DATES: OnceLock<tejun_detect::DateDetector> = OnceLock::new();

thread_local! {
    // Kept across inputs so later lines hit memos filled by earlier ones.
    static REMEMBERING: RefCell<DateState> = RefCell::new(DateState::default());
}

fuzz_target!(|data: &[u8]| {
    let rules = RULES.get_or_init(|| tejun_detect::RuleSet::builtin(&["sshd", "web-attacks", "web-auth", "mysql"]).unwrap());
    let ctx = CTX.get_or_init(tejun_detect::DateContext::local);
    let line = String::from_utf8_lossy(data);
    let _ = rules.match_line(&line, ctx);
    let dates = DATES.get_or_init(tejun_detect::DateDetector::defaults);
    let fresh = dates.find(&line, ctx, &mut DateState::new(Memo::disabled));
    let remembered = REMEMBERING.with(|state| dates.find(&line, ctx, &mut state.borrow_mut()));
    assert_eq!(fresh, remembered, "{line:?}");
    let _ = tejun_detect::decode::url_decode(&line);
});
