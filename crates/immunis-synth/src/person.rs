//! Synthetic people: households (birth date, parents, residences, coverage),
//! their members (twins and triplets share a household), and each facility's
//! imperfect view of a member's demographics.

use chrono::{Datelike, NaiveDate};

use crate::data::{GivenNames, Tables};
use crate::facility::{coprime10, permute, width_for, Facility};
use crate::rng::{Rng, Weighted};
use crate::schedule::{add_days, birthday, Compliance};
use crate::{SynthConfig, Variation};
use immunis_model::Sex;

pub(crate) struct Parent {
    pub given: String,
    pub family: String,
}

#[derive(Clone)]
pub(crate) struct Residence {
    pub from: NaiveDate,
    pub street: String,
    pub street2: Option<String>,
    pub town: usize,
    pub zip: String,
    /// Ten digits.
    pub phone: String,
    pub mobile: bool,
}

pub(crate) struct Household {
    pub birth: NaiveDate,
    pub family: String,
    pub mother: Parent,
    pub mother_maiden: String,
    pub father: Option<Parent>,
    pub race: (&'static str, &'static str),
    pub ethnicity: (&'static str, &'static str),
    pub residences: Vec<Residence>,
    pub born_here: bool,
    /// VFC eligibility code and text for childhood doses.
    pub vfc: (&'static str, &'static str),
    pub medicaid: bool,
    pub protection: bool,
    pub publicity: (&'static str, &'static str),
    pub compliance: Compliance,
    pub propensity: f64,
    pub refuses: Vec<crate::data::Antigen>,
}

pub(crate) struct Member {
    pub key: u64,
    pub sex: Sex,
    pub given: String,
    pub middle: Option<String>,
    pub suffix: Option<String>,
    /// Birth order within a multiple birth.
    pub order: Option<u8>,
    pub birth_cert: Option<String>,
    pub medicaid_id: Option<String>,
}

/// One facility's record of a member.
#[derive(Clone)]
pub(crate) struct View {
    pub family: String,
    pub given: String,
    pub middle: Option<String>,
    pub suffix: Option<String>,
    pub birth: NaiveDate,
    pub variations: Vec<Variation>,
    pub send_mmn: bool,
    pub send_race: bool,
    pub send_bc: bool,
    pub send_medicaid: bool,
    pub send_father: bool,
}

impl Household {
    pub fn residence_on(&self, d: NaiveDate) -> Option<&Residence> {
        self.residences
            .iter()
            .rev()
            .find(|r| r.from <= d)
            .or(self.residences.first())
    }
}

fn surname(rng: &mut Rng, t: &Tables, group: usize) -> String {
    let w = if rng.chance(0.85) {
        t.surname_by_group.get(group).unwrap_or(&t.surname_all)
    } else {
        &t.surname_all
    };
    w.sample(rng)
        .and_then(|i| t.surnames.get(i))
        .map(|s| s.name.clone())
        .unwrap_or_else(|| "Smith".to_string())
}

/// A given name for someone born in `year`: the two eras' weights are blended.
fn given(rng: &mut Rng, names: &GivenNames, year: i32) -> String {
    let newer_share = f64::from((year - 1975).clamp(0, 35)) / 35.0;
    let w: &Weighted = if rng.chance(newer_share) {
        &names.newer
    } else {
        &names.older
    };
    w.sample(rng)
        .and_then(|i| names.names.get(i))
        .cloned()
        .unwrap_or_else(|| "Alex".to_string())
}

pub(crate) fn given_for(rng: &mut Rng, t: &Tables, sex: Sex, year: i32) -> String {
    match sex {
        Sex::Female => given(rng, &t.female, year),
        _ => given(rng, &t.male, year),
    }
}

