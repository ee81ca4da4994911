//! Minimal scanner for profiling the library without the CLI:
//! `cargo run --release -p tejun-detect --example scan -- FILE (--builtin SET | --filter PATH)`.

use std::path::PathBuf;

use tejun_detect::RuleSet;
use tejun_detect::scan::{ScanOptions, scan_files};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: scan FILE --builtin SET | --filter PATH");
        std::process::exit(2);
    }
    let rules = match args[2].as_str() {
        "--builtin" => RuleSet::builtin(&args[3].split(',').collect::<Vec<_>>()),
        _ => RuleSet::from_fail2ban(std::path::Path::new(&args[3]), None),
    }
    .unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let report = scan_files(&rules, &[PathBuf::from(&args[1])], &ScanOptions::default());
    let offenders: usize = report.rules.iter().map(|r| r.offenders.len()).sum();
    println!(
        "lines {} hits {} offenders {offenders}",
        report.total_lines(),
        report.files[0].hits
    );
}
