// Finding markets by name among hundreds: a case-insensitive substring match on the symbol and
// the base asset, best matches first, and at most MAX_ROWS of them drawn. Used by the trader's
// market selector (markets.js) and the operator view's markets table (admin.js).

/** Rows a list draws at most; the rest are counted ("N more — refine the search"). */
export const MAX_ROWS = 50;

/** The lower-case names of a market, computed once per market. */
function keys(m) {
  if (!m.searchKeys) m.searchKeys = { symbol: m.symbol.toLowerCase(), base: String(m.base_asset || "").toLowerCase() };
  return m.searchKeys;
}

/**
 * The markets whose symbol or base asset contains `query` (any case), in the given order, but
 * the closer matches first: the base asset (or the symbol) equal to the query, then the
 * symbols starting with it, then the others. An empty query matches every market.
 */
export function searchMarkets(markets, query) {
  const q = String(query || "").trim().toLowerCase();
  if (!q) return markets.slice();
  const tiers = [[], [], []];
  for (const m of markets) {
    const k = keys(m);
    if (k.base === q || k.symbol === q) tiers[0].push(m);
    else if (k.symbol.startsWith(q)) tiers[1].push(m);
    else if (k.symbol.includes(q) || k.base.includes(q)) tiers[2].push(m);
  }
  return tiers.flat();
}