/// Age in years, weighted like a statewide population (fewer old people).
fn draw_age(rng: &mut Rng) -> i64 {
    static W: std::sync::OnceLock<Weighted> = std::sync::OnceLock::new();
    let w = W.get_or_init(|| {
        Weighted::new((0..100u64).map(|a| match a {
            0..=17 => 12,
            18..=64 => 13,
            65..=74 => 11,
            75..=84 => 6,
            _ => 2,
        }))
    });
    w.sample(rng).unwrap_or(30) as i64
}

fn phone(rng: &mut Rng, t: &Tables, town: usize) -> String {
    let area = t
        .towns
        .get(town)
        .and_then(|tw| {
            let i = rng.below(tw.area_codes.len() as u64) as usize;
            tw.area_codes.get(i)
        })
        .map(String::as_str)
        .unwrap_or("617");
    // Exchange 200–999 except N11 and 555.
    let mut exch = rng.range(200, 999);
    if exch % 100 == 11 || exch == 555 {
        exch += 1;
    }
    format!("{area}{exch:03}{:04}", rng.below(10_000))
}

fn residence(rng: &mut Rng, t: &Tables, from: NaiveDate, near: Option<usize>) -> Residence {
    let town = match near {
        Some(tw) if rng.chance(0.35) => tw,
        _ => t.town_weights.sample(rng).unwrap_or(0),
    };
    let zip = t
        .towns
        .get(town)
        .and_then(|tw| tw.zips.get(rng.below(tw.zips.len() as u64) as usize))
        .cloned()
        .unwrap_or_else(|| "02108".to_string());
    let street = t
        .streets
        .get(rng.below(t.streets.len() as u64) as usize)
        .map(String::as_str)
        .unwrap_or("Main St");
    let number = 1 + rng.exp(120.0) as u64;
    let street2 = if rng.chance(0.25) {
        Some(match rng.below(3) {
            0 => format!("Apt {}", 1 + rng.below(30)),
            1 => format!("Unit {}", 1 + rng.below(12)),
            _ => format!(
                "# {}{}",
                1 + rng.below(4),
                char::from(b'A' + rng.below(4) as u8)
            ),
        })
    } else {
        None
    };
    Residence {
        from,
        street: format!("{number} {street}"),
        street2,
        town,
        zip,
        phone: phone(rng, t, town),
        mobile: rng.chance(0.6),
    }
}

const RACES: [(&str, &str, u64); 6] = [
    ("2106-3", "White", 700),
    ("2054-5", "Black or African-American", 90),
    ("2028-9", "Asian", 75),
    ("1002-5", "American Indian or Alaska Native", 5),
    ("2076-8", "Native Hawaiian or Other Pacific Islander", 2),
    ("2131-1", "Other Race", 128),
];

