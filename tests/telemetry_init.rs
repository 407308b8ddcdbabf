//! Metric handles built lazily before anything installed the recorder (as a replication
//! gateway's first WebSocket session does): they install it themselves and never re-enter
//! their own initialization (which once deadlocked the gateway's worker thread). Alone in its
//! own test binary, so nothing else has touched the recorder first.

use std::sync::mpsc;
use std::time::Duration;

#[test]
fn the_first_metric_touched_may_be_a_lazy_handle() {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        perpx::telemetry::health::WS.sent("book");
        tx.send(perpx::telemetry::metrics::render()).unwrap();
    });
    // Bounded: a deadlock fails here instead of hanging the run.
    let text = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the lazy WebSocket handles initialize without deadlocking");
    let line = text
        .lines()
        .find(|l| l.starts_with("perpx_ws_messages_total{channel=\"book\"}"))
        .unwrap_or_else(|| panic!("book messages rendered:\n{text}"));
    assert!(line.ends_with(" 1"), "{line}");
    // Registration still happened (process-wide families at 0 from the first scrape).
    assert!(text.contains("perpx_overloaded_total 0"), "{text}");
}
