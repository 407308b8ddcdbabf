// Render batching: work scheduled during a frame runs once, in the next animation frame, with
// the latest state. Market data may arrive thousands of times per second; the screen is
// painted at most once per frame, so the cost of drawing does not grow with the message rate.
//
// `stats` counts what the page received and what it drew; the browser test reads it
// (window.perpxStats) to compare delivered and rendered book updates.

export const stats = {
  delivered: 0, // book_update messages received for the shown market
  applied: 0, // of those, applied to the local book (in sequence)
  rendered: 0, // applied updates that a painted ladder frame included
  frames: 0, // ladder paints
  snapshots: 0, // book snapshots received
  gaps: 0, // sequence gaps detected (each triggers a resync)
  reconnects: 0, // WebSocket re-connections after a drop
  trades: 0, // trade messages received
  state: "connecting", // connecting | live | reconnecting | resynced
};
window.perpxStats = stats;

const jobs = new Map();
let queued = false;

function run() {
  queued = false;
  const list = Array.from(jobs.values());
  jobs.clear();
  for (const fn of list) {
    try {
      fn();
    } catch (e) {
      console.error("render job failed", e);
    }
  }
}

/** Run `fn` in the next animation frame; a later call with the same `key` replaces it. */
export function schedule(key, fn) {
  jobs.set(key, fn);
  if (!queued) {
    queued = true;
    requestAnimationFrame(run);
  }
}

/** Like schedule, but at most once per `ms` (for costlier drawings such as the depth chart). */
const last = new Map();
const timers = new Map();
export function scheduleEvery(key, ms, fn) {
  if (timers.has(key)) {
    timers.get(key).fn = fn; // the pending run will use the latest job
    return;
  }
  const wait = Math.max(0, (last.get(key) || 0) + ms - performance.now());
  const t = { fn };
  timers.set(key, t);
  setTimeout(() => {
    timers.delete(key);
    schedule(key, () => {
      last.set(key, performance.now());
      t.fn();
    });
  }, wait);
}