/// Draws a household (the shared part of a single birth or a multiple birth).
pub(crate) fn household(rng: &mut Rng, cfg: &SynthConfig, t: &Tables) -> Household {
    let age = draw_age(rng);
    let birth =
        add_days(birthday(cfg.today, -(age as i32)), -(rng.below(365) as i64)).min(cfg.today);
    let race_w = Weighted::new(RACES.iter().map(|r| r.2));
    let race = RACES
        .get(race_w.sample(rng).unwrap_or(0))
        .map(|r| (r.0, r.1))
        .unwrap_or(("2106-3", "White"));
    let hispanic = rng.chance(if race.0 == "2131-1" { 0.7 } else { 0.06 });
    let ethnicity = if hispanic {
        ("2135-2", "Hispanic or Latino")
    } else {
        ("2186-5", "Not Hispanic or Latino")
    };
    let group = if hispanic {
        1
    } else if race.0 == "2028-9" {
        2
    } else {
        0
    };
    let parent_year = birth.year() - 28;
    let mother_maiden = surname(rng, t, group);
    let father_family = surname(rng, t, group);
    let married = rng.chance(0.65);
    let mother_family = if married {
        father_family.clone()
    } else {
        mother_maiden.clone()
    };
    let family = if married {
        if rng.chance(0.05) && father_family != mother_maiden {
            format!("{father_family}-{mother_maiden}")
        } else {
            father_family.clone()
        }
    } else if rng.chance(0.6) {
        mother_maiden.clone()
    } else {
        father_family.clone()
    };
    let mother = Parent {
        given: given(rng, &t.female, parent_year),
        family: mother_family,
    };
    let father = if married || rng.chance(0.3) {
        Some(Parent {
            given: given(rng, &t.male, parent_year - 2),
            family: father_family,
        })
    } else {
        None
    };

    let start = birth.max(cfg.history_start);
    let first = residence(rng, t, birth, None);
    let mut residences = vec![first];
    if rng.chance(cfg.move_rate) {
        let lo = add_days(start, 180);
        let hi = add_days(cfg.today, -30);
        if lo < hi {
            let span = (hi - lo).num_days();
            let mut d = add_days(lo, rng.below(span as u64) as i64);
            let moves = if rng.chance(0.25) { 2 } else { 1 };
            for _ in 0..moves {
                if d >= hi {
                    break;
                }
                let prev_town = residences.last().map(|r| r.town);
                let mut next = residence(rng, t, d, prev_town);
                if let Some(prev) = residences.last() {
                    if rng.chance(0.2) && prev.mobile {
                        // Kept the mobile number across the move.
                        next.phone = prev.phone.clone();
                        next.mobile = true;
                    }
                }
                residences.push(next);
                d = add_days(d, 200 + rng.below(900) as i64);
            }
        }
    }

    let medicaid = rng.chance(cfg.medicaid_rate);
    let vfc = if race.0 == "1002-5" {
        ("V04", "VFC eligible - American Indian/Alaskan Native")
    } else if medicaid {
        ("V02", "VFC eligible - Medicaid/Medicaid Managed Care")
    } else if rng.chance(0.03) {
        ("V03", "VFC eligible - Uninsured")
    } else if rng.chance(0.02) {
        ("V05", "VFC eligible - Underinsured")
    } else {
        ("V01", "Not VFC eligible")
    };
    let publicity = match rng.below(100) {
        0..=84 => ("02", "Reminder/Recall - any method"),
        85..=94 => ("01", "No reminder/recall"),
        _ => ("03", "Reminder/Recall - no calls"),
    };
    let refuses = if rng.chance(cfg.refusal_rate) {
        use crate::data::Antigen as A;
        let pool = [
            A::Mmr,
            A::Var,
            A::Hpv,
            A::Flu,
            A::Covid,
            A::HepB,
            A::Rv,
            A::HepA,
        ];
        let mut r: Vec<A> = pool.iter().copied().filter(|_| rng.chance(0.4)).collect();
        if r.is_empty() {
            r.push(A::Mmr);
        }
        r
    } else {
        Vec::new()
    };
    Household {
        birth,
        family,
        mother,
        mother_maiden,
        father,
        race,
        ethnicity,
        residences,
        born_here: rng.chance(0.8),
        vfc,
        medicaid,
        protection: rng.chance(cfg.protection_rate),
        publicity,
        compliance: Compliance::draw(rng),
        propensity: rng.f64(),
        refuses,
    }
}

/// Identifier namespaces shared by the whole population (bijective, so unique).
pub(crate) struct IdSpace {
    bc_mul: u64,
    bc_add: u64,
    bc_mod: u64,
    bc_width: usize,
    ma_mul: u64,
    ma_add: u64,
}

impl IdSpace {
    pub fn new(seed: u64, people: u64) -> IdSpace {
        let mut r = Rng::derive(seed, 0x1D5, 0);
        let bc_width = width_for(people.saturating_add(1), 6);
        let bc_mod = 10u64.saturating_pow(bc_width as u32);
        IdSpace {
            bc_mul: coprime10(r.next_u64() % bc_mod),
            bc_add: r.next_u64() % bc_mod,
            bc_mod,
            bc_width,
            ma_mul: coprime10(r.next_u64() % 100_000_000_000),
            ma_add: r.next_u64() % 100_000_000_000,
        }
    }

