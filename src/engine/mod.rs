//! Engines: the pure state machines the actors drive. `handle`-style methods take `now` and
//! return events; nothing here reads a clock or does I/O.

pub mod market;
