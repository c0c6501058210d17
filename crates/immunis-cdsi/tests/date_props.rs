//! Property tests for CDSi date arithmetic (CALCDT-1 … CALCDT-5) against an
//! independent chrono-based model.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Datelike, Days, NaiveDate};
use immunis_cdsi::date::{civil_from_days, days_from_civil, from_naive, to_naive, Dur};
use proptest::prelude::*;

/// Reference model of CALCDT: add the years keeping month and day, then the
/// months keeping the day, an impossible date after either step moving to the
/// first of the next month; then add the days.
fn model(d: NaiveDate, years: i32, months: i32, days: i32) -> NaiveDate {
    let add_months = |d: NaiveDate, months: i32| {
        let total = d.year() * 12 + d.month0() as i32 + months;
        let (y, m) = (total.div_euclid(12), total.rem_euclid(12) as u32 + 1);
        NaiveDate::from_ymd_opt(y, m, d.day()).unwrap_or_else(|| {
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            NaiveDate::from_ymd_opt(ny, nm, 1).unwrap()
        })
    };
    let base = add_months(add_months(d, years * 12), months);
    if days >= 0 {
        base.checked_add_days(Days::new(days as u64)).unwrap()
    } else {
        base.checked_sub_days(Days::new((-days) as u64)).unwrap()
    }
}

fn date() -> impl Strategy<Value = NaiveDate> {
    (1900i32..2100, 1u32..=12, 1u32..=31)
        .prop_filter_map("valid date", |(y, m, d)| NaiveDate::from_ymd_opt(y, m, d))
}

proptest! {
    #[test]
    fn day_numbers_round_trip(d in date()) {
        let n = from_naive(d);
        prop_assert_eq!(to_naive(n), Some(d));
        let (y, m, dd) = civil_from_days(n);
        prop_assert_eq!(days_from_civil(y, m, dd), n);
    }

    #[test]
    fn consecutive_days_are_consecutive_numbers(d in date()) {
        let next = d.succ_opt().unwrap();
        prop_assert_eq!(from_naive(next), from_naive(d) + 1);
    }

    #[test]
    fn calcdt_matches_model(d in date(), years in 0i32..80, months in -11i32..12, weeks in 0i32..60, days in -7i32..30) {
        // through the supporting-data text form, e.g. "3 years - 4 months + 2 weeks + 5 days"
        let sign = |n: i32| if n < 0 { "-" } else { "+" };
        let text = format!(
            "{years} years {} {} months {} {} weeks {} {} days",
            sign(months), months.abs(), sign(weeks), weeks.abs(), sign(days), days.abs()
        );
        let dur = Dur::parse(&text).unwrap();
        prop_assert_eq!((dur.months, i32::from(dur.days), i32::from(dur.years)), (years * 12 + months, weeks * 7 + days, years));
        let got = to_naive(dur.add_to(from_naive(d))).unwrap();
        prop_assert_eq!(got, model(d, years, months, weeks * 7 + days));
    }

    #[test]
    fn impossible_dates_roll_to_the_first_of_next_month(y in 1900i32..2100, m in 1u32..=12, years in 0i32..30, months in 0i32..24) {
        // the last day of a month plus whole months lands on the same day or,
        // when that day does not exist, on the 1st of the following month
        let last = NaiveDate::from_ymd_opt(y, m, 1).unwrap().checked_add_months(chrono::Months::new(1)).unwrap().pred_opt().unwrap();
        let dur = Dur { months: years * 12 + months, days: 0, years: i16::try_from(years).unwrap() };
        let got = to_naive(dur.add_to(from_naive(last))).unwrap();
        prop_assert!(got.day() == last.day() || got.day() == 1);
        prop_assert_eq!(got, model(last, years, months, 0));
    }

    #[test]
    fn calcdt_never_lands_before_same_day_of_month_rule(d in date(), months in 0i32..240) {
        // adding whole months lands on the same day of month, or on the 1st
        // of the following month when that day does not exist (CALCDT-4)
        let got = to_naive(Dur::new(months, 0).add_to(from_naive(d))).unwrap();
        prop_assert!(got.day() == d.day() || (got.day() == 1 && d.day() > 28));
        prop_assert!(got >= d);
    }

    #[test]
    fn parse_then_add_is_consistent(n in 0i32..100, unit in 0usize..4) {
        let names = ["days", "weeks", "months", "years"];
        let p = Dur::parse(&format!("{n} {}", names[unit])).unwrap();
        let expect = match unit {
            0 => Dur::new(0, i16::try_from(n).unwrap()),
            1 => Dur::new(0, i16::try_from(7 * n).unwrap()),
            2 => Dur::new(n, 0),
            _ => Dur { months: 12 * n, days: 0, years: i16::try_from(n).unwrap() },
        };
        prop_assert_eq!(p, expect);
    }
}
