// One WebSocket to GET /ws for everything the page shows live (docs/API.md "WebSocket").
//
// - Subscriptions are remembered and re-sent after every reconnect; private channels only
//   after the server answered "authenticated".
// - A dropped connection is retried with backoff (0.5 s doubling to 5 s); the state goes
//   connecting -> live -> reconnecting -> resynced (the first book snapshot after a
//   reconnect) -> live.
// - `resync(symbol)` asks for a fresh book snapshot (unsubscribe + subscribe), used on a
//   sequence gap.
// - Leaving the page closes the socket (on `pagehide`: Chromium otherwise keeps it open, and
//   the server keeps sending, while the page sits in the back/forward cache); coming back from
//   that cache reconnects and resubscribes as after a drop.

import { setServerTime, wsAuth } from "./api.js";
import { stats } from "./frame.js";

const PRIVATE = new Set(["orders", "fills", "account"]);

export class Feed {
  constructor(onMessage, onState) {
    this.onMessage = onMessage;
    this.onState = onState || (() => {});
    this.subs = new Set(); // "channel|symbol"
    this.ws = null;
    this.backoff = 500;
    this.authed = false;
    this.wantAuth = false;
    this.everOpened = false;
    this.resyncing = false;
    this.pingTimer = null;
    this.retry = null; // the pending reconnect after a drop
    window.addEventListener("pagehide", () => this.suspend());
    window.addEventListener("pageshow", (ev) => {
      if (ev.persisted && !this.ws) this.connect();
    });
  }

  url() {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
  }

  setState(s) {
    stats.state = s;
    this.onState(s);
  }

  connect() {
    this.setState(this.everOpened ? "reconnecting" : "connecting");
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.onopen = () => {
      if (this.everOpened) {
        stats.reconnects += 1;
        this.resyncing = true;
      }
      this.everOpened = true;
      this.backoff = 500;
      this.authed = false;
      for (const key of this.subs) {
        const [channel, symbol] = key.split("|");
        if (!PRIVATE.has(channel)) this.send({ op: "subscribe", channel, symbol });
      }
      if (this.wantAuth) this.auth();
      const hasBook = Array.from(this.subs).some((k) => k.startsWith("book|"));
      if (!this.resyncing) this.setState("live");
      else if (!hasBook) this.resynced();
      this.ping();
    };
    ws.onmessage = (ev) => {
      let m;
      try {
        m = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (m.type === "pong") {
        setServerTime(m.time, this.pingSent, Date.now());
        return;
      }
      if (m.type === "authenticated") {
        this.authed = true;
        for (const key of this.subs) {
          const [channel] = key.split("|");
          if (PRIVATE.has(channel)) this.send({ op: "subscribe", channel });
        }
      }
      if (m.type === "book_snapshot" && this.resyncing) this.resynced();
      this.onMessage(m);
    };
    ws.onclose = () => {
      clearInterval(this.pingTimer);
      if (this.ws !== ws) return;
      this.setState("reconnecting");
      this.retry = setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 5000);
    };
    ws.onerror = () => {
      /* onclose follows and reconnects */
    };
  }

  /** Close the socket without reconnecting (the subscriptions are kept for `connect`). */
  suspend() {
    clearInterval(this.pingTimer);
    clearTimeout(this.retry);
    const ws = this.ws;
    this.ws = null; // its onclose sees another socket and does not reconnect
    if (ws) ws.close();
  }

  /** Shown for a few seconds after the state is whole again following a reconnect. */
  resynced() {
    this.resyncing = false;
    this.setState("resynced");
    setTimeout(() => {
      if (stats.state === "resynced") this.setState("live");
    }, 4000);
  }

  ping() {
    clearInterval(this.pingTimer);
    const once = () => {
      this.pingSent = Date.now();
      this.send({ op: "ping" });
    };
    once();
    this.pingTimer = setInterval(once, 15000);
  }

  send(obj) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj));
  }

  subscribe(channel, symbol) {
    const key = channel + "|" + (symbol || "");
    if (this.subs.has(key)) return;
    this.subs.add(key);
    if (PRIVATE.has(channel)) {
      if (this.authed) this.send({ op: "subscribe", channel });
    } else {
      this.send({ op: "subscribe", channel, symbol });
    }
  }

  unsubscribe(channel, symbol) {
    const key = channel + "|" + (symbol || "");
    if (!this.subs.delete(key)) return;
    this.send({ op: "unsubscribe", channel, symbol: symbol || "" });
  }

  /** A fresh book snapshot for `symbol` (after a sequence gap). */
  resync(symbol) {
    this.send({ op: "unsubscribe", channel: "book", symbol });
    this.send({ op: "subscribe", channel: "book", symbol });
  }

  /** Authenticate now and after every reconnect (private channels follow). */
  async auth() {
    this.wantAuth = true;
    const msg = await wsAuth();
    if (msg) this.send(msg);
  }

  /** Log out: forget private subscriptions and reconnect without auth. */
  logout() {
    this.wantAuth = false;
    for (const key of Array.from(this.subs)) {
      if (PRIVATE.has(key.split("|")[0])) this.subs.delete(key);
    }
    if (this.ws) this.ws.close();
  }
}
