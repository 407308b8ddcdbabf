//! The journal stream's message format: one stream message carries a *run* of consecutive
//! journal entries, so the publisher pays one stream round trip per run instead of one per
//! entry (docs/REPLICATION.md §1 and §10 say why runs and not JetStream's atomic batches).
//!
//! Payload (little-endian): `[u8 version = 1][u64 first][u32 count]` then `count` times
//! `[u32 length][entry bytes]`, entry `i` being journal entry `first + i` in the journal's own
//! encoding. The headers [`FIRST_HEADER`] and [`LAST_HEADER`] repeat the run's bounds so a
//! reader can locate a journal sequence without decoding payloads.
//!
//! A message without those headers is a *legacy* message (streams written before runs): it
//! holds exactly one entry, whose journal sequence is the message's stream sequence.
//!
//! # Invariants
//! - A run is never empty, its entries are consecutive, and its encoded size is at most the
//!   limit it was packed for (a single entry larger than the limit is a run of its own: the
//!   server then refuses it, and the publisher reports why).
//! - `decode(encode(first, entries)) == (first, entries)`; any other byte string is refused
//!   with a reason, never mis-read.

use async_nats::HeaderMap;

/// Header: the journal sequence of a message's first entry.
pub const FIRST_HEADER: &str = "Perpx-Seq-First";
/// Header: the journal sequence of a message's last entry.
pub const LAST_HEADER: &str = "Perpx-Seq-Last";

const VERSION: u8 = 1;
/// Bytes before the first entry.
pub const HEAD_BYTES: usize = 1 + 8 + 4;
/// Bytes of framing per entry.
pub const ENTRY_BYTES: usize = 4;

/// Why a payload is not a run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("not a run of journal entries: {0}")]
    Malformed(&'static str),
    #[error("run format version {0} is not supported by this build")]
    Version(u8),
}

/// A decoded run: the first entry's journal sequence and the entries, borrowed from the
/// payload.
#[derive(Debug, PartialEq, Eq)]
pub struct Run<'a> {
    pub first: u64,
    pub entries: Vec<&'a [u8]>,
}

impl Run<'_> {
    /// The last entry's journal sequence.
    pub fn last(&self) -> u64 {
        self.first + self.entries.len() as u64 - 1
    }

    /// `(seq, bytes)` of each entry.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[u8])> + '_ {
        self.entries
            .iter()
            .enumerate()
            .map(|(i, e)| (self.first + i as u64, *e))
    }
}

/// The encoded size of a run holding entries of these lengths.
pub fn encoded_len(entry_lens: impl IntoIterator<Item = usize>) -> usize {
    HEAD_BYTES
        + entry_lens
            .into_iter()
            .map(|l| l + ENTRY_BYTES)
            .sum::<usize>()
}

/// Encode consecutive entries starting at journal sequence `first`.
pub fn encode<'a>(first: u64, entries: impl IntoIterator<Item = &'a [u8]> + Clone) -> Vec<u8> {
    let len = encoded_len(entries.clone().into_iter().map(<[u8]>::len));
    let mut out = Vec::with_capacity(len);
    out.push(VERSION);
    out.extend_from_slice(&first.to_le_bytes());
    let count_at = out.len();
    out.extend_from_slice(&0u32.to_le_bytes());
    let mut count = 0u32;
    for e in entries {
        let n = u32::try_from(e.len()).expect("a journal entry is far below 4 GiB");
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(e);
        count += 1;
    }
    out[count_at..count_at + 4].copy_from_slice(&count.to_le_bytes());
    out
}

/// Decode a run.
pub fn decode(payload: &[u8]) -> Result<Run<'_>, FrameError> {
    let (&version, rest) = payload
        .split_first()
        .ok_or(FrameError::Malformed("empty"))?;
    if version != VERSION {
        return Err(FrameError::Version(version));
    }
    let (first, rest) = take_u64(rest)?;
    let (count, mut rest) = take_u32(rest)?;
    if count == 0 {
        return Err(FrameError::Malformed("no entries"));
    }
    if first == 0 || first.checked_add(u64::from(count)).is_none() {
        return Err(FrameError::Malformed("sequence out of range"));
    }
    // Each entry takes at least its 4-byte length: a count beyond that is a lie, and must
    // not size an allocation.
    if count as usize > rest.len() / ENTRY_BYTES {
        return Err(FrameError::Malformed("count exceeds the payload"));
    }
    let mut entries = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let (n, r) = take_u32(rest)?;
        let n = n as usize;
        if r.len() < n {
            return Err(FrameError::Malformed("entry exceeds the payload"));
        }
        entries.push(&r[..n]);
        rest = &r[n..];
    }
    if !rest.is_empty() {
        return Err(FrameError::Malformed("bytes after the last entry"));
    }
    Ok(Run { first, entries })
}

