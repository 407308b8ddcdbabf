// Candlestick chart with volume: history from GET /candles, then live from the trades
// channel (each trade folds into the current bar; the bar is pushed to the chart in an
// animation frame at most every 250 ms). Uses TradingView Lightweight Charts™ (vendored, Apache-2.0).

import {
  CandlestickSeries,
  ColorType,
  HistogramSeries,
  createChart,
} from "/assets/vendor/lightweight-charts-5.2.1/lightweight-charts.standalone.production.mjs";
import { get } from "./api.js";
import { scheduleEvery } from "./frame.js";

export const INTERVALS = { "1m": 60e3, "5m": 300e3, "15m": 900e3, "1h": 3600e3, "4h": 14400e3, "1d": 86400e3 };

export class CandleChart {
  constructor(container, onError) {
    this.onError = onError;
    this.chart = createChart(container, {
      autoSize: true,
      layout: {
        fontSize: 11,
        // The library's own logo link injects a <style> element, which the page's CSP forbids;
        // the licence's attribution (NOTICE text and a link to TradingView) is in the chart
        // header and the page footer instead.
        attributionLogo: false,
      },
      // maxBarSpacing keeps the bars of a young market (fitted to the width below) readable.
      timeScale: { timeVisible: true, secondsVisible: false, maxBarSpacing: 24 },
      crosshair: { mode: 0 },
    });
    this.candles = this.chart.addSeries(CandlestickSeries, {
      upColor: "#26a69a",
      downColor: "#ef5350",
      borderVisible: false,
      wickUpColor: "#26a69a",
      wickDownColor: "#ef5350",
    });
    this.volume = this.chart.addSeries(HistogramSeries, {
      priceFormat: { type: "volume" },
      // Its own scale at the bottom fifth (below the candles), and nothing of it on the price axis.
      priceScaleId: "vol",
      lastValueVisible: false,
      priceLineVisible: false,
    });
    this.chart.priceScale("vol").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 }, visible: false });
    // The candles keep clear of the volume bars.
    this.chart.priceScale("right").applyOptions({ scaleMargins: { top: 0.08, bottom: 0.24 } });
    // The chart's surface follows the page's theme (terminal.css: dark, or light by preference).
    this.applyTheme();
    if (window.matchMedia) window.matchMedia("(prefers-color-scheme: light)").addEventListener("change", () => this.applyTheme());
    this.symbol = null;
    this.interval = "1m";
    this.bar = null; // the current (last) bar
    this.loaded = 0; // bars in the chart, for tests
    this.generation = 0;
  }

  applyTheme() {
    const css = getComputedStyle(document.documentElement);
    const v = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
    const line = v("--chart-line", "#262d3d");
    const grid = v("--chart-grid", "#1b2130");
    this.chart.applyOptions({
      layout: { background: { type: ColorType.Solid, color: v("--panel", "#10141c") }, textColor: v("--chart-text", "#8b93a7") },
      grid: { vertLines: { color: grid }, horzLines: { color: grid } },
      rightPriceScale: { borderColor: line },
      timeScale: { borderColor: line },
    });
  }

  setPrecision(priceDp, tick) {
    this.candles.applyOptions({ priceFormat: { type: "price", precision: priceDp, minMove: Number(tick) } });
  }

  /** Load `symbol` at `interval` from GET /candles. */
  async load(symbol, interval) {
    this.symbol = symbol;
    this.interval = interval;
    const gen = ++this.generation;
    let rows;
    try {
      rows = await get(`/api/v1/markets/${encodeURIComponent(symbol)}/candles?interval=${interval}&limit=500`);
    } catch (e) {
      this.onError(e);
      return;
    }
    if (gen !== this.generation) return; // a newer load started
    const bars = rows.map((c) => ({
      time: Math.floor(c.open_time / 1000),
      open: Number(c.open),
      high: Number(c.high),
      low: Number(c.low),
      close: Number(c.close),
      volume: Number(c.volume),
    }));
    this.candles.setData(bars.map(({ volume, ...b }) => b));
    this.volume.setData(bars.map((b) => this.volBar(b)));
    this.bar = bars.length ? { ...bars[bars.length - 1] } : null;
    this.loaded = bars.length;
    // A young market (a fresh server) has few bars: spread them over the width rather than
    // leaving them thin at the right edge; a long history opens on its latest bars.
    if (bars.length && bars.length < 120) this.chart.timeScale().fitContent();
    else this.chart.timeScale().scrollToRealTime();
  }

  volBar(b) {
    return { time: b.time, value: b.volume, color: b.close >= b.open ? "rgba(38,166,154,0.45)" : "rgba(239,83,80,0.45)" };
  }

  /** Fold one trade of the shown market into the current bar. */
  trade(t) {
    if (t.symbol !== this.symbol) return;
    const ms = INTERVALS[this.interval];
    const time = Math.floor(Math.floor(t.time / ms) * ms / 1000);
    const p = Number(t.price);
    const q = Number(t.quantity);
    if (!this.bar || time > this.bar.time) {
      this.bar = { time, open: p, high: p, low: p, close: p, volume: q };
      this.loaded += 1;
    } else if (time === this.bar.time) {
      const b = this.bar;
      b.high = Math.max(b.high, p);
      b.low = Math.min(b.low, p);
      b.close = p;
      b.volume += q;
    } else {
      return; // older than the last bar (a late message): the history already has it
    }
    const bar = { ...this.bar };
    // A full chart redraw per trade would cost more than everything else on the page under
    // load: the last bar is pushed at most 4 times a second (always with its latest values).
    scheduleEvery("candle", 250, () => {
      const { volume, ...ohlc } = bar;
      this.candles.update(ohlc);
      this.volume.update(this.volBar(bar));
    });
  }
}
