//! A fail2ban filter whose failregex carries an inline `; comment`
//! (observation 13): fail2ban's parser cuts the comment, so `tejun watch`
//! must too, or the regex never matches and nothing is banned (exit 0,
//! silently).

mod watch_common;

use watch_common::*;

#[test]
fn watch_bans_with_a_filter_whose_failregex_has_an_inline_comment() {
    let filter = "[Definition]\n\
                  failregex = Failed login from <HOST>$ ; pragma: codespell-ignore\n\
                  ignoreregex =\n\
                  datepattern = {^LN-BEG}%%Y-%%m-%%dT%%H:%%M:%%S\n";
    let sources =
        "  - name: app\n    paths: [app.log]\n    fail2ban: {filter: app.conf, jail: jail.local}\n";
    let setup = Setup::new(3, 600, "", sources);
    std::fs::write(setup.path("app.conf"), filter).unwrap();
    // The jail's section is named after the filter.
    std::fs::write(
        setup.path("jail.local"),
        "[app]\nenabled = true\nfindtime = 600\nmaxretry = 3\nbantime = 600\n",
    )
    .unwrap();
    std::fs::write(setup.path("app.log"), "").unwrap();
    let mut watch = setup.watch();
    let now = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string();
    append(
        &setup.path("app.log"),
        &format!("{now} Failed login from 203.0.113.8\n").repeat(3),
    );
    watch.wait_for("banned", is("banned", "203.0.113.8"));
    watch.stop();
}
