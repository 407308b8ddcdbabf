//! Access-control cost per signed request (run with `cargo bench --bench auth`): what the
//! HTTP worker does for every signed request, in process, each step alone and together, with
//! the per-request work of the previous design (one key per account, a per-thread cache of
//! verified keys, no permission, allow-list or replay check) as the baseline the issue's
//! "+2 µs" is measured against. Two threads (the server's two workers) run the same loop.
//!
//! Steps of a request (`api/authenticate.rs`):
//! 1. `KeyStore::verify`: parse the key name, look it up in the `AccessDirectory` (read lock +
//!    hash), clone the cached keyed HMAC, HMAC the signed message, compare;
//! 2. `permissions::lookup` of the route;
//! 3. `ReplayGuard::first_use` of the signature (shard lock + hash insert);
//! 4. `KeyAuth::used` (one relaxed load, a store at most once a second).
//!
//! The baseline is step 1 alone over the HMAC it always did (the message HMAC dominates both).

use std::sync::Arc;
use std::time::Instant;

use perpx::actors::access_directory::AccessDirectory;
use perpx::api::auth::{sign, KeyStore};
use perpx::api::permissions;
use perpx::api::replay::ReplayGuard;
use perpx::domain::{AccountId, Timestamp};
use perpx::engine::{Ledger, LedgerEvent};

const ACCOUNTS: u64 = 64;
const PER_THREAD: usize = 400_000;

fn main() {
    let mut ledger = Ledger::new(vec![], 8);
    for a in 0..ACCOUNTS {
        let e = LedgerEvent::AccountOpened {
            account: AccountId(100 + a),
        };
        ledger.apply(&e, Timestamp(1));
    }
    let dir = Arc::new(AccessDirectory::new(&ledger));
    let ks = KeyStore::new([9; 32]);
    let body = br#"{"side":"buy","type":"limit","quantity":"0.012","price":"50001.3"}"#;
    let path = "/api/v1/markets/BTC-PERP/orders";
    // Pre-signed requests, each unique (timestamps differ), as the HTTP benchmark sends them.
    let reqs: Vec<(String, String, String)> = (0..PER_THREAD * 2)
        .map(|i| {
            let (key, secret) = ks.credentials(AccountId(100 + (i as u64 % ACCOUNTS)));
            let ts = 1_700_000_000_000u64 + i as u64;
            let sig = sign(&secret, ts, "POST", path, body);
            (key, ts.to_string(), sig)
        })
        .collect();
    // CPU time per request: each thread's own elapsed time, summed, over the requests.
    let run = |label: &str, full: bool| {
        let guard = ReplayGuard::default(); // fresh: every signature is new to it
        let busy: Vec<f64> = std::thread::scope(|s| {
            let handles: Vec<_> = reqs
                .chunks(PER_THREAD)
                .map(|half| {
                    let (dir, ks, guard) = (Arc::clone(&dir), ks.clone(), &guard);
                    s.spawn(move || {
                        let t0 = Instant::now();
                        let mut ok = 0usize;
                        for (key, ts, sig) in half {
                            let parts: [&[u8]; 4] = [ts.as_bytes(), b"POST", path.as_bytes(), body];
                            let Ok(k) = ks.verify(&dir, key, &parts, sig) else {
                                continue;
                            };
                            if !full {
                                ok += 1;
                                continue;
                            }
                            let need =
                                permissions::lookup("POST", "/api/v1/markets/{symbol}/orders");
                            let mut raw = [0u8; 32];
                            let _ = hex::decode_to_slice(sig, &mut raw);
                            if need.is_some_and(|n| k.permissions.contains(n))
                                && guard.first_use(&raw, u64::MAX, 1)
                            {
                                k.used(1_700_000_000_000);
                                ok += 1;
                            }
                        }
                        assert_eq!(ok, half.len());
                        t0.elapsed().as_nanos() as f64
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .collect()
        });
        let per = busy.iter().sum::<f64>() / reqs.len() as f64;
        println!("{label:<58} {per:>7.0} ns CPU per request");
        per
    };
    run("warm-up (derives each key's HMAC once)", false);
    let (mut base, mut full) = (Vec::new(), Vec::new());
    for round in 0..5 {
        base.push(run(
            &format!("round {round}: key + signature (verify)"),
            false,
        ));
        full.push(run(
            &format!("round {round}: + permission + replay guard + last_used"),
            true,
        ));
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let (b, f) = (med(&mut base), med(&mut full));
    println!(
        "median of 5: verify {b:.0} ns, full {f:.0} ns, added {:.0} ns per request",
        f - b
    );
}
