//! Integer day numbers and CDSi time periods (logic specification chapter 3,
//! "Calculating dates", business rules CALCDT-1 … CALCDT-5).
//!
//! Dates are `Day`: a signed count of days since 1970-01-01 (proleptic
//! Gregorian). Time periods from the supporting data ("6 months - 4 days",
//! "10 years + 28 days", "4 weeks") are pre-parsed into a [`Dur`] of whole
//! months and days so the hot path only does integer arithmetic.

use chrono::{Datelike, NaiveDate};

/// A calendar date as days since 1970-01-01.
pub type Day = i32;

/// Sentinel for "no lower bound" (e.g. missing begin age): far past.
pub const DAY_MIN: Day = -1_000_000;
/// Sentinel for "no upper bound" (e.g. missing maximum age): far future.
pub const DAY_MAX: Day = 3_000_000;

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
#[inline]
pub fn days_from_civil(y: i32, m: u32, d: u32) -> Day {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i32;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Civil date (year, month 1-12, day 1-31) of a day number.
#[inline]
pub fn civil_from_days(z: Day) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[inline]
fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Number of days in a month.
#[inline]
pub fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if is_leap(y) {
                29
            } else {
                28
            }
        }
    }
}

/// Converts a chrono date to a day number.
#[inline]
pub fn from_naive(d: NaiveDate) -> Day {
    days_from_civil(d.year(), d.month(), d.day())
}

/// Converts a day number back to a chrono date (None only for absurd values).
#[inline]
pub fn to_naive(d: Day) -> Option<NaiveDate> {
    // 1970-01-01 is day 719,163 counted from 0001-01-01 = day 1
    NaiveDate::from_num_days_from_ce_opt(d.checked_add(719_163)?)
}

/// A CDSi time period: whole months (years × 12 + months) then days
/// (weeks × 7 + days). Components may be negative ("6 months - 4 days").
///
/// CALCDT adds years, then months, then days, each step rolling an
/// impossible date to the first of the next month. Adding whole years is the
/// same as adding 12 × years months, so `months` holds the total; `years`
/// keeps the year part only for the rare period with both (e.g. "16 years -
/// 4 months"), where a birth date of 29 February can roll after the years
/// step and before the months step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Dur {
    /// Years × 12 + months.
    pub months: i32,
    /// Weeks × 7 + days.
    pub days: i16,
    /// The years given (already included in `months`).
    pub years: i16,
}

impl Dur {
    /// The zero period.
    pub const ZERO: Dur = Dur {
        months: 0,
        days: 0,
        years: 0,
    };

    /// A period of whole months (years × 12 + months) then days.
    pub const fn new(months: i32, days: i16) -> Dur {
        Dur {
            months,
            days,
            years: 0,
        }
    }

    /// Whether adding this period needs the years step and the months step
    /// apart (both present): CALCDT rolls an impossible date after each.
    #[inline]
    pub fn split_years(self) -> bool {
        self.years != 0 && self.months != i32::from(self.years) * 12
    }

    /// Parses a supporting-data time period such as `"6 months - 4 days"`,
    /// `"4 years + 28 days"`, `"0 days"`. Returns `None` when the text is
    /// empty or not a time period.
    pub fn parse(s: &str) -> Option<Dur> {
        let s = s.trim();
        if s.is_empty() {
            return None;
        }
        let mut months = 0i32;
        let mut years = 0i32;
        let mut days = 0i32;
        let mut sign = 1i32;
        let mut pending: Option<i32> = None;
        let mut any = false;
        for tok in s.split_whitespace() {
            match tok {
                "+" => sign = 1,
                "-" => sign = -1,
                _ => {
                    if let Ok(n) = tok.parse::<i32>() {
                        pending = Some(n);
                        continue;
                    }
                    // a number may be glued to a sign: "-4"
                    let n = pending.take()?;
                    let unit = tok.trim_end_matches(',').to_ascii_lowercase();
                    match unit.as_str() {
                        "year" | "years" => {
                            months += sign * n * 12;
                            years += sign * n;
                        }
                        "month" | "months" => months += sign * n,
                        "week" | "weeks" => days += sign * n * 7,
                        "day" | "days" => days += sign * n,
                        _ => return None,
                    }
                    any = true;
                    sign = 1;
                }
            }
        }
        if pending.is_some() || !any {
            return None;
        }
        // days and years fit in 16 bits for any real period (±89 years of
        // days); a longer text is not a supporting-data period
        Some(Dur {
            months,
            days: i16::try_from(days).ok()?,
            years: i16::try_from(years).ok()?,
        })
    }

    /// CALCDT from a date already split into (year, month, day): the fast
    /// path for ages, where the birth date is split once per patient.
    #[inline]
    pub fn add_to_ymd(self, date: Day, ymd: (i32, u32, u32)) -> Day {
        if self.months == 0 {
            return date + i32::from(self.days);
        }
        let (y, m, d) = ymd;
        let total = y * 12 + (m as i32 - 1) + self.months;
        let ny = total.div_euclid(12);
        let nm = (total.rem_euclid(12) + 1) as u32;
        // every month has 28 days: only a later day can be impossible
        let base = if d <= 28 {
            days_from_civil(ny, nm, d)
        } else {
            // years first, rolled, then months: only 29 February can become
            // impossible after the years step (the month is unchanged)
            if d == 29 && m == 2 && self.split_years() {
                return self.add_years_then_months(date, ymd);
            }
            let dim = days_in_month(ny, nm);
            if d > dim {
                days_from_civil(ny, nm, 1) + dim as i32
            } else {
                days_from_civil(ny, nm, d)
            }
        };
        base + i32::from(self.days)
    }