    fn birth_cert(&self, key: u64, year: i32) -> String {
        let v = permute(key, self.bc_mul, self.bc_add, self.bc_mod);
        format!("{year}{v:0w$}", w = self.bc_width)
    }

    fn medicaid(&self, key: u64) -> String {
        let v = permute(key, self.ma_mul, self.ma_add, 100_000_000_000);
        format!("1{v:011}")
    }
}

pub(crate) fn member(
    rng: &mut Rng,
    t: &Tables,
    hh: &Household,
    ids: &IdSpace,
    key: u64,
    order: Option<u8>,
    taken: &[String],
) -> Member {
    let sex = if rng.chance(0.49) {
        Sex::Female
    } else if rng.chance(0.998) {
        Sex::Male
    } else {
        Sex::Unknown
    };
    let year = hh.birth.year();
    let mut g = given_for(rng, t, sex, year);
    for _ in 0..5 {
        if !taken.contains(&g) {
            break;
        }
        g = given_for(rng, t, sex, year);
    }
    let middle = if rng.chance(0.75) {
        let m = given_for(rng, t, sex, year - 30);
        (m != g).then_some(m)
    } else {
        None
    };
    let suffix = if sex == Sex::Male && order.is_none() && rng.chance(0.02) {
        Some(if rng.chance(0.8) { "JR" } else { "III" }.to_string())
    } else {
        None
    };
    Member {
        key,
        sex,
        given: g,
        middle,
        suffix,
        order,
        birth_cert: hh.born_here.then(|| ids.birth_cert(key, year)),
        medicaid_id: hh.medicaid.then(|| ids.medicaid(key)),
    }
}

fn transpose(rng: &mut Rng, s: &str) -> Option<String> {
    let chars: Vec<char> = s.chars().collect();
    let candidates: Vec<usize> = (1..chars.len().saturating_sub(1))
        .filter(|&i| {
            chars.get(i).is_some_and(|c| c.is_ascii_alphabetic())
                && chars.get(i + 1).is_some_and(|c| c.is_ascii_alphabetic())
                && chars.get(i) != chars.get(i + 1)
        })
        .collect();
    let i = *rng.pick(&candidates)?;
    let mut out = chars;
    out.swap(i, i + 1);
    Some(out.into_iter().collect())
}

