//! Versioned ledger snapshots. Stored: wallets, positions (in slot order, which funding and
//! screening passes iterate), leverage, holds, the deposit and withdrawal sums, each market's
//! mark. Not stored, rebuilt: the account index, cached margin figures, side aggregates and
//! screening cushions (0: "evaluate exactly" until the next mark update refreshes them).
//!
//! # Invariants
//! - `restore(specs, snapshot())` has the same [`Ledger::state_hash`] and passes
//!   [`Ledger::check_invariants`].
//! - The first byte is the format tag; unknown tags are refused. A snapshot whose markets
//!   (symbol, tick, lot, in id order) differ from the given specs is refused.

use rust_decimal::Decimal;
use rustc_hash::FxHashMap;

use super::snapshot_layout::{
    decs, undecs, AccountSnap, Dec, EntrySnap, EntrySnap2, LedgerSnap, LedgerSnap4, LedgerSnap5,
    MarketSnap,
};
use super::{Account, AccountMarket, Ledger, MarketPositions, MarketState, OpenOrder};
use crate::domain::{AccountId, ApplyError, MarketSpec};
use crate::domain::{PositionMode, PositionSide};
use crate::engine::access::snapshot::AccessSnap;

/// Format tag of ledger snapshots.
/// 2: income histories; fills record their fee residue.
/// 3: margin mode, isolated wallet and isolated liquidation per entry.
/// 4: entries per leg (a leg is stored as its market id when `both`), and the accounts in
///    hedge mode after the rest.
/// 5: the access records (API keys, admin tokens, audit log) after the rest; 2–4 are still
///    read, with every account's primary key as its only key.
pub const LEDGER_SNAPSHOT_FORMAT: u8 = 5;

impl Ledger {
    /// Tagged postcard bytes of the ledger's state.
    pub fn encode_snapshot(&self) -> Vec<u8> {
        let snap = LedgerSnap {
            scale: self.scale,
            deposits: Dec(self.deposits),
            withdrawals: Dec(self.withdrawals),
            markets: self
                .markets
                .iter()
                .map(|m| MarketSnap {
                    symbol: m.spec.symbol.clone(),
                    tick_size: Dec(m.spec.tick_size),
                    lot_size: Dec(m.spec.lot_size),
                    mark: Dec(m.mark),
                    mark_seq: m.mark_seq,
                    account: m.positions.account.clone(),
                    qty: m.positions.qty.clone(),
                    cost: decs(&m.positions.cost),
                    realized_pnl: decs(&m.positions.realized_pnl),
                    funding_paid: decs(&m.positions.funding_paid),
                })
                .collect(),
            accounts: self
                .accounts
                .iter()
                .map(|a| AccountSnap {
                    id: a.id,
                    wallet: Dec(a.wallet),
                    in_liquidation: a.in_liquidation,
                    markets: a
                        .markets
                        .iter()
                        .map(|e| EntrySnap {
                            leg: e.leg(),
                            leverage: e.leverage,
                            slot: e.slot,
                            orders: {
                                let mut v: Vec<OpenOrder> = e.orders.values().copied().collect();
                                v.sort_unstable_by_key(|o| o.order_id);
                                v
                            },
                            mode: e.mode,
                            iso_wallet: Dec(e.iso_wallet),
                            iso_liquidation: e.iso_liquidation,
                        })
                        .collect(),
                    income: a.income.iter().copied().collect(),
                })
                .collect(),
            next_income: self.next_income,
        };
        let hedge = self
            .accounts
            .iter()
            .filter(|a| a.position_mode.is_hedge())
            .map(|a| a.id)
            .collect();
        let snap = LedgerSnap5 {
            v4: LedgerSnap4 { base: snap, hedge },
            access: self.access.to_snapshot(),
        };
        let mut out = vec![LEDGER_SNAPSHOT_FORMAT];
        // expect: plain data, which postcard always serializes.
        out.extend(postcard::to_stdvec(&snap).expect("ledger snapshot serializes"));
        out
    }

