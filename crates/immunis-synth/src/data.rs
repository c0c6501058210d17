//! The embedded tables (names, towns, streets, vaccine products, VIS editions),
//! parsed once on first use. See `data/README.md` for sources.

use std::collections::HashMap;
use std::sync::OnceLock;

use chrono::NaiveDate;

use crate::rng::Weighted;
use crate::DataError;

/// An antigen (vaccine component) the schedule asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Antigen {
    HepB,
    Dtap,
    Ipv,
    Hib,
    Pcv,
    Ppsv,
    Rv,
    Mmr,
    Var,
    HepA,
    Tdap,
    Td,
    Hpv,
    MenAcwy,
    MenB,
    Flu,
    Covid,
    Zoster,
}

impl Antigen {
    pub fn parse(s: &str) -> Option<Antigen> {
        Some(match s {
            "HEPB" => Antigen::HepB,
            "DTAP" => Antigen::Dtap,
            "IPV" => Antigen::Ipv,
            "HIB" => Antigen::Hib,
            "PCV" => Antigen::Pcv,
            "PPSV" => Antigen::Ppsv,
            "RV" => Antigen::Rv,
            "MMR" => Antigen::Mmr,
            "VAR" => Antigen::Var,
            "HEPA" => Antigen::HepA,
            "TDAP" => Antigen::Tdap,
            "TD" => Antigen::Td,
            "HPV" => Antigen::Hpv,
            "MENACWY" => Antigen::MenAcwy,
            "MENB" => Antigen::MenB,
            "FLU" => Antigen::Flu,
            "COVID" => Antigen::Covid,
            "ZOSTER" => Antigen::Zoster,
            _ => return None,
        })
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// The "unspecified formulation" CVX senders use for historical doses whose
    /// product they do not know (`None`: senders keep the specific code).
    pub fn unspecified_cvx(self) -> Option<(&'static str, &'static str)> {
        Some(match self {
            Antigen::HepB => ("45", "Hep B, unspecified formulation"),
            Antigen::Dtap => ("107", "DTaP, unspecified formulation"),
            Antigen::Ipv => ("89", "polio, unspecified formulation"),
            Antigen::Hib => ("17", "Hib, unspecified formulation"),
            Antigen::Pcv => ("152", "Pneumococcal Conjugate, unspecified formulation"),
            Antigen::Rv => ("122", "rotavirus, unspecified formulation"),
            Antigen::HepA => ("85", "Hep A, unspecified formulation"),
            Antigen::Hpv => ("137", "HPV, unspecified formulation"),
            Antigen::MenAcwy => ("108", "meningococcal ACWY, unspecified formulation"),
            Antigen::Flu => ("88", "influenza, unspecified formulation"),
            Antigen::Covid => ("213", "SARS-COV-2 (COVID-19) vaccine, UNSPECIFIED"),
            Antigen::Zoster => ("188", "zoster, unspecified formulation"),
            _ => return None,
        })
    }
}

/// RXR-1 route of administration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Intramuscular,
    Subcutaneous,
    Oral,
    Nasal,
}

impl Route {
    fn parse(s: &str) -> Option<Route> {
        Some(match s {
            "IM" => Route::Intramuscular,
            "SC" => Route::Subcutaneous,
            "PO" => Route::Oral,
            "NS" => Route::Nasal,
            _ => return None,
        })
    }

    /// NCIT code and text (CDC IG preferred coding for RXR-1).
    pub fn ncit(self) -> (&'static str, &'static str) {
        match self {
            Route::Intramuscular => ("C28161", "Intramuscular"),
            Route::Subcutaneous => ("C38299", "Subcutaneous"),
            Route::Oral => ("C38288", "Oral"),
            Route::Nasal => ("C38284", "Nasal"),
        }
    }

    pub fn has_site(self) -> bool {
        matches!(self, Route::Intramuscular | Route::Subcutaneous)
    }
}

