//! Instants as X archives write them, and RFC 3339 output.
//!
//! Archives of 2018 write `createdAt` as epoch milliseconds in a string
//! (`"1534138567670"`); later ones as ISO-8601 UTC (`"2024-06-14T20:06:32.948Z"`);
//! edits carry `createdAtSec` (epoch seconds). All of them become a
//! [`Timestamp`]: milliseconds since the Unix epoch, UTC.
//!
//! A [`Timestamp`] always lies in the years 0000–9999, the range RFC 3339
//! can write, so that every timestamp dmvault writes reads back. Parsing
//! (done by [`jiff`]) tells an instant outside that range
//! ([`DateError::OutOfRange`], with the nearest representable instant)
//! from text that is no date at all ([`DateError::Invalid`]).

use std::fmt;

/// Milliseconds since 1970-01-01T00:00:00Z, within the years 0000–9999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// Why a text is not a [`Timestamp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateError {
    /// Not a date in any form dmvault reads.
    Invalid,
    /// A date outside the years 0000–9999; `clamped` is the nearest
    /// instant inside them.
    OutOfRange {
        /// [`Timestamp::MIN`] or [`Timestamp::MAX`].
        clamped: Timestamp,
    },
}

impl Timestamp {
    /// 0000-01-01T00:00:00.000Z, the earliest instant RFC 3339 can write.
    pub const MIN: Timestamp = Timestamp(-62_167_219_200_000);
    /// 9999-12-30T22:00:00.000Z: the latest instant of the year 9999 that
    /// [`jiff`] takes in milliseconds (it keeps a day's margin for
    /// time-zone offsets).
    pub const MAX: Timestamp = Timestamp(253_402_207_200_000);

    /// The instant `ms` milliseconds after the epoch, or `None` outside
    /// the years 0000–9999.
    pub fn from_millis(ms: i64) -> Option<Timestamp> {
        (Self::MIN.0..=Self::MAX.0)
            .contains(&ms)
            .then_some(Timestamp(ms))
    }

    /// The instant `ms` milliseconds after the epoch, moved into the years
    /// 0000–9999 when it lies outside them.
    pub fn from_millis_clamped(ms: i64) -> Timestamp {
        Timestamp(ms.clamp(Self::MIN.0, Self::MAX.0))
    }

    /// Now, by the system clock.
    pub fn now() -> Timestamp {
        Timestamp::from_system_time(std::time::SystemTime::now())
    }

    /// A file time or clock reading (clamped into the years 0000–9999).
    pub fn from_system_time(t: std::time::SystemTime) -> Timestamp {
        let ms = match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(e) => i64::try_from(e.duration().as_millis()).map_or(i64::MIN, |m| -m),
        };
        Timestamp::from_millis_clamped(ms)
    }

    /// Parses a `createdAt` value: epoch milliseconds or ISO-8601 / RFC 3339
    /// (an offset-less time is taken as UTC).
    ///
    /// # Errors
    /// [`DateError::Invalid`] for text in neither form;
    /// [`DateError::OutOfRange`] for an instant outside the years 0000–9999,
    /// including the forms dmvault 0.1 wrote for such instants
    /// (`10000-01-01T…`, `-001-12-31T…`).
    pub fn parse(text: &str) -> Result<Timestamp, DateError> {
        let t = text.trim();
        if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            return match t.parse::<i64>() {
                Ok(ms) => Self::checked(ms),
                Err(_) => Err(DateError::OutOfRange { clamped: Self::MAX }),
            };
        }
        match parse_iso(t) {
            Ok(ts) => Self::checked(ts.as_millisecond()),
            Err(DateError::Invalid) => legacy_out_of_range(t)
                .map_or(Err(DateError::Invalid), |clamped| {
                    Err(DateError::OutOfRange { clamped })
                }),
            Err(e) => Err(e),
        }
    }

    /// Parses a `createdAt` value; `None` unless it is a date in the years
    /// 0000–9999 (see [`Timestamp::parse`]).
    pub fn parse_created_at(text: &str) -> Option<Timestamp> {
        Self::parse(text).ok()
    }

    /// Parses a tweet's `created_at`: `Wed Aug 09 16:19:22 +0000 2023`.
    pub fn parse_tweet_date(text: &str) -> Option<Timestamp> {
        let t = jiff::fmt::strtime::parse("%a %b %d %H:%M:%S %z %Y", text.trim())
            .ok()?
            .to_timestamp()
            .ok()?;
        Self::from_millis(t.as_millisecond())
    }

    /// Parses epoch seconds (`createdAtSec`).
    ///
    /// # Errors
    /// As [`Timestamp::parse`].
    pub fn parse_epoch_seconds(text: &str) -> Result<Timestamp, DateError> {
        let t = text.trim();
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DateError::Invalid);
        }
        match t.parse::<i64>().ok().and_then(|s| s.checked_mul(1000)) {
            Some(ms) => Self::checked(ms),
            None => Err(DateError::OutOfRange { clamped: Self::MAX }),
        }
    }

    fn checked(ms: i64) -> Result<Timestamp, DateError> {
        Self::from_millis(ms).ok_or(DateError::OutOfRange {
            clamped: Self::from_millis_clamped(ms),
        })
    }

    /// Milliseconds since the epoch.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// The civil date and time in UTC.
    pub fn to_civil(self) -> Civil {
        let dt = self
            .jiff()
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .datetime();
        Civil {
            year: dt.year(),
            month: dt.month().unsigned_abs(),
            day: dt.day().unsigned_abs(),
            hour: dt.hour().unsigned_abs(),
            minute: dt.minute().unsigned_abs(),
            second: dt.second().unsigned_abs(),
            millisecond: dt.millisecond().unsigned_abs(),
        }
    }

    fn jiff(self) -> jiff::Timestamp {
        // In range by construction: the years 0000–9999 lie inside jiff's.
        jiff::Timestamp::from_millisecond(self.0).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }
}

