//! Sets of archive numbers as bit sets: bit `k - 1` of a little-endian byte
//! string stands for archive `k`. The index stores provenance this way and
//! gives SQL the functions `bits_add(set, k)`, `bits_has(set, k)`,
//! `bits_or(a, b)` and `bits_list(set)` (`"1,3"`).

use rusqlite::functions::FunctionFlags;
use rusqlite::Connection;

use crate::vault::catalog::ArchiveNo;

/// `set` with archive `k` added (archive 0 is no archive: unchanged).
pub fn add(set: &[u8], k: ArchiveNo) -> Vec<u8> {
    let mut out = set.to_vec();
    if let Some(bit) = (k as usize).checked_sub(1) {
        if out.len() <= bit / 8 {
            out.resize(bit / 8 + 1, 0);
        }
        out[bit / 8] |= 1 << (bit % 8);
    }
    out
}

/// Whether `set` holds archive `k`.
pub fn has(set: &[u8], k: ArchiveNo) -> bool {
    (k as usize)
        .checked_sub(1)
        .and_then(|bit| set.get(bit / 8).map(|b| b & (1 << (bit % 8)) != 0))
        .unwrap_or(false)
}

/// The union of two sets.
pub fn or(a: &[u8], b: &[u8]) -> Vec<u8> {
    let (long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    let mut out = long.to_vec();
    for (o, s) in out.iter_mut().zip(short) {
        *o |= s;
    }
    out
}

/// The archive numbers in `set`, in order.
pub fn members(set: &[u8]) -> Vec<ArchiveNo> {
    let mut out = Vec::new();
    for (i, byte) in set.iter().enumerate() {
        for bit in 0..8 {
            if byte & (1 << bit) != 0 {
                out.extend(ArchiveNo::try_from(i * 8 + bit + 1).ok());
            }
        }
    }
    out
}

/// Registers the SQL functions on `conn`.
pub(super) fn register(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("bits_add", 2, flags, |ctx| {
        let set: Vec<u8> = ctx.get::<Option<Vec<u8>>>(0)?.unwrap_or_default();
        let k: i64 = ctx.get(1)?;
        Ok(add(&set, ArchiveNo::try_from(k).unwrap_or(0)))
    })?;
    conn.create_scalar_function("bits_has", 2, flags, |ctx| {
        let set: Vec<u8> = ctx.get::<Option<Vec<u8>>>(0)?.unwrap_or_default();
        let k: i64 = ctx.get(1)?;
        Ok(has(&set, ArchiveNo::try_from(k).unwrap_or(0)))
    })?;
    conn.create_scalar_function("bits_list", 1, flags, |ctx| {
        let set: Vec<u8> = ctx.get::<Option<Vec<u8>>>(0)?.unwrap_or_default();
        let list: Vec<String> = members(&set).iter().map(ToString::to_string).collect();
        Ok(list.join(","))
    })?;
    conn.create_scalar_function("bits_or", 2, flags, |ctx| {
        let a: Vec<u8> = ctx.get::<Option<Vec<u8>>>(0)?.unwrap_or_default();
        let b: Vec<u8> = ctx.get::<Option<Vec<u8>>>(1)?.unwrap_or_default();
        Ok(or(&a, &b))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_add_test_and_join() {
        let s = add(&add(&[], 1), 20);
        assert!(has(&s, 1) && has(&s, 20) && !has(&s, 2) && !has(&s, 200));
        assert_eq!(members(&s), vec![1, 20]);
        assert_eq!(members(&or(&add(&[], 3), &s)), vec![1, 3, 20]);
        assert_eq!(add(&[], 0), Vec::<u8>::new(), "archive 0 is no archive");
    }
}
