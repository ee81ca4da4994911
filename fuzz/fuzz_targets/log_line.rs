#![no_main]
//! Date detection and rule matching never panic on any line.

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static RULES: OnceLock<tejun_detect::RuleSet> = OnceLock::new();
static CTX: OnceLock<tejun_detect::DateContext> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let rules = RULES.get_or_init(|| tejun_detect::RuleSet::builtin(&["sshd", "web-attacks", "web-auth", "mysql"]).unwrap());
    let ctx = CTX.get_or_init(tejun_detect::DateContext::local);
    let line = String::from_utf8_lossy(data);
    let _ = rules.match_line(&line, ctx);
    let _ = tejun_detect::DateDetector::defaults().find(&line, ctx, &mut 0);
    let _ = tejun_detect::decode::url_decode(&line);
});