/// A [`Timestamp`]'s date and time of day in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// 0 to 9999.
    pub year: i16,
    /// 1 to 12.
    pub month: u8,
    /// 1 to 31.
    pub day: u8,
    /// 0 to 23.
    pub hour: u8,
    /// 0 to 59.
    pub minute: u8,
    /// 0 to 59.
    pub second: u8,
    /// 0 to 999.
    pub millisecond: u16,
}

/// RFC 3339 or ISO-8601 with an offset (`Z`, `+02:00`), or without one
/// (taken as UTC); a date and a time of day are both required.
fn parse_iso(t: &str) -> Result<jiff::Timestamp, DateError> {
    static PARSER: jiff::fmt::temporal::DateTimeParser = jiff::fmt::temporal::DateTimeParser::new();
    // A date alone or a time alone is no instant; jiff would take either.
    if t.len() < 19 || !matches!(t.as_bytes().get(10), Some(b'T' | b't' | b' ')) {
        return Err(DateError::Invalid);
    }
    if let Ok(ts) = PARSER.parse_timestamp(t) {
        return Ok(ts);
    }
    let end = civil_end(t).ok_or(DateError::Invalid)?;
    let (date_time, offset) = t.split_at(end);
    let civil = PARSER
        .parse_datetime(date_time)
        .map_err(|_| DateError::Invalid)?;
    if offset.is_empty() {
        return civil
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|_| DateError::Invalid);
    }
    // A valid date and time past jiff's range (late on 9999-12-31), or
    // an offset that is not one.
    if civil.year() >= 9999
        && PARSER
            .parse_timestamp(format!("2000-01-01T00:00:00{offset}"))
            .is_ok()
    {
        return Err(DateError::OutOfRange {
            clamped: Timestamp::MAX,
        });
    }
    Err(DateError::Invalid)
}

/// Where the date and time of an ISO-8601 text (`YYYY-MM-DDTHH:MM:SS`
/// and a fraction) end and its offset begins; `None` when the text is
/// shorter or its 20th byte is inside a character (then it is no date).
fn civil_end(t: &str) -> Option<usize> {
    let rest = t.get(19..)?;
    let fraction = match rest.strip_prefix(['.', ',']) {
        Some(f) => 1 + f.bytes().take_while(u8::is_ascii_digit).count(),
        None => 0,
    };
    Some(19 + fraction)
}

