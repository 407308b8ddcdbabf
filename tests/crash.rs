//! Crash safety of the real binary (docs/ARCHITECTURE.md §5): drive concurrent clients that place, amend
//! and cancel orders, SIGKILL the server at seeded random moments over several rounds, restart
//! it on the same data directory, and check after every restart that
//! - every acknowledged order is present exactly once (by client order id and by order id),
//!   and an acknowledged cancel stayed cancelled;
//! - no two orders share a client order id (nothing applied twice);
//! - money is conserved exactly (admin solvency) and positions net to zero (open interest);
//! - the REST book equals the resting remainder of every account's open orders.

#[path = "common/live.rs"]
mod live;

use std::cell::{Cell, RefCell};
use std::process::Child;
use std::rc::Rc;
use std::time::Duration;

use live::*;

const ROUNDS: usize = 3;
const CLIENTS: usize = 6;

/// The server process; killed when dropped, so a failing test leaves nothing running.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The shipped markets with the history this test relies on: every acknowledged order stays
/// findable by its client id (the default keeps 1,000 closed orders per account, and the
/// drivers close more than that per account before the final check).
fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/markets.toml"))
        .expect("shipped markets.toml");
    let text = shipped.replacen("[server]\n", "[server]\nkeep_closed_orders = 1000000\n", 1);
    assert_ne!(text, shipped, "markets.toml has a [server] section");
    let path = dir.join("crash-markets.toml");
    std::fs::write(&path, text).expect("write the test config");
    path
}

fn start(dir: &std::path::Path, port: u16) -> Server {
    let child = spawn_perpx(&config(dir), dir, port);
    Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

#[actix_web::test]
async fn acknowledged_state_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let port = 18_400 + (std::process::id() % 500) as u16;
    let mut server = start(dir.path(), port);
    wait_healthy(&server.base, 60).await;
    let accts = Rc::new(accounts(&server.base, 3).await);
    let acked = Rc::new(RefCell::new(Acked::default()));
    for round in 0..ROUNDS {
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|who| {
                actix_web::rt::spawn(drive(
                    server.base.clone(),
                    accts.clone(),
                    who,
                    round,
                    acked.clone(),
                    Rc::new(Cell::new(false)),
                    On503::CarryOn,
                ))
            })
            .collect();
        // A seeded "random" moment: 300..900 ms into the round.
        let after = 300 + (round as u64 * 277 + u64::from(port)) % 600;
        actix_web::rt::time::sleep(Duration::from_millis(after)).await;
        server.child.kill().expect("SIGKILL");
        let _ = server.child.wait();
        for t in tasks {
            let _ = t.await;
        }
        server = start(dir.path(), port);
        wait_healthy(&server.base, 60).await;
        let seen = acked.borrow().clone();
        check(&server.base, &accts, &seen).await;
        println!(
            "round {round}: killed after {after} ms; {} acknowledged orders, {} cancels verified",
            acked.borrow().placed.len(),
            acked.borrow().cancelled.len()
        );
    }
    assert!(acked.borrow().placed.len() > 50, "the clients barely ran");
    server.child.kill().ok();
}
