//! `tejun watch` following a real MariaDB's slow log (Debian's
//! mariadb-server, temporary datadir, private socket, no TCP,
//! `long_query_time = 0`): a lookup by an unindexed column reads every row,
//! the fingerprint's `rows_examined` rule fires on the server's own entries
//! and posts its webhook; the server's other statements do not count.

mod mariadb;
mod watch_common;

use std::time::Duration;

use mariadb::{skip_reason, sql, start_shop};
use watch_common::{Setup, webhook_server};

#[test]
fn a_rows_examined_rule_fires_on_a_real_mariadb_slow_log_followed_by_watch() {
    if let Some(reason) = skip_reason() {
        eprintln!("{reason}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = start_shop(dir.path());
    sql(&server, "SELECT count(*) FROM orders;");
    let (url, bodies) = webhook_server(200);
    let slow_log = dir.path().join("slow.log");
    let setup = Setup::new(
        1,
        60,
        &format!("start_at: beginning\nwebhooks: [{{url: '{url}'}}]"),
        &format!(
            "  - name: shop-db\n    paths: ['{}']\n    slow_log: mysql\n    metrics:\n      - name: orders-scan\n        when: rows_examined p95 > 1000 over 5m\n        fingerprint: select * from orders where email = ?\n        actions: [webhook]\n",
            slow_log.display()
        ),
    );
    let mut watch = setup.watch();
    // The bulk insert and the count examined rows too, but are other
    // fingerprints: nothing fires on them.
    let quiet = watch.drain_for(Duration::from_secs(1), |e| e["event"] == "triggered");
    assert!(quiet.is_empty(), "{quiet:?}");
    sql(
        &server,
        "SELECT * FROM orders WHERE email = 'u97@example.com';
         SELECT * FROM orders WHERE email = 'u194@example.com';",
    );
    let fired = watch.wait_for("the rows_examined rule", |e| e["event"] == "triggered");
    assert_eq!(fired["rule"], "orders-scan");
    assert_eq!(fired["metric"]["metric"], "rows_examined p95", "{fired}");
    assert_eq!(
        fired["metric"]["value"], 5000.0,
        "a full scan of 5000 rows: {fired}"
    );
    let body = bodies
        .recv_timeout(Duration::from_secs(20))
        .expect("no webhook");
    assert!(
        body.contains("orders-scan") && body.contains("select * from orders where email = ?"),
        "{body}"
    );
    watch.stop();
    let triggered = setup.events("detect.triggered");
    assert_eq!(triggered.len(), 1, "{triggered:?}");
    let evidence = triggered[0]["lines"][0]["text"].as_str().unwrap();
    assert!(
        evidence.contains("Rows_examined: 5000") && evidence.contains("u97@example.com"),
        "{evidence}"
    );
}
