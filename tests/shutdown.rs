//! Shutdown of the real binary with WebSocket clients connected: SIGTERM closes every
//! session at once with a close frame (1012, service restart) instead of waiting for the
//! clients to leave, the journal is flushed, and the process exits cleanly, so a restart on
//! the same data directory can open it right away.

#[path = "common/live.rs"]
mod live;

use std::time::{Duration, Instant};

use actix_http::ws::{CloseCode, Frame};
use futures_util::StreamExt;
use live::*;

/// Idle clients per dialect.
const CLIENTS: usize = 50;

fn start(dir: &std::path::Path, port: u16) -> std::process::Child {
    let shipped = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/markets.toml"));
    spawn_perpx(shipped, dir, port)
}

#[actix_web::test]
async fn sigterm_closes_websocket_sessions_and_exits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = 18_900 + (std::process::id() % 90) as u16;
    let base = format!("http://127.0.0.1:{port}");
    let mut child = start(dir.path(), port);
    wait_healthy(&base, 60).await;
    // Idle subscribers of both dialects: native (subscribed to trades) and Binance.
    let mut sockets = Vec::new();
    for i in 0..2 * CLIENTS {
        let url = if i % 2 == 0 {
            format!("ws://127.0.0.1:{port}/ws")
        } else {
            format!("ws://127.0.0.1:{port}/ws/btcusdt@aggTrade")
        };
        let (_, mut framed) = awc::Client::new()
            .ws(url)
            .connect()
            .await
            .expect("websocket connects");
        if i % 2 == 0 {
            use futures_util::SinkExt;
            framed
                .send(awc::ws::Message::Text(
                    r#"{"op":"subscribe","channel":"trades","symbol":"BTC-PERP"}"#.into(),
                ))
                .await
                .unwrap();
        }
        sockets.push(framed);
    }
    // SIGTERM, as a service manager sends it.
    let pid = child.id() as libc::pid_t;
    // SAFETY: `kill` with a child's pid and a valid signal number has no memory effects.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let signalled = Instant::now();
    // Every client gets a close frame saying the service restarts.
    let mut restart = 0;
    for mut s in sockets {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match actix_web::rt::time::timeout(left, s.next()).await {
                Ok(Some(Ok(Frame::Close(r)))) => {
                    assert_eq!(
                        r.as_ref().map(|r| r.code),
                        Some(CloseCode::Restart),
                        "{r:?}"
                    );
                    restart += 1;
                    break;
                }
                Ok(Some(Ok(_))) => continue,
                other => panic!("no close frame, got {other:?}"),
            }
        }
    }
    let closed = signalled.elapsed();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "perpx did not exit after SIGTERM"
        );
        actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    };
    let exited = signalled.elapsed();
    assert!(status.success(), "exit status {status}");
    assert_eq!(restart, 2 * CLIENTS);
    // The data directory is free again: a restart opens it.
    let mut again = start(dir.path(), port);
    wait_healthy(&base, 60).await;
    again.kill().ok();
    again.wait().ok();
    println!(
        "SIGTERM with {} idle WebSocket clients: all closed with 1012 after {} ms, exited after {} ms",
        2 * CLIENTS,
        closed.as_millis(),
        exited.as_millis()
    );
}