/// A vaccine product (one row of `products.csv`).
#[derive(Debug, Clone)]
pub struct Product {
    pub key: String,
    pub antigens: Vec<Antigen>,
    pub cvx: String,
    pub cvx_text: String,
    pub trade_name: String,
    pub mvx: String,
    pub mvx_name: String,
    pub amount: String,
    pub route: Route,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub min_age_days: i64,
    pub max_age_days: i64,
    /// One entry per VIS document; each entry lists alternative VIS keys.
    pub vis: Vec<Vec<String>>,
    /// Maximum doses of this product's antigen in the first year (Rotarix 2, PedvaxHIB 2).
    pub infant_doses: Option<u8>,
}

impl Product {
    pub fn available(&self, date: NaiveDate, age_days: i64) -> bool {
        self.from <= date
            && date <= self.to
            && self.min_age_days <= age_days
            && age_days <= self.max_age_days
    }
}

#[derive(Debug, Clone)]
pub struct VisEdition {
    pub edition: NaiveDate,
    pub gs1: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Surname {
    pub name: String,
    pub group: u8,
}

#[derive(Debug, Clone)]
pub struct Town {
    pub name: String,
    pub zips: Vec<String>,
    pub area_codes: Vec<String>,
    pub county: String,
}

/// Given names of one sex with weights for two birth eras.
#[derive(Debug, Clone, Default)]
pub struct GivenNames {
    pub names: Vec<String>,
    pub older: Weighted,
    pub newer: Weighted,
}

#[derive(Debug)]
pub struct Tables {
    pub surnames: Vec<Surname>,
    /// Weighted over all surnames, and per group `G`, `H`, `A`.
    pub surname_all: Weighted,
    pub surname_by_group: [Weighted; 3],
    pub male: GivenNames,
    pub female: GivenNames,
    pub nicknames: HashMap<String, Vec<String>>,
    pub towns: Vec<Town>,
    pub town_weights: Weighted,
    pub streets: Vec<String>,
    pub products: Vec<Product>,
    pub vis: HashMap<String, Vec<VisEdition>>,
}

impl Tables {
    /// The embedded tables, parsed once.
    pub fn embedded() -> Result<&'static Tables, DataError> {
        static TABLES: OnceLock<Result<Tables, DataError>> = OnceLock::new();
        TABLES
            .get_or_init(Tables::parse_embedded)
            .as_ref()
            .map_err(Clone::clone)
    }