/// The run of a stream message (`stream_seq`: its stream sequence, for legacy messages).
pub fn of_message<'a>(
    headers: Option<&HeaderMap>,
    payload: &'a [u8],
    stream_seq: u64,
) -> Result<Run<'a>, FrameError> {
    match headers.and_then(|h| h.get(FIRST_HEADER)) {
        Some(_) => decode(payload),
        None => Ok(Run {
            first: stream_seq,
            entries: vec![payload],
        }),
    }
}

/// `(first, last)` journal sequences of a stream message from its headers alone (legacy
/// messages: the stream sequence for both).
pub fn bounds_of(headers: Option<&HeaderMap>, stream_seq: u64) -> Option<(u64, u64)> {
    let get = |name| headers.and_then(|h| h.get(name)).map(|v| v.as_str());
    match (get(FIRST_HEADER), get(LAST_HEADER)) {
        (None, None) => Some((stream_seq, stream_seq)),
        (Some(f), Some(l)) => Some((f.parse().ok()?, l.parse().ok()?)),
        _ => None,
    }
}

/// How many of `lens` (entry sizes, in order) fit in one run of at most `limit` bytes: at
/// least one, so an oversized entry still goes (and is refused by the server, loudly).
pub fn fits(lens: impl IntoIterator<Item = usize>, limit: usize) -> usize {
    let mut size = HEAD_BYTES;
    let mut n = 0;
    for l in lens {
        size += l + ENTRY_BYTES;
        if n > 0 && size > limit {
            break;
        }
        n += 1;
    }
    n
}

fn take_u64(b: &[u8]) -> Result<(u64, &[u8]), FrameError> {
    let (h, t) = b
        .split_first_chunk::<8>()
        .ok_or(FrameError::Malformed("truncated"))?;
    Ok((u64::from_le_bytes(*h), t))
}

fn take_u32(b: &[u8]) -> Result<(u32, &[u8]), FrameError> {
    let (h, t) = b
        .split_first_chunk::<4>()
        .ok_or(FrameError::Malformed("truncated"))?;
    Ok((u32::from_le_bytes(*h), t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let entries: Vec<Vec<u8>> = vec![vec![1, 2, 3], vec![], vec![9; 300]];
        let bytes = encode(41, entries.iter().map(Vec::as_slice));
        assert_eq!(bytes.len(), encoded_len(entries.iter().map(Vec::len)));
        let run = decode(&bytes).unwrap();
        assert_eq!(run.first, 41);
        assert_eq!(run.last(), 43);
        let got: Vec<(u64, Vec<u8>)> = run.iter().map(|(s, e)| (s, e.to_vec())).collect();
        assert_eq!(
            got,
            vec![
                (41, entries[0].clone()),
                (42, vec![]),
                (43, entries[2].clone())
            ]
        );
    }

    #[test]
    fn refuses_what_is_not_a_run() {
        let good = encode(7, [&b"abc"[..], &b"de"[..]]);
        assert_eq!(decode(&[]), Err(FrameError::Malformed("empty")));
        assert_eq!(decode(&[2]), Err(FrameError::Version(2)));
        for cut in 1..good.len() {
            assert!(decode(&good[..cut]).is_err(), "a run cut at {cut} was read");
        }
        let mut long = good.clone();
        long.push(0);
        assert!(decode(&long).is_err());
        // A count far beyond the payload must not allocate or read past it.
        let mut lie = good.clone();
        lie[9..13].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            decode(&lie),
            Err(FrameError::Malformed("count exceeds the payload"))
        );
        let zero = encode(0, [&b"x"[..]]);
        assert!(decode(&zero).is_err());
        let empty = encode(5, std::iter::empty::<&[u8]>());
        assert_eq!(decode(&empty), Err(FrameError::Malformed("no entries")));
    }

    #[test]
    fn packs_up_to_the_limit_and_at_least_one() {
        let lens = [100, 100, 100];
        let one = HEAD_BYTES + 104;
        assert_eq!(fits(lens, one), 1);
        assert_eq!(fits(lens, one + 103), 1);
        assert_eq!(fits(lens, one + 104), 2);
        assert_eq!(fits(lens, usize::MAX), 3);
        assert_eq!(fits([5000], 10), 1, "an oversized entry still forms a run");
        assert_eq!(fits(std::iter::empty(), 10), 0);
    }

    #[test]
    fn legacy_messages_are_one_entry_at_their_stream_sequence() {
        let run = of_message(None, b"raw", 12).unwrap();
        assert_eq!(
            (run.first, run.last(), run.entries),
            (12, 12, vec![&b"raw"[..]])
        );
        assert_eq!(bounds_of(None, 12), Some((12, 12)));
        let mut h = HeaderMap::new();
        h.insert("Other", "x");
        assert_eq!(bounds_of(Some(&h), 12), Some((12, 12)));
        h.insert(FIRST_HEADER, "20");
        assert_eq!(
            bounds_of(Some(&h), 12),
            None,
            "half a header pair is refused"
        );
        h.insert(LAST_HEADER, "29");
        assert_eq!(bounds_of(Some(&h), 12), Some((20, 29)));
    }
}
