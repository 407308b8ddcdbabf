//! A take-profit and/or stop-loss attached to a new order or set on a position
//! (docs/RULES.md §2a): the checked triggers, the close-position orders they become, and the
//! one rule about their sides.

use super::reject::TpSlFault;
use super::{OrderTerms, OrderType, PositionSide, Price, Reject, Side, TriggerBy};

/// A take-profit and/or stop-loss attached to a new order (docs/RULES.md §2a): checked trigger
/// prices on the profit and the loss side of the entry, and what they watch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TpSl {
    pub take_profit: Option<Price>,
    pub stop_loss: Option<Price>,
    pub trigger_by: TriggerBy,
}

impl TpSl {
    pub fn is_empty(&self) -> bool {
        self.take_profit.is_none() && self.stop_loss.is_none()
    }

    /// The terms of the close-position orders (take-profit first) protecting what an entry on
    /// `side` opens on leg `position_side`: on the opposite side.
    pub fn orders(
        &self,
        side: Side,
        position_side: PositionSide,
    ) -> impl Iterator<Item = OrderTerms> + '_ {
        [
            (OrderType::TakeProfitMarket, self.take_profit),
            (OrderType::StopMarket, self.stop_loss),
        ]
        .into_iter()
        .filter_map(move |(order_type, trigger)| {
            trigger.map(|trigger| {
                let by = self.trigger_by;
                OrderTerms::close_position(side.opposite(), order_type, trigger, by, position_side)
            })
        })
    }
}

impl TpSl {
    /// The take-profit above and the stop-loss below a buy's `entry` price (the reverse for a
    /// sell), and the take-profit beyond the stop-loss: `TPSL_WRONG_SIDE` otherwise. Without an
    /// entry price (a market order) only the pair's order is checked here; the market refuses
    /// a trigger the current price already passed (`WOULD_TRIGGER_IMMEDIATELY`).
    pub(super) fn check_sides(&self, side: Side, entry: Option<Price>) -> Result<(), Reject> {
        let up = side == Side::Buy;
        // `a` must be above `b` for a buy (below for a sell).
        let beyond = |a: Option<Price>, b: Option<Price>| match (a, b) {
            (Some(a), Some(b)) => (a > b) == up && a != b,
            _ => true,
        };
        let ok = beyond(self.take_profit, entry)
            && beyond(entry, self.stop_loss)
            && beyond(self.take_profit, self.stop_loss);
        if ok {
            Ok(())
        } else {
            Err(Reject::InvalidTpSl(TpSlFault::WrongSide))
        }
    }
}