    /// Rebuild a ledger over `specs` from [`Ledger::encode_snapshot`] bytes.
    pub fn decode_snapshot(bytes: &[u8], specs: &[MarketSpec]) -> Result<Ledger, ApplyError> {
        let (LedgerSnap4 { base: snap, hedge }, access) = read_layout(bytes)?;
        same_markets(&snap, specs)?;
        let access = match access {
            Some(a) => crate::engine::access::Access::from_snapshot(a),
            None => crate::engine::access::Access::with_primaries(
                snap.accounts
                    .iter()
                    .map(|a| a.id)
                    .filter(|id| !id.is_reserved()),
            ),
        };
        let mut markets = snap
            .markets
            .into_iter()
            .zip(specs)
            .map(|(m, spec)| MarketState {
                spec: spec.clone(),
                mark: m.mark.0,
                mark_seq: m.mark_seq,
                positions: MarketPositions {
                    account: m.account,
                    qty: m.qty,
                    cost: undecs(m.cost),
                    realized_pnl: undecs(m.realized_pnl),
                    isolated: vec![false; m.funding_paid.len()],
                    side: vec![PositionSide::Both; m.funding_paid.len()],
                    funding_paid: undecs(m.funding_paid),
                },
            })
            .collect::<Vec<_>>();
        let (mut accounts, index) = decode_accounts(snap.accounts, markets.len())?;
        for id in hedge {
            let &a = index.get(&id).ok_or_else(|| {
                ApplyError(format!("ledger snapshot: hedge account {id} unknown"))
            })?;
            accounts[a as usize].position_mode = PositionMode::Hedge;
        }
        let n = accounts.len();
        for m in &markets {
            if m.positions.account.iter().any(|&a| a as usize >= n) {
                return Err(ApplyError(
                    "ledger snapshot: a position of no account".into(),
                ));
            }
        }
        // The slots' isolated flags and legs follow from their holders' entries.
        for acc in &accounts {
            for e in acc.markets.iter().filter(|e| e.slot != super::NO_SLOT) {
                let ps = &mut markets[e.market.index()].positions;
                match ps.isolated.get_mut(e.slot as usize) {
                    Some(f) => {
                        *f = e.mode.is_isolated();
                        ps.side[e.slot as usize] = e.side;
                    }
                    None => {
                        return Err(ApplyError(
                            "ledger snapshot: an entry's slot is past its market's positions"
                                .into(),
                        ))
                    }
                }
            }
        }
        Ok(Ledger {
            markets,
            accounts,
            index,
            cushion: vec![0; n],
            scale: snap.scale,
            deposits: snap.deposits.0,
            withdrawals: snap.withdrawals.0,
            next_income: snap.next_income,
            keep_income: crate::engine::Retention::default().income,
            access,
        })
    }
}

/// The stored layout of any format this build reads, as format 4's, and the access records
/// (`None` before format 5).
fn read_layout(bytes: &[u8]) -> Result<(LedgerSnap4, Option<AccessSnap>), ApplyError> {
    let corrupt = |e: postcard::Error| ApplyError(format!("ledger snapshot: corrupt: {e}"));
    Ok(match bytes.split_first() {
        Some((&LEDGER_SNAPSHOT_FORMAT, rest)) => {
            let s: LedgerSnap5 = postcard::from_bytes(rest).map_err(corrupt)?;
            (s.v4, Some(s.access))
        }
        Some((4, rest)) => (postcard::from_bytes(rest).map_err(corrupt)?, None),
        Some((3, rest)) => (
            LedgerSnap4 {
                base: postcard::from_bytes(rest).map_err(corrupt)?,
                hedge: Vec::new(),
            },
            None,
        ),
        Some((2, rest)) => (
            LedgerSnap4 {
                base: postcard::from_bytes::<LedgerSnap<EntrySnap2>>(rest)
                    .map_err(corrupt)?
                    .upgrade(),
                hedge: Vec::new(),
            },
            None,
        ),
        Some((v, _)) => {
            return Err(ApplyError(format!(
                "ledger snapshot: format {v} is not known to this build (knows {LEDGER_SNAPSHOT_FORMAT})"
            )))
        }
        None => return Err(ApplyError("ledger snapshot: empty".into())),
    })
}