/// dmvault 0.1 wrote instants outside the years 0000–9999 as
/// `{year:04}-MM-DDTHH:MM:SS.mmmZ`, which no parser reads back: a year of
/// five or more digits (after 9999) or a negative one (before 0000).
fn legacy_out_of_range(t: &str) -> Option<Timestamp> {
    let (negative, rest) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t),
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let tail = rest.get(digits..)?;
    // `-MM-DDTHH:MM:SS.mmmZ`
    let shape = tail.len() == 20
        && tail.bytes().enumerate().all(|(i, b)| match i {
            0 | 3 => b == b'-',
            6 => b == b'T',
            9 | 12 => b == b':',
            15 => b == b'.',
            19 => b == b'Z',
            _ => b.is_ascii_digit(),
        });
    match (shape, negative, digits) {
        (true, true, 1..) => Some(Timestamp::MIN),
        (true, false, 5..) => Some(Timestamp::MAX),
        _ => None,
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with milliseconds, e.g. `2024-06-14T20:06:32.948Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.to_civil();
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            c.year, c.month, c.day, c.hour, c.minute, c.second, c.millisecond
        )
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    /// Reads what [`Timestamp::parse`] reads; an instant outside the years
    /// 0000–9999 (which dmvault 0.1 could write into a catalog) becomes
    /// the nearest one inside them, so such a catalog still loads.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        match Timestamp::parse(&s) {
            Ok(t) | Err(DateError::OutOfRange { clamped: t }) => Ok(t),
            Err(DateError::Invalid) => Err(serde::de::Error::custom(format_args!(
                "{s:?} is not a date"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms).unwrap()
    }

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
        let no_offset = Timestamp::parse_created_at("2024-06-14T20:06:32.948").unwrap();
        assert_eq!(no_offset, t);
        assert_eq!(
            Timestamp::parse_created_at("1970-01-01T00:00:00Z"),
            Some(ts(0))
        );
        assert_eq!(
            Timestamp::parse_created_at("1969-12-31T23:59:59.999Z"),
            Some(ts(-1))
        );
        assert_eq!(ts(-1).to_string(), "1969-12-31T23:59:59.999Z");
        // Digits past the millisecond are cut, not rounded.
        assert_eq!(
            Timestamp::parse_created_at("2024-06-14T20:06:32.9489999Z"),
            Some(t)
        );
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
            "2024-02-30T00:00:00Z",
            "2024-06-14",
            "12:00",
            "2024-06-14T20:06:32.Z",
            "2024-06-14T20:06:32+0é00",
            "2024-06-14T20:06:32+é",
            "-5",
        ] {
            assert_eq!(Timestamp::parse(bad), Err(DateError::Invalid), "{bad}");
        }
    }

    #[test]
    fn outside_the_years_0000_to_9999_is_out_of_range() {
        let max = Err(DateError::OutOfRange {
            clamped: Timestamp::MAX,
        });
        let min = Err(DateError::OutOfRange {
            clamped: Timestamp::MIN,
        });
        assert_eq!(Timestamp::parse("253402300800000"), max);
        assert_eq!(Timestamp::parse("253402207200000"), Ok(Timestamp::MAX));
        assert_eq!(Timestamp::parse("253402207200001"), max);
        assert!(jiff::Timestamp::from_millisecond(Timestamp::MAX.millis()).is_ok());
        assert!(
            jiff::Timestamp::from_millisecond(Timestamp::MAX.millis() + 1).is_err(),
            "the range ends where jiff's does"
        );
        assert_eq!(Timestamp::parse("99999999999999999999999"), max);
        assert_eq!(Timestamp::parse("0000-01-01T00:00:00+01:00"), min);
        assert_eq!(Timestamp::parse("0000-01-01T00:00:00Z"), Ok(Timestamp::MIN));
        assert_eq!(Timestamp::parse("9999-12-31T23:59:59.999-01:00"), max);
        assert_eq!(Timestamp::parse("9999-12-31T23:59:59.999Z"), max);
        // What dmvault 0.1 wrote for such instants.
        assert_eq!(Timestamp::parse("10000-01-01T00:00:00.000Z"), max);
        assert_eq!(Timestamp::parse("-001-12-31T23:00:00.000Z"), min);
        assert_eq!(Timestamp::parse_epoch_seconds("253402300800"), max);
        assert_eq!(Timestamp::MIN.to_string(), "0000-01-01T00:00:00.000Z");
        assert_eq!(Timestamp::MAX.to_string(), "9999-12-30T22:00:00.000Z");
        assert_eq!(Timestamp::from_millis(Timestamp::MAX.millis() + 1), None);
        assert_eq!(Timestamp::from_millis_clamped(i64::MIN), Timestamp::MIN);
    }

    #[test]
    fn serde_clamps_what_older_versions_wrote() {
        let t: Timestamp = serde_json::from_str("\"10000-01-01T00:00:00.000Z\"").unwrap();
        assert_eq!(t, Timestamp::MAX);
        assert!(serde_json::from_str::<Timestamp>("\"soon\"").is_err());
        let back: Timestamp =
            serde_json::from_str(&serde_json::to_string(&Timestamp::MIN).unwrap()).unwrap();
        assert_eq!(back, Timestamp::MIN);
    }

    #[test]
    fn a_character_across_byte_19_is_no_date() {
        // Found by `parsers_never_panic_on_date_like_text_with_non_ascii`:
        // the offset was split off inside the `𝄞`.
        assert_eq!(
            Timestamp::parse("0000-00-00T00:00𝄞:00"),
            Err(DateError::Invalid)
        );
        assert_eq!(
            Timestamp::parse("2024-06-14T20:06:0é"),
            Err(DateError::Invalid)
        );
    }

    #[test]
    fn epoch_seconds() {
        assert_eq!(
            Timestamp::parse_epoch_seconds("1718395592"),
            Ok(ts(1_718_395_592_000))
        );
        assert_eq!(
            Timestamp::parse_epoch_seconds("2024-06-14T20:06:32Z"),
            Err(DateError::Invalid)
        );
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn config() -> ProptestConfig {
        crate::testing::proptest_config(512)
    }

    /// Text shaped like the dates archives carry, with odd digits, offsets
    /// and fractions, so the parsers get past their first checks.
    fn date_like() -> impl Strategy<Value = String> {
        prop_oneof![
            "[0-9]{1,5}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,12})?(Z|[+-][0-9é]{2}:?[0-9é]{2})?",
            "[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]([.,][0-9]{0,12})?(Z|z|[+-][01][0-9]:?[0-5][0-9])?",
            "-?[0-9]{1,7}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z",
            "[ \t\n]{0,2}-?[0-9]{1,25}[ \t\n]{0,2}",
        ]
    }

    /// `base` with a few characters (mostly non-ASCII) put in at random places.
    fn with_inserts(base: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
        let ch = prop_oneof![
            Just('é'),
            Just('€'),
            Just('𝄞'),
            Just('\u{feff}'),
            any::<char>()
        ];
        let inserts = proptest::collection::vec((any::<prop::sample::Index>(), ch), 1..4);
        (base, inserts).prop_map(|(s, inserts)| {
            let mut chars: Vec<char> = s.chars().collect();
            for (at, c) in inserts {
                chars.insert(at.index(chars.len() + 1), c);
            }
            chars.into_iter().collect()
        })
    }

    fn in_range(t: Timestamp) -> bool {
        (Timestamp::MIN..=Timestamp::MAX).contains(&t)
    }

    /// What every parse result must be: an instant in range, or an error
    /// whose clamped instant is one of the two ends.
    fn assert_well_formed(r: Result<Timestamp, DateError>, text: &str) {
        match r {
            Ok(t) => assert!(in_range(t), "{text:?} gave {t:?}"),
            Err(DateError::OutOfRange { clamped }) => assert!(
                clamped == Timestamp::MIN || clamped == Timestamp::MAX,
                "{text:?} clamped to {clamped:?}"
            ),
            Err(DateError::Invalid) => {}
        }
    }

    fn check_all_parsers(text: &str) {
        let parsed = Timestamp::parse(text);
        assert_well_formed(parsed, text);
        assert_well_formed(Timestamp::parse_epoch_seconds(text), text);
        assert_eq!(Timestamp::parse_created_at(text), parsed.ok(), "{text:?}");
        // serde reads what `parse` reads, clamping what is out of range.
        let json = serde_json::to_string(text).unwrap();
        match (serde_json::from_str::<Timestamp>(&json), parsed) {
            (Ok(t), Ok(p) | Err(DateError::OutOfRange { clamped: p })) => assert_eq!(t, p),
            (Err(_), Err(DateError::Invalid)) => {}
            (got, want) => panic!("{text:?}: serde gave {got:?}, parse {want:?}"),
        }
    }

    fn any_millis() -> impl Strategy<Value = i64> {
        let (min, max) = (Timestamp::MIN.millis(), Timestamp::MAX.millis());
        prop_oneof![
            min..=max,
            min..min + 100_000_000,
            max - 100_000_000..=max,
            -100_000_000i64..100_000_000,
        ]
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn parsers_never_panic_on_any_string(text in any::<String>()) {
            check_all_parsers(&text);
        }

        #[test]
        fn parsers_never_panic_on_date_like_text(text in date_like()) {
            check_all_parsers(&text);
        }

        #[test]
        fn parsers_never_panic_on_date_like_text_with_non_ascii(text in with_inserts(date_like())) {
            check_all_parsers(&text);
        }

        #[test]
        fn display_parses_back(ms in any_millis()) {
            let t = Timestamp::from_millis(ms).unwrap();
            let text = t.to_string();
            prop_assert_eq!(Timestamp::parse(&text), Ok(t), "{}", text);
            if ms >= 0 {
                prop_assert_eq!(Timestamp::parse(&ms.to_string()), Ok(t));
            }
            if ms % 1000 == 0 {
                let seconds = Timestamp::parse_epoch_seconds(&(ms / 1000).to_string());
                prop_assert_eq!(seconds.ok(), (ms >= 0).then_some(t));
            }
        }

        #[test]
        fn serde_round_trips(ms in any_millis()) {
            let t = Timestamp::from_millis(ms).unwrap();
            let json = serde_json::to_string(&t).unwrap();
            prop_assert_eq!(json.clone(), format!("\"{t}\""));
            prop_assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
        }

        #[test]
        fn from_millis_takes_exactly_the_range(ms in any::<i64>()) {
            let (min, max) = (Timestamp::MIN.millis(), Timestamp::MAX.millis());
            let t = Timestamp::from_millis(ms);
            prop_assert_eq!(t.map(Timestamp::millis), (min..=max).contains(&ms).then_some(ms));
            prop_assert!(in_range(Timestamp::from_millis_clamped(ms)));
        }
    }
}
