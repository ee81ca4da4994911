#![no_main]
//! The fail2ban filter reader never panics: any bytes either compile to a
//! rule or give an error.

use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let path = Path::new("/nonexistent/fuzz.conf");
    if let Ok(config) = tejun_detect::fail2ban::config::Config::from_text(path, &text) {
        let _ = tejun_detect::fail2ban::filter::compile_filter(path, &config, &HashMap::new());
    }
});
