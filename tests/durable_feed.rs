//! Market data and private updates leave only once their command is durable
//! (docs/ARCHITECTURE.md §3, docs/OPERATIONS.md §7): with a real journal whose
//! acknowledgements a test [`Replicate`] holds back (as durability "replicated" does until the
//! stream has the entries), nothing of a command is observable on the feeds while it is
//! unacknowledged, everything is once acknowledged, and nothing ever is when its batch fails;
//! under concurrent load with `immediate` durability book sequences chain without a gap and
//! trade ids follow each other. Every wait has a bound; none is a sleep-and-hope.

mod api_common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api_common::ws::*;
use api_common::*;
use perpx::actors::publish::PrivateUpdate;
use perpx::domain::Side;
use perpx::persistence::{Ack, AckError, Journal, JournalConfig, Replicate, Store};
use tokio::sync::broadcast::{self, error::TryRecvError};

/// Holds the journal's acknowledgements while `hold` is set.
#[derive(Default)]
struct Holding {
    hold: AtomicBool,
    held: Mutex<Vec<(Ack, u64)>>,
    upto: AtomicU64,
}

impl Replicate for Holding {
    fn committed(&self, entries: Vec<(u64, Vec<u8>)>, acks: Vec<(Ack, u64)>) {
        if let Some(&(seq, _)) = entries.last() {
            self.upto.store(seq, Ordering::Release);
        }
        if self.hold.load(Ordering::Acquire) {
            self.held.lock().unwrap().extend(acks);
        } else {
            acks.into_iter().for_each(|(a, s)| a(Ok(s)));
        }
    }

    fn replicated_upto(&self) -> u64 {
        self.upto.load(Ordering::Acquire)
    }
}

impl Holding {
    fn held(&self) -> usize {
        self.held.lock().unwrap().len()
    }

    /// Stop holding; acknowledge what was held (`Ok`) or fail it.
    fn release(&self, ok: bool) {
        self.hold.store(false, Ordering::Release);
        let held = std::mem::take(&mut *self.held.lock().unwrap());
        for (ack, seq) in held {
            ack(if ok {
                Ok(seq)
            } else {
                Err(AckError::Journal("test: never committed".into()))
            });
        }
    }
}

/// A harness over a real journal in a temporary directory, acknowledgements passing `holding`.
fn journaled(dir: &tempfile::TempDir, holding: Option<Arc<Holding>>) -> Harness {
    let store = Store::open(dir.path()).unwrap();
    let replicate = holding.map(|h| h as Arc<dyn Replicate>);
    let journal = Journal::start_replicated(store, JournalConfig::default(), None, replicate);
    harness_journaled(&roomy(), 0, 0, 4096, 4096, Some(Arc::new(journal.unwrap())))
}

/// Poll `cond` until it holds, within [`WAIT`].
async fn until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        actix_web::rt::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Nothing arrives on `rx` within a bounded wait.
async fn silent<T: Clone>(rx: &mut broadcast::Receiver<T>, what: &str) {
    let r = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await;
    assert!(
        r.is_err(),
        "{what} was observable before its command was durable"
    );
}

async fn recv<T: Clone>(rx: &mut broadcast::Receiver<T>) -> T {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("an event within the bound")
        .expect("no lag, channel open")
}