    fn parse_embedded() -> Result<Tables, DataError> {
        let surnames_rows = parse_csv("surnames.csv", include_str!("../data/surnames.csv"))?;
        let mut surnames = Vec::new();
        let mut weights = Vec::new();
        for (line, r) in surnames_rows.iter().enumerate() {
            let name = field(r, 0, "surnames.csv", line)?;
            let weight =
                parse_num::<u64>(field(r, 1, "surnames.csv", line)?, "surnames.csv", line)?;
            let group = match field(r, 2, "surnames.csv", line)? {
                "G" => 0,
                "H" => 1,
                "A" => 2,
                other => return Err(bad("surnames.csv", line, format!("group {other:?}"))),
            };
            surnames.push(Surname {
                name: name.to_string(),
                group,
            });
            weights.push(weight);
        }
        let surname_all = Weighted::new(weights.iter().copied());
        let by_group = |g: u8| {
            Weighted::new(
                surnames
                    .iter()
                    .zip(&weights)
                    .map(|(s, &w)| if s.group == g { w } else { 0 }),
            )
        };
        let surname_by_group = [by_group(0), by_group(1), by_group(2)];

        let given_rows = parse_csv("given_names.csv", include_str!("../data/given_names.csv"))?;
        let (mut m, mut f) = (
            (Vec::new(), Vec::new(), Vec::new()),
            (Vec::new(), Vec::new(), Vec::new()),
        );
        for (line, r) in given_rows.iter().enumerate() {
            let t = "given_names.csv";
            let name = field(r, 0, t, line)?.to_string();
            let older = parse_num::<u64>(field(r, 2, t, line)?, t, line)?;
            let newer = parse_num::<u64>(field(r, 3, t, line)?, t, line)?;
            let target = match field(r, 1, t, line)? {
                "M" => &mut m,
                "F" => &mut f,
                other => return Err(bad(t, line, format!("sex {other:?}"))),
            };
            target.0.push(name);
            target.1.push(older);
            target.2.push(newer);
        }
        let given = |(names, older, newer): (Vec<String>, Vec<u64>, Vec<u64>)| GivenNames {
            names,
            older: Weighted::new(older),
            newer: Weighted::new(newer),
        };

        let mut nicknames = HashMap::new();
        for (line, r) in parse_csv("nicknames.csv", include_str!("../data/nicknames.csv"))?
            .iter()
            .enumerate()
        {
            let name = field(r, 0, "nicknames.csv", line)?;
            let nicks = field(r, 1, "nicknames.csv", line)?
                .split(';')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            nicknames.insert(name.to_string(), nicks);
        }

        let mut towns = Vec::new();
        let mut town_w = Vec::new();
        for (line, r) in parse_csv("towns.csv", include_str!("../data/towns.csv"))?
            .iter()
            .enumerate()
        {
            let t = "towns.csv";
            let split = |s: &str| s.split(';').map(str::to_string).collect::<Vec<_>>();
            let town = Town {
                name: field(r, 0, t, line)?.to_string(),
                zips: split(field(r, 1, t, line)?),
                area_codes: split(field(r, 2, t, line)?),
                county: field(r, 3, t, line)?.to_string(),
            };
            if town.zips.iter().any(|z| z.len() != 5)
                || town.area_codes.iter().any(|a| a.len() != 3)
            {
                return Err(bad(t, line, "zip or area code length".into()));
            }
            town_w.push(parse_num::<u64>(field(r, 4, t, line)?, t, line)?);
            towns.push(town);
        }

        let streets = parse_csv("streets.csv", include_str!("../data/streets.csv"))?
            .into_iter()
            .filter_map(|r| r.into_iter().next())
            .collect::<Vec<_>>();

        let mut products = Vec::new();
        let mut product_keys = std::collections::HashSet::new();
        for (line, r) in parse_csv("products.csv", include_str!("../data/products.csv"))?
            .iter()
            .enumerate()
        {
            let t = "products.csv";
            let g = |i: usize| field(r, i, t, line);
            let antigens = g(1)?
                .split(';')
                .map(|a| Antigen::parse(a).ok_or_else(|| bad(t, line, format!("antigen {a:?}"))))
                .collect::<Result<Vec<_>, _>>()?;
            let vis = g(13)?
                .split(';')
                .filter(|s| !s.is_empty())
                .map(|doc| doc.split('|').map(str::to_string).collect())
                .collect();
            let infant_doses = match g(14)? {
                "" => None,
                n => Some(parse_num::<u8>(n, t, line)?),
            };
            let p = Product {
                key: g(0)?.to_string(),
                antigens,
                cvx: g(2)?.to_string(),
                cvx_text: g(3)?.to_string(),
                trade_name: g(4)?.to_string(),
                mvx: g(5)?.to_string(),
                mvx_name: g(6)?.to_string(),
                amount: g(7)?.to_string(),
                route: Route::parse(g(8)?).ok_or_else(|| bad(t, line, "route".into()))?,
                from: parse_date(g(9)?, t, line)?,
                to: parse_date(g(10)?, t, line)?,
                min_age_days: parse_num(g(11)?, t, line)?,
                max_age_days: parse_num(g(12)?, t, line)?,
                vis,
                infant_doses,
            };
            if !product_keys.insert(p.key.clone()) {
                return Err(bad(t, line, format!("duplicate key {}", p.key)));
            }
            products.push(p);
        }

        let mut vis: HashMap<String, Vec<VisEdition>> = HashMap::new();
        for (line, r) in parse_csv("vis.csv", include_str!("../data/vis.csv"))?
            .iter()
            .enumerate()
        {
            let t = "vis.csv";
            vis.entry(field(r, 0, t, line)?.to_string())
                .or_default()
                .push(VisEdition {
                    edition: parse_date(field(r, 1, t, line)?, t, line)?,
                    gs1: field(r, 2, t, line)?.to_string(),
                    name: field(r, 3, t, line)?.to_string(),
                });
        }
        for eds in vis.values_mut() {
            eds.sort_by_key(|e| e.edition);
        }
        for p in &products {
            for key in p.vis.iter().flatten() {
                if !vis.contains_key(key) {
                    return Err(bad(
                        "products.csv",
                        0,
                        format!("{} names unknown VIS key {key}", p.key),
                    ));
                }
            }
        }

        Ok(Tables {
            surnames,
            surname_all,
            surname_by_group,
            male: given(m),
            female: given(f),
            nicknames,
            towns,
            town_weights: Weighted::new(town_w),
            streets,
            products,
            vis,
        })
    }