/// The snapshot's markets are the config's (symbols, ticks and lots, in order).
fn same_markets<E>(snap: &LedgerSnap<E>, specs: &[MarketSpec]) -> Result<(), ApplyError> {
    let names = |v: Vec<(&str, Decimal, Decimal)>| {
        v.iter()
            .map(|(s, t, l)| format!("{s} (tick {t}, lot {l})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let stored: Vec<_> = snap
        .markets
        .iter()
        .map(|m| (m.symbol.as_str(), m.tick_size.0, m.lot_size.0))
        .collect();
    let config: Vec<_> = specs
        .iter()
        .map(|s| (s.symbol.as_str(), s.tick_size, s.lot_size))
        .collect();
    if stored != config {
        return Err(ApplyError(format!(
            "ledger snapshot has markets [{}] but the config has [{}]",
            names(stored),
            names(config)
        )));
    }
    Ok(())
}

/// The accounts of a snapshot over `markets` markets, and their index; an account stored
/// twice or in an unknown market is refused.
fn decode_accounts(
    snap: Vec<AccountSnap<EntrySnap>>,
    markets: usize,
) -> Result<(Vec<Account>, FxHashMap<AccountId, u32>), ApplyError> {
    let mut index = FxHashMap::default();
    let mut accounts = Vec::with_capacity(snap.len());
    for (i, a) in snap.into_iter().enumerate() {
        if index.insert(a.id, i as u32).is_some() {
            return Err(ApplyError(format!(
                "ledger snapshot: account {:?} twice",
                a.id
            )));
        }
        let mut entries = Vec::with_capacity(a.markets.len());
        for e in a.markets {
            if e.leg.market.index() >= markets {
                return Err(ApplyError(format!(
                    "ledger snapshot: account {:?} in unknown market {}",
                    a.id, e.leg.market.0
                )));
            }
            entries.push(AccountMarket {
                market: e.leg.market,
                side: e.leg.side,
                leverage: e.leverage,
                slot: e.slot,
                orders: e.orders.into_iter().map(|o| (o.order_id, o)).collect(),
                cache: None,
                sides: None,
                shadows: Vec::new(),
                mode: e.mode,
                iso_wallet: e.iso_wallet.0,
                iso_liquidation: e.iso_liquidation,
            });
        }
        accounts.push(Account {
            id: a.id,
            wallet: a.wallet.0,
            in_liquidation: a.in_liquidation,
            position_mode: PositionMode::OneWay,
            markets: entries,
            income: a.income.into(),
        });
    }
    Ok((accounts, index))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{MarketId, Price, Qty, Side, Timestamp};

    fn spec() -> MarketSpec {
        crate::domain::market::tests::btc()
    }

    /// A format-2 snapshot (written before isolated margin) loads as the same cross state.
    /// Keys, tokens and audit records survive a snapshot exactly.
    #[test]
    fn access_records_round_trip() {
        use crate::engine::access::{AccessEvent, AuditRecord, NewKey, Permissions, Role};
        let specs = vec![spec()];
        let mut l = Ledger::new(specs.clone(), 8);
        let mut out = Vec::new();
        l.open_account(AccountId(100), Timestamp(5), &mut out)
            .unwrap();
        let spec_key = NewKey {
            label: "bot".into(),
            permissions: Permissions::READ,
            ip_allowlist: vec!["10.0.0.0/8".into()],
            expires_at: Some(99),
        };
        l.create_key(AccountId(100), spec_key, None, [7; 16], Timestamp(6))
            .unwrap();
        let t = l
            .access()
            .create_token("ops".into(), Role::Viewer, [1; 32], "bootstrap".into(), 7)
            .unwrap();
        l.applied(AccessEvent::TokenCreated(t), Timestamp(7));
        let r = AuditRecord {
            id: 0,
            time: 8,
            actor: "ops".into(),
            token_no: Some(1),
            ip: "127.0.0.1".into(),
            method: "POST".into(),
            path: "/api/v1/admin/accounts".into(),
            body: "{}".into(),
            status: 201,
            code: None,
        };
        let e = l.access().audit(r);
        l.applied(e, Timestamp(8));
        l.apply(
            &super::super::LedgerEvent::Access(AccessEvent::KeyRevoked {
                account: AccountId(100),
                key_no: 1,
            }),
            Timestamp(9),
        );
        let back = Ledger::decode_snapshot(&l.encode_snapshot(), &specs).unwrap();
        assert_eq!(back.access(), l.access());
        assert_eq!(back.state_hash(), l.state_hash());
        let keys: Vec<u32> = back.access().keys().map(|k| k.key_no).collect();
        assert_eq!(keys, [2], "the revoked primary key stays revoked");
        assert_eq!(back.access().audit_page(None, 10).len(), 1);
    }

    #[test]
    fn format_2_to_4_snapshots_still_load() {
        let specs = vec![spec()];
        let mut l = Ledger::new(specs.clone(), 8);
        let mut out = Vec::new();
        let (a, b) = (AccountId(100), AccountId(101));
        for id in [a, b] {
            l.open_account(id, Timestamp(0), &mut out).unwrap();
            l.deposit(id, Decimal::from(10_000), Timestamp(0), &mut out)
                .unwrap();
        }
        let t = crate::domain::Trade {
            trade_id: crate::domain::TradeId(1),
            price: Price(500_000),
            qty: Qty(100),
            taker_side: Side::Buy,
            taker_order: crate::domain::OrderId(1),
            taker_account: a,
            maker: crate::domain::Maker {
                order_id: crate::domain::OrderId(2),
                account: b,
                remaining: Qty(0),
            },
            taker_position: crate::domain::PositionSide::Both,
            maker_position: crate::domain::PositionSide::Both,
        };
        l.settle_fill(
            MarketId(0),
            &t,
            super::super::FillKind::Normal,
            Timestamp(0),
            &mut out,
        )
        .unwrap();
        // Re-encode today's snapshot in the older layouts. Format 4 is format 5 without the
        // access records: it loads with every account's primary key (the accounts here were
        // opened at time 0, the time an upgraded primary key gets).
        let v5: LedgerSnap5 =
            postcard::from_bytes(&l.encode_snapshot()[1..]).expect("format 5 decodes");
        assert_eq!(l.access().keys().count(), 2, "two primary keys");
        let v4 = v5.v4;
        let mut bytes4 = vec![4u8];
        bytes4.extend(postcard::to_stdvec(&v4).unwrap());
        let restored4 = Ledger::decode_snapshot(&bytes4, &specs).unwrap();
        assert_eq!(restored4.state_hash(), l.state_hash());
        assert_eq!(restored4.access(), l.access());
        assert!(v4.hedge.is_empty());
        let v3 = v4.base;
        // Format 3 is format 4 without the trailing hedge list.
        let mut bytes3 = vec![3u8];
        bytes3.extend(postcard::to_stdvec(&v3).unwrap());
        let restored3 = Ledger::decode_snapshot(&bytes3, &specs).unwrap();
        assert_eq!(restored3.state_hash(), l.state_hash());
        let v2 = LedgerSnap {
            scale: v3.scale,
            deposits: v3.deposits,
            withdrawals: v3.withdrawals,
            markets: v3.markets,
            accounts: v3
                .accounts
                .into_iter()
                .map(|a| AccountSnap {
                    id: a.id,
                    wallet: a.wallet,
                    in_liquidation: a.in_liquidation,
                    markets: a
                        .markets
                        .into_iter()
                        .map(|e| EntrySnap2 {
                            market: e.leg.market,
                            leverage: e.leverage,
                            slot: e.slot,
                            orders: e.orders,
                        })
                        .collect(),
                    income: a.income,
                })
                .collect(),
            next_income: v3.next_income,
        };
        let mut bytes = vec![2u8];
        bytes.extend(postcard::to_stdvec(&v2).unwrap());
        let restored = Ledger::decode_snapshot(&bytes, &specs).unwrap();
        assert_eq!(restored.state_hash(), l.state_hash());
        restored.check_invariants().unwrap();
        // An unknown format is refused.
        bytes[0] = 9;
        assert!(Ledger::decode_snapshot(&bytes, &specs).is_err());
    }
}