#[actix_web::test]
async fn events_leave_only_once_their_command_is_durable() {
    let dir = tempfile::tempdir().unwrap();
    let holding = Arc::new(Holding::default());
    let h = journaled(&dir, Some(Arc::clone(&holding)));
    let (a, b) = (funded(&h).await, funded(&h).await);
    let ex = Arc::clone(&h.state.ex);
    let (mut book, mut trades) = (ex.feeds[0].book.subscribe(), ex.feeds[0].trades.subscribe());
    let (mut pa, mut pb) = (ex.private.subscribe(a), ex.private.subscribe(b));

    // A resting order and one taking it, both matched and committed but not acknowledged.
    holding.hold.store(true, Ordering::Release);
    let place = |acc, side, lots| {
        let ex = Arc::clone(&ex);
        actix_web::rt::spawn(
            async move { ex.place_order(acc, BTC, limit(side, 500_000, lots)).await },
        )
    };
    let maker = place(a, Side::Sell, 2);
    until("the maker's entry", || holding.held() == 1).await;
    let taker = place(b, Side::Buy, 2);
    until("the taker's entry", || holding.held() == 2).await;
    silent(&mut book, "a book update").await;
    assert!(
        matches!(trades.try_recv(), Err(TryRecvError::Empty)),
        "a trade"
    );
    assert!(
        matches!(pa.try_recv(), Err(TryRecvError::Empty)),
        "the maker's order"
    );
    assert!(
        matches!(pb.try_recv(), Err(TryRecvError::Empty)),
        "the taker's fill"
    );
    assert!(
        !maker.is_finished() && !taker.is_finished(),
        "no reply either"
    );

    // Acknowledged: the replies, and everything in command order.
    holding.release(true);
    let (maker, taker) = (maker.await.unwrap().unwrap(), taker.await.unwrap().unwrap());
    let rest = recv(&mut book).await;
    let take = recv(&mut book).await;
    assert_eq!(
        take.data.prev_sequence, rest.data.sequence,
        "in order, chained"
    );
    let t = recv(&mut trades).await;
    assert_eq!(t.data.trade_id, taker.fills[0].trade_id);
    assert!(
        matches!(&*recv(&mut pa).await, PrivateUpdate::Order(o) if o.order.order_id == maker.order.order.order_id)
    );
    let fills_b: Vec<_> = std::iter::from_fn(|| pb.try_recv().ok()).collect();
    assert!(
        fills_b
            .iter()
            .any(|u| matches!(&**u, PrivateUpdate::Fill(f) if f.trade_id == t.data.trade_id)),
        "the taker's fill"
    );

    // (The acknowledgements ran in `release`: everything of the two commands is out.)
    while pa.try_recv().is_ok() {}

    // A command whose batch never becomes durable: nothing of it is ever published.
    holding.hold.store(true, Ordering::Release);
    let lost = place(a, Side::Sell, 1);
    until("the lost entry", || holding.held() == 1).await;
    holding.release(false);
    assert!(
        lost.await.unwrap().is_err(),
        "its caller hears of the failure"
    );
    silent(&mut book, "the lost command's book update").await;
    assert!(
        matches!(pa.try_recv(), Err(TryRecvError::Empty)),
        "its order"
    );
    // The feed goes on; the gap shows in the chain.
    place(b, Side::Buy, 1).await.unwrap().unwrap();
    let next = recv(&mut book).await;
    assert!(
        next.data.prev_sequence > take.data.sequence,
        "the dropped update is a gap"
    );
}

/// Concurrent makers and takers with `immediate` durability: every book update chains to the
/// one before (no gap, no reordering), trade ids are consecutive, every trade arrives.
#[actix_web::test]
async fn sequences_stay_gap_free_under_concurrent_load() {
    const TASKS: usize = 6;
    const PAIRS: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let h = journaled(&dir, None);
    let ex = Arc::clone(&h.state.ex);
    let mut accounts = Vec::new();
    for _ in 0..TASKS * 2 {
        accounts.push(funded(&h).await);
    }
    let (mut book, mut trades) = (ex.feeds[0].book.subscribe(), ex.feeds[0].trades.subscribe());
    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let (ex, seller, buyer) = (Arc::clone(&ex), accounts[2 * i], accounts[2 * i + 1]);
            actix_web::rt::spawn(async move {
                for _ in 0..PAIRS {
                    let s = ex.place_order(seller, BTC, limit(Side::Sell, 500_000, 1));
                    let b = ex.place_order(buyer, BTC, limit(Side::Buy, 500_000, 1));
                    let (s, b) = futures_util::future::join(s, b).await;
                    s.unwrap();
                    b.unwrap();
                }
            })
        })
        .collect();
    let mut last_seq = None;
    let mut updates = 0;
    let mut last_trade = None;
    let mut received = 0;
    // Every lot sold is bought at the one price: each pair ends in exactly one trade.
    while received < TASKS * PAIRS {
        assert!(
            started.elapsed() < WAIT * 3,
            "only {received} trades arrived"
        );
        tokio::select! {
            u = book.recv() => {
                let u = u.expect("the book feed neither lags nor closes");
                if let Some(prev) = last_seq {
                    assert_eq!(u.data.prev_sequence, prev, "book updates chain in order");
                }
                last_seq = Some(u.data.sequence);
                updates += 1;
            }
            _ = tokio::time::sleep(WAIT) => panic!("no event for {WAIT:?}: {received} trades"),
            t = trades.recv() => {
                let t = t.expect("the trade feed neither lags nor closes");
                if let Some(prev) = last_trade {
                    assert_eq!(t.data.trade_id.0, prev + 1, "consecutive trade ids");
                }
                last_trade = Some(t.data.trade_id.0);
                received += 1;
            }
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    while let Ok(u) = book.try_recv() {
        assert_eq!(
            Some(u.data.prev_sequence),
            last_seq,
            "book updates chain in order"
        );
        last_seq = Some(u.data.sequence);
    }
    assert!(
        matches!(trades.try_recv(), Err(TryRecvError::Empty)),
        "no extra trade"
    );
    println!(
        "{received} trades and {updates} book updates in order in {:?}",
        started.elapsed()
    );
}
