//! Ages and intervals ("1y", "6m", "8w", "28d", combinable as "1y6m") and the
//! calendar arithmetic of the rules: a date plus years and months lands on the
//! same day of the month; a day the month does not have rolls over to the
//! first of the next month (CDSi's convention: a child born 29 February has
//! their first birthday on 1 March).

use std::fmt;

use chrono::{Datelike, Duration, NaiveDate};

use crate::RulesError;

/// A calendar amount of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Age {
    pub years: u32,
    pub months: u32,
    pub weeks: u32,
    pub days: u32,
}

impl Age {
    pub const fn years(years: u32) -> Age {
        Age {
            years,
            months: 0,
            weeks: 0,
            days: 0,
        }
    }

    /// Parses `1y`, `6m`, `8w`, `28d` and combinations such as `1y6m`.
    pub fn parse(s: &str) -> Result<Age, RulesError> {
        let bad = || {
            RulesError::Invalid(format!(
                "not an age or interval: {s:?} (use e.g. 1y, 6m, 8w, 28d)"
            ))
        };
        let t = s.trim();
        if t.is_empty() {
            return Err(bad());
        }
        let mut age = Age::default();
        let mut num = String::new();
        for c in t.chars() {
            if c.is_ascii_digit() {
                num.push(c);
                continue;
            }
            let n: u32 = num.parse().map_err(|_| bad())?;
            num.clear();
            match c.to_ascii_lowercase() {
                'y' => age.years += n,
                'm' => age.months += n,
                'w' => age.weeks += n,
                'd' => age.days += n,
                _ => return Err(bad()),
            }
        }
        if !num.is_empty() || age.years > 150 || age.months > 1200 {
            return Err(bad());
        }
        Ok(age)
    }

    /// `date` plus this amount (months first, then days).
    pub fn after(self, date: NaiveDate) -> NaiveDate {
        let total = i64::from(date.year()) * 12
            + i64::from(date.month0())
            + i64::from(self.years) * 12
            + i64::from(self.months);
        let (y, m0) = (total.div_euclid(12), total.rem_euclid(12));
        let y = i32::try_from(y).unwrap_or(i32::MAX);
        let m = u32::try_from(m0 + 1).unwrap_or(1);
        let base = NaiveDate::from_ymd_opt(y, m, date.day()).unwrap_or_else(|| {
            // The day does not exist in that month: the first of the next.
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            NaiveDate::from_ymd_opt(ny, nm, 1).unwrap_or(NaiveDate::MAX)
        });
        base.checked_add_signed(Duration::days(
            i64::from(self.weeks) * 7 + i64::from(self.days),
        ))
        .unwrap_or(NaiveDate::MAX)
    }

    /// The words for "on or after" this age: "the 4th birthday", "age 6 months".
    pub fn birthday_words(self) -> String {
        if self.months == 0 && self.weeks == 0 && self.days == 0 {
            format!("the {} birthday", ordinal(self.years))
        } else {
            format!("age {self}")
        }
    }
}

impl fmt::Display for Age {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        let mut push = |n: u32, one: &str, many: &str| {
            if n > 0 {
                parts.push(format!("{n} {}", if n == 1 { one } else { many }));
            }
        };
        push(self.years, "year", "years");
        push(self.months, "month", "months");
        push(self.weeks, "week", "weeks");
        push(self.days, "day", "days");
        if parts.is_empty() {
            return f.write_str("0 days");
        }
        f.write_str(&parts.join(" "))
    }
}

/// 1st, 2nd, 3rd, 4th, 11th, 21st …
pub fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid literal")
    }

    #[test]
    fn parse_and_add() {
        assert_eq!(
            Age::parse("1y").expect("ok").after(d(2020, 3, 15)),
            d(2021, 3, 15)
        );
        assert_eq!(
            Age::parse("28d").expect("ok").after(d(2021, 2, 1)),
            d(2021, 3, 1)
        );
        assert_eq!(
            Age::parse("8w").expect("ok").after(d(2021, 1, 1)),
            d(2021, 2, 26)
        );
        assert_eq!(
            Age::parse("6m").expect("ok").after(d(2021, 8, 31)),
            d(2022, 3, 1)
        );
        assert_eq!(
            Age::parse("1y6m").expect("ok").after(d(2020, 1, 10)),
            d(2021, 7, 10)
        );
        // Leap-day birthdays: 1 March in common years (CDSi convention).
        assert_eq!(Age::years(1).after(d(2020, 2, 29)), d(2021, 3, 1));
        assert_eq!(Age::years(4).after(d(2020, 2, 29)), d(2024, 2, 29));
        for bad in ["", "y", "12", "3x", "1y2", "999y"] {
            assert!(Age::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Age::years(4).birthday_words(), "the 4th birthday");
        assert_eq!(ordinal(11), "11th");
        assert_eq!(ordinal(22), "22nd");
    }
}