    /// CALCDT for a period with years and months from 29 February: the
    /// years step may roll to 1 March before the months are added.
    #[cold]
    fn add_years_then_months(self, date: Day, ymd: (i32, u32, u32)) -> Day {
        let years = i32::from(self.years) * 12;
        let after_years = Dur::new(years, 0).add_to_ymd(date, ymd);
        Dur::new(self.months - years, self.days).add_to(after_years)
    }

    /// CALCDT: adds this period to a date. Years and months are added first
    /// (CALCDT-1/2/5); an impossible date rolls forward to the first day of
    /// the next month (CALCDT-4); then weeks/days are added (CALCDT-3).
    #[inline]
    pub fn add_to(self, date: Day) -> Day {
        if self.months == 0 {
            return date + i32::from(self.days);
        }
        // CALCDT-4 (impossible date rolls to the 1st of the next month) is
        // applied in add_to_ymd
        self.add_to_ymd(date, civil_from_days(date))
    }
}

/// Adds an optional period to a date, `None` when the period is absent.
#[inline]
pub fn add_opt(date: Day, dur: Option<Dur>) -> Option<Day> {
    dur.map(|p| p.add_to(date))
}

/// Parses a supporting-data date `YYYYMMDD` or `MM/DD/YYYY`.
pub fn parse_data_date(s: &str) -> Option<Day> {
    let s = s.trim();
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        let y: i32 = s[0..4].parse().ok()?;
        let m: u32 = s[4..6].parse().ok()?;
        let d: u32 = s[6..8].parse().ok()?;
        return NaiveDate::from_ymd_opt(y, m, d).map(from_naive);
    }
    let mut it = s.split('/');
    let m: u32 = it.next()?.trim().parse().ok()?;
    let d: u32 = it.next()?.trim().parse().ok()?;
    let y: i32 = it.next()?.trim().parse().ok()?;
    NaiveDate::from_ymd_opt(y, m, d).map(from_naive)
}

/// Parses an ISO `YYYY-MM-DD` date.
pub fn parse_iso(s: &str) -> Option<Day> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .ok()
        .map(from_naive)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn d(s: &str) -> Day {
        parse_iso(s).unwrap()
    }

    #[test]
    fn parses_periods() {
        assert_eq!(Dur::parse("6 months - 4 days"), Some(Dur::new(6, -4)));
        assert_eq!(
            Dur::parse("10 years + 4 weeks"),
            Some(Dur {
                months: 120,
                days: 28,
                years: 10
            })
        );
        assert_eq!(Dur::parse("0 days"), Some(Dur::ZERO));
        assert_eq!(Dur::parse("1 year - 1 months").map(|p| p.months), Some(11));
        assert_eq!(Dur::parse(""), None);
        assert_eq!(Dur::parse("soon"), None);
    }

    #[test]
    fn calcdt_examples() {
        // CALCDT-4: impossible dates roll to the first of the next month
        let p = Dur::parse("6 months").unwrap();
        assert_eq!(p.add_to(d("2000-03-31")), d("2000-10-01"));
        let y = Dur::parse("1 year").unwrap();
        assert_eq!(y.add_to(d("2020-02-29")), d("2021-03-01"));
        let m = Dur::parse("1 month").unwrap();
        assert_eq!(m.add_to(d("2021-01-31")), d("2021-03-01"));
        // years, then months, each rolled (CALCDT): 2004-02-29 + 1 year is
        // 2005-03-01, + 1 month is 2005-04-01 (not 2005-03-29)
        let p = Dur::parse("1 year + 1 month").unwrap();
        assert_eq!(p.add_to(d("2004-02-29")), d("2005-04-01"));
        let p = Dur::parse("16 years - 4 months").unwrap();
        assert_eq!(p.add_to(d("2000-01-31")), d("2015-10-01"));
        // months before days
        let p = Dur::parse("2 months - 4 days").unwrap();
        assert_eq!(p.add_to(d("2025-11-10")), d("2026-01-06"));
        let p = Dur::parse("6 weeks - 4 days").unwrap();
        assert_eq!(p.add_to(d("2025-11-10")), d("2025-12-18"));
        assert_eq!(d("1970-01-01"), 0);
        assert_eq!(to_naive(0), NaiveDate::from_ymd_opt(1970, 1, 1));
        assert_eq!(
            to_naive(d("2024-02-29")),
            NaiveDate::from_ymd_opt(2024, 2, 29)
        );
    }

    #[test]
    fn data_dates() {
        assert_eq!(parse_data_date("20250827"), Some(d("2025-08-27")));
        assert_eq!(parse_data_date("01/01/1957"), Some(d("1957-01-01")));
        assert_eq!(parse_data_date(""), None);
    }
}
