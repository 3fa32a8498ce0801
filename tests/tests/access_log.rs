//! `server.access_log`: one `info` line per successful call only when asked
//! for; failures are logged at `warn` either way. A plugin's own log lines
//! are bounded per call.

use std::io::Write;
use std::sync::{Arc, Mutex};

use resilience_tests::TestHost;
use serde_json::json;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn venue(name: &str) -> String {
    format!("[venues.{name}]\nplugin = \"echo\"\nendpoints = [\"http://127.0.0.1:9\"]\n")
}

/// The log of every test in this file (one subscriber per process); each
/// test reads the lines of its own venues.
fn logs() -> &'static Captured {
    static LOGS: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_env_filter("info")
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .init();
        logs
    })
}

#[tokio::test]
async fn successes_are_logged_at_info_only_with_access_log() {
    let logs = logs();
    let quiet = TestHost::start(&["echo"], "", &venue("quiet")).await;
    let loud = TestHost::start(
        &["echo"],
        "",
        &format!("[server]\naccess_log = true\n{}", venue("loud")),
    )
    .await;
    for h in [&quiet, &loud] {
        let venue = if std::ptr::eq(h, &quiet) {
            "quiet"
        } else {
            "loud"
        };
        let (status, body) = h
            .post(&format!("/v1/venues/{venue}/echo"), &json!({"x": 1}))
            .await;
        assert_eq!(status, 200, "{body}");
        // A failure: port 9 refuses the connection.
        let (status, _) = h
            .post(&format!("/v1/venues/{venue}/send"), &json!({"path": "/x"}))
            .await;
        assert_eq!(status, 502);
    }
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let lines = |venue: &str, what: &str| {
        text.lines()
            .filter(|l| l.contains(&format!("venue={venue}")) && l.contains(what))
            .count()
    };
    assert_eq!(lines("quiet", "call ok"), 0, "{text}");
    assert_eq!(lines("loud", "call ok"), 1, "{text}");
    assert_eq!(lines("quiet", "call failed"), 1, "{text}");
    assert_eq!(lines("loud", "call failed"), 1, "{text}");
}

/// A plugin logging in a loop writes at most `MAX_LOG_LINES` lines a call,
/// then one line saying the rest were dropped; the next call starts afresh.
#[tokio::test]
async fn a_plugin_logging_in_a_loop_writes_a_bounded_number_of_lines_per_call() {
    let logs = logs();
    let h = TestHost::start(&["echo"], "", &venue("chatty")).await;
    let steps: Vec<_> = (0..1_000)
        .map(|i| json!({"log": format!("chatty line {i}")}))
        .collect();
    for _ in 0..2 {
        let (status, body) = h
            .post("/v1/venues/chatty/sequence", &json!({"steps": steps}))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let count = |what: &str| {
        text.lines()
            .filter(|l| l.contains("venue=chatty") && l.contains(what))
            .count()
    };
    let max = resilience_host::capabilities::MAX_LOG_LINES as usize;
    assert_eq!(
        count("chatty line "),
        2 * max,
        "two calls, each cut at {max}"
    );
    assert_eq!(count("chatty line 99"), 2, "lines 0 to 99 of each call");
    assert_eq!(count("chatty line 100"), 0);
    assert_eq!(count("the rest of the call's are dropped"), 2);
}
