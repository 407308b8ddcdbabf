//! WebSocket subscribers on one market's `book` and `trades`: count messages, measure trade
//! delivery latency (receive time − the trade's `time`, same machine clock, ms resolution) and
//! count disconnects of clients that keep up.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use awc::ws::{Frame, Message};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;

use crate::client::{now_ms, Api};
use crate::report::{Progress, WsStats};

pub struct Shared {
    pub messages: u64,
    pub trades: u64,
    pub delivery_ms: Histogram<u64>,
    pub disconnects: u64,
}

/// Connect `n` subscribers; they run until `stop` is set. Returns the shared totals to read
/// after.
pub async fn start(
    api: &Api,
    n: usize,
    symbol: &str,
    stop: Arc<AtomicBool>,
    progress: Arc<Progress>,
) -> Result<Rc<RefCell<Shared>>, String> {
    let shared = Rc::new(RefCell::new(Shared {
        messages: 0,
        trades: 0,
        // expect: constant, valid bounds.
        delivery_ms: Histogram::new_with_bounds(1, 3_600_000, 3).expect("histogram bounds"),
        disconnects: 0,
    }));
    for _ in 0..n {
        let (_, mut conn) = api
            .http()
            .ws(api.ws_url())
            .max_frame_size(64 << 20)
            .connect()
            .await
            .map_err(|e| format!("websocket connect: {e}"))?;
        for ch in ["book", "trades"] {
            let sub =
                serde_json::json!({"op": "subscribe", "channel": ch, "symbol": symbol}).to_string();
            conn.send(Message::Text(sub.into()))
                .await
                .map_err(|e| format!("websocket subscribe: {e}"))?;
        }
        let (s, p, stop) = (Rc::clone(&shared), Arc::clone(&progress), Arc::clone(&stop));
        actix_web::rt::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match actix_web::rt::time::timeout(Duration::from_millis(200), conn.next()).await {
                    Err(_) => continue,
                    Ok(Some(Ok(Frame::Text(b)))) => {
                        let mut sh = s.borrow_mut();
                        sh.messages += 1;
                        p.ws_messages.fetch_add(1, Ordering::Relaxed);
                        // Cheap check before parsing: only trades carry a delivery time to measure.
                        if b.starts_with(br#"{"type":"trade""#) {
                            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&b) {
                                if let Some(t) = v["time"].as_u64() {
                                    sh.trades += 1;
                                    let _ =
                                        sh.delivery_ms.record(now_ms().saturating_sub(t).max(1));
                                }
                            }
                        }
                    }
                    Ok(Some(Ok(Frame::Ping(p)))) => {
                        let _ = conn.send(Message::Pong(p)).await;
                    }
                    Ok(Some(Ok(_))) => {}
                    Ok(Some(Err(_))) | Ok(None) => {
                        s.borrow_mut().disconnects += 1;
                        break;
                    }
                }
            }
        });
    }
    Ok(shared)
}

pub fn totals(n: usize, s: &Shared) -> WsStats {
    WsStats {
        subscribers: n,
        messages: s.messages,
        trades: s.trades,
        delivery_ms: s.delivery_ms.clone(),
        disconnects: s.disconnects,
    }
}