    /// The VIS edition in force on `date` for one document (latest edition not
    /// after the date, across the alternatives); `None` if none was published yet.
    pub fn vis_edition(&self, alternatives: &[String], date: NaiveDate) -> Option<&VisEdition> {
        alternatives
            .iter()
            .filter_map(|k| self.vis.get(k))
            .flat_map(|eds| eds.iter().rfind(|e| e.edition <= date))
            .max_by_key(|e| e.edition)
    }
}

fn bad(table: &'static str, line: usize, reason: String) -> DataError {
    DataError {
        table,
        line: line + 2,
        reason,
    }
}

fn field<'a>(
    row: &'a [String],
    i: usize,
    table: &'static str,
    line: usize,
) -> Result<&'a str, DataError> {
    row.get(i)
        .map(String::as_str)
        .ok_or_else(|| bad(table, line, format!("missing column {}", i + 1)))
}

fn parse_num<T: std::str::FromStr>(
    s: &str,
    table: &'static str,
    line: usize,
) -> Result<T, DataError> {
    s.trim()
        .parse()
        .map_err(|_| bad(table, line, format!("not a number: {s:?}")))
}

fn parse_date(s: &str, table: &'static str, line: usize) -> Result<NaiveDate, DataError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| bad(table, line, format!("bad date {s:?}")))
}

/// Parses a small RFC 4180 CSV (quoted fields, `""` escapes, no embedded line
/// breaks), skipping the header row and blank lines.
pub fn parse_csv(table: &'static str, text: &str) -> Result<Vec<Vec<String>>, DataError> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let mut row = Vec::new();
        let mut cur = String::new();
        let mut chars = line.chars().peekable();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            match (c, quoted) {
                ('"', false) if cur.is_empty() => quoted = true,
                ('"', true) => {
                    if chars.peek() == Some(&'"') {
                        cur.push('"');
                        chars.next();
                    } else {
                        quoted = false;
                    }
                }
                (',', false) => row.push(std::mem::take(&mut cur)),
                (c, _) => cur.push(c),
            }
        }
        if quoted {
            return Err(bad(table, i - 1, "unterminated quote".into()));
        }
        row.push(cur);
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_handles_quotes() {
        let rows = parse_csv("t", "h1,h2\na,\"b, \"\"c\"\"\"\n\n").expect("parses");
        assert_eq!(rows, vec![vec!["a".to_string(), "b, \"c\"".to_string()]]);
        assert!(parse_csv("t", "h\n\"open\n").is_err());
    }

    #[test]
    fn embedded_tables_load() {
        let t = Tables::embedded().expect("embedded tables parse");
        assert!(t.surnames.len() > 300);
        assert!(t.male.names.len() > 100 && t.female.names.len() > 100);
        assert!(t.towns.len() > 80);
        assert!(t.products.len() > 60);
        let smith = t
            .surnames
            .iter()
            .position(|s| s.name == "Smith")
            .expect("Smith");
        assert_eq!(smith, 0, "Smith is the most common surname");
        // Every product's antigens parse and its VIS documents exist.
        for p in &t.products {
            assert!(!p.antigens.is_empty());
            assert!(p.from <= p.to, "{}", p.key);
        }
    }

    #[test]
    fn vis_edition_picks_latest_not_after_date() {
        let t = Tables::embedded().expect("tables");
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("date");
        let alts = vec!["PCV13".to_string(), "PCV".to_string()];
        let e = t.vis_edition(&alts, d(2024, 1, 1)).expect("edition");
        assert_eq!(e.edition, d(2023, 5, 12));
        let e = t.vis_edition(&alts, d(2015, 1, 1)).expect("edition");
        assert_eq!(e.edition, d(2013, 2, 27));
        assert!(t
            .vis_edition(&["COVID".to_string()], d(2022, 1, 1))
            .is_none());
    }
}
