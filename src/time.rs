//! Instants as X archives write them, and RFC 3339 output.
//!
//! Archives of 2018 write `createdAt` as epoch milliseconds in a string
//! (`"1534138567670"`); later ones as ISO-8601 UTC (`"2024-06-14T20:06:32.948Z"`);
//! edits carry `createdAtSec` (epoch seconds). All of them become a
//! [`Timestamp`]: milliseconds since the Unix epoch, UTC.

use std::fmt;

/// Milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Parses a `createdAt` value: epoch milliseconds or ISO-8601.
    ///
    /// Returns `None` when the text is neither.
    pub fn parse_created_at(text: &str) -> Option<Timestamp> {
        let t = text.trim();
        if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            return t.parse().ok().map(Timestamp);
        }
        parse_iso(t)
    }

    /// Parses epoch seconds (`createdAtSec`).
    pub fn parse_epoch_seconds(text: &str) -> Option<Timestamp> {
        let s: i64 = text.trim().parse().ok()?;
        s.checked_mul(1000).map(Timestamp)
    }

    /// Milliseconds since the epoch.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// The civil date and time in UTC: (year, month, day, hour, minute, second, millisecond).
    pub fn to_civil(self) -> (i64, u32, u32, u32, u32, u32, u32) {
        let ms = self.0.rem_euclid(1000) as u32;
        let secs = self.0.div_euclid(1000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400) as u32;
        let (y, m, d) = civil_from_days(days);
        (y, m, d, sod / 3600, sod / 60 % 60, sod % 60, ms)
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with milliseconds, e.g. `2024-06-14T20:06:32.948Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, mo, d, h, mi, s, ms) = self.to_civil();
        write!(f, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse_created_at(&s)
            .ok_or_else(|| serde::de::Error::custom(format_args!("{s:?} is not a date")))
    }
}

fn parse_iso(t: &str) -> Option<Timestamp> {
    // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
    let b = t.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = t.get(r)?;
        if s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = &t[19..];
    let mut ms = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let mut scale = 100;
        for c in frac[..digits].bytes().take(3) {
            ms += i64::from(c - b'0') * scale;
            scale /= 10;
        }
        rest = &frac[digits..];
    }
    let offset_min = match rest {
        "Z" | "z" | "" => 0,
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) => {
            let oh: i64 = rest[1..3].parse().ok()?;
            let om: i64 = rest[4..6].parse().ok()?;
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (oh * 60 + om)
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    let secs = days * 86_400 + h * 3600 + mi * 60 + s - offset_min * 60;
    Some(Timestamp(secs * 1000 + ms))
}

// Howard Hinnant's algorithms (public domain), http://howardhinnant.github.io/date_algorithms.html
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_millis_and_iso_agree() {
        // 2018 archives: epoch ms; the same instant written the 2020+ way.
        let a = Timestamp::parse_created_at("1534138567670").unwrap();
        let b = Timestamp::parse_created_at("2018-08-13T05:36:07.670Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "2018-08-13T05:36:07.670Z");
    }

    #[test]
    fn iso_round_trips_and_offsets() {
        let t = Timestamp::parse_created_at("2024-06-14T20:06:32.948Z").unwrap();
        assert_eq!(t.millis(), 1_718_395_592_948);
        assert_eq!(t.to_string(), "2024-06-14T20:06:32.948Z");
        let o = Timestamp::parse_created_at("2024-06-14T22:06:32.948+02:00").unwrap();
        assert_eq!(o, t);
        assert_eq!(
            Timestamp::parse_created_at("1970-01-01T00:00:00Z"),
            Some(Timestamp(0))
        );
        assert_eq!(
            Timestamp::parse_created_at("1969-12-31T23:59:59.999Z"),
            Some(Timestamp(-1))
        );
        assert_eq!(Timestamp(-1).to_string(), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn leap_days() {
        let t = Timestamp::parse_created_at("2024-02-29T12:00:00.000Z").unwrap();
        assert_eq!(t.to_string(), "2024-02-29T12:00:00.000Z");
        let t = Timestamp::parse_created_at("2000-03-01T00:00:00.000Z").unwrap();
        assert_eq!(t.millis(), 951_868_800_000);
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "yesterday",
            "2024-13-01T00:00:00Z",
            "2024-06-14",
            "12:00",
            "2024-06-14T20:06:32.Z",
        ] {
            assert_eq!(Timestamp::parse_created_at(bad), None, "{bad}");
        }
    }

    #[test]
    fn epoch_seconds() {
        assert_eq!(
            Timestamp::parse_epoch_seconds("1718395592"),
            Some(Timestamp(1_718_395_592_000))
        );
    }
}