fn drop_letter(rng: &mut Rng, s: &str) -> Option<String> {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() < 4 {
        return None;
    }
    let i = rng.range(1, chars.len() as i64 - 1) as usize;
    if !chars.get(i).is_some_and(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let mut out = chars;
    out.remove(i);
    Some(out.into_iter().collect())
}

#[derive(Clone, Copy)]
enum Typo {
    Nickname,
    Transposition,
    Dropped,
    Hyphen,
    Swap,
    OffByOne,
}

const TYPOS: [(Typo, u64); 6] = [
    (Typo::Nickname, 25),
    (Typo::Transposition, 20),
    (Typo::Dropped, 12),
    (Typo::Hyphen, 13),
    (Typo::Swap, 12),
    (Typo::OffByOne, 18),
];

/// Applies one typo; `false` if it does not apply to this person.
fn apply_typo(rng: &mut Rng, t: &Tables, v: &mut View, mother_maiden: &str, typo: Typo) -> bool {
    match typo {
        Typo::Nickname => {
            let Some(nicks) = t.nicknames.get(&v.given) else {
                return false;
            };
            let Some(n) = rng.pick(nicks) else {
                return false;
            };
            v.given = n.clone();
            v.variations.push(Variation::Nickname);
        }
        Typo::Transposition | Typo::Dropped => {
            let on_given = rng.chance(0.55);
            let target = if on_given { &v.given } else { &v.family };
            let changed = match typo {
                Typo::Transposition => transpose(rng, target),
                _ => drop_letter(rng, target),
            };
            let Some(c) = changed else { return false };
            if on_given {
                v.given = c;
            } else {
                v.family = c;
            }
            v.variations.push(match typo {
                Typo::Transposition => Variation::Transposition,
                _ => Variation::DroppedLetter,
            });
        }
        Typo::Hyphen => {
            if let Some((a, b)) = v.family.split_once('-') {
                v.family = if rng.chance(0.7) { a } else { b }.to_string();
            } else if !mother_maiden.is_empty() && mother_maiden != v.family {
                v.family = format!("{}-{}", v.family, mother_maiden);
            } else {
                return false;
            }
            v.variations.push(Variation::Hyphenation);
        }
        Typo::Swap => {
            let (d, m) = (v.birth.day(), v.birth.month());
            if d > 12 || d == m {
                return false;
            }
            let Some(sw) = NaiveDate::from_ymd_opt(v.birth.year(), d, m) else {
                return false;
            };
            v.birth = sw;
            v.variations.push(Variation::BirthDayMonthSwap);
        }
        Typo::OffByOne => {
            v.birth = add_days(v.birth, if rng.chance(0.5) { 1 } else { -1 });
            v.variations.push(Variation::BirthDateOffByOne);
        }
    }
    true
}

/// How `fac` recorded `m`: mostly right, sometimes not (see [`Variation`]).
pub(crate) fn view(
    rng: &mut Rng,
    cfg: &SynthConfig,
    t: &Tables,
    hh: &Household,
    m: &Member,
    fac: &Facility,
    birth_hospital: bool,
) -> View {
    let mut v = View {
        family: hh.family.clone(),
        given: m.given.clone(),
        middle: m.middle.clone(),
        suffix: m.suffix.clone(),
        birth: hh.birth,
        variations: Vec::new(),
        send_mmn: rng.chance(0.85),
        send_race: rng.chance(0.9),
        send_bc: birth_hospital || rng.chance(0.3),
        send_medicaid: rng.chance(0.7),
        send_father: rng.chance(0.6),
    };
    if birth_hospital && rng.chance(cfg.newborn_name_rate) {
        let sex = match m.sex {
            Sex::Female => "GIRL",
            Sex::Male => "BOY",
            _ => "",
        };
        v.given = match m.order {
            Some(o) => format!(
                "BABY {sex} {}",
                char::from(b'A' + o.saturating_sub(1).min(25))
            ),
            None => format!("BABY {sex}"),
        }
        .replace("  ", " ");
        v.middle = None;
        v.variations.push(Variation::NewbornPlaceholder);
    } else {
        if v.middle.is_some() && rng.chance(cfg.missing_middle_rate) {
            v.middle = None;
            v.variations.push(Variation::MissingMiddle);
        }
        if rng.chance(cfg.typo_rate) {
            let w = Weighted::new(TYPOS.iter().map(|x| x.1));
            let mut applied = 0;
            let mut used = 0u8;
            for attempt in 0..6 {
                let typo = match attempt {
                    0..=2 => TYPOS.get(w.sample(rng).unwrap_or(1)).map(|x| x.0),
                    _ => Some(Typo::OffByOne),
                };
                if let Some(typo) = typo {
                    // One typo of each kind at most (a second one could undo the first).
                    let kind = typo as u8;
                    if used & (1 << kind) != 0 {
                        continue;
                    }
                    if apply_typo(rng, t, &mut v, &hh.mother_maiden, typo) {
                        used |= 1 << kind;
                        applied += 1;
                        if applied >= 2 || !rng.chance(0.15) {
                            break;
                        }
                    }
                }
            }
        }
    }
    if rng.chance(cfg.delimiter_rate) {
        v.family = match rng.below(3) {
            0 => format!("{} & {}", v.family, hh.mother_maiden),
            1 => format!("{}^", v.family),
            _ => format!("{}\\{}", v.family, hh.mother_maiden),
        };
        v.variations.push(Variation::DelimiterInName);
    }
    if fac.uppercase {
        v.family = v.family.to_uppercase();
        v.given = v.given.to_uppercase();
        v.middle = v.middle.map(|s| s.to_uppercase());
    }
    v
}
