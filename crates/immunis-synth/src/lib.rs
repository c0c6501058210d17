//! Deterministic synthetic population and VXU^V04 traffic for Immunis.
//!
//! [`Generator`] turns a [`SynthConfig`] (people, seed, "today", rates) into a
//! stream of [`SynthPerson`]s: the true demographics (an
//! [`immunis_model::Patient`]), the true doses, and the HL7 v2.5.1 VXU^V04
//! (CDC IG Z22) messages that the person's providers would have sent to the
//! registry over the years — with the mess real registries see: nicknames,
//! transpositions, hyphenated surnames, missing middle names, swapped birth
//! day/month, twins and triplets, moves to new addresses and providers,
//! historical re-reports of earlier doses, refusals, re-sends and updates.
//!
//! Everything is synthetic (see `data/README.md`) and derived from the seed
//! only: the library never reads the clock, the environment or files. The same
//! config gives the same bytes on every machine.
//!
//! # Output format of [`write_population`]
//! * HL7 stream: messages one after another; every segment ends with `\r`
//!   (HL7's segment terminator) and every message is followed by one `\n`
//!   (so `split('\n')` yields messages and each message is a valid CR-separated
//!   HL7 message). Messages are ordered by person, then by message time.
//! * Ground truth: CSV with header
//!   `message_control_id,person_key,facility,twin_group,kind,variations` — one
//!   row per message; `twin_group` is empty for single births; `kind` is
//!   `visit`, `duplicate` or `update`; `variations` lists the deliberate
//!   demographic deviations in that message (`;`-separated, see [`Variation`]).
//!
//! # Example
//! ```
//! use chrono::NaiveDate;
//! use immunis_synth::{write_population, Generator, SynthConfig};
//!
//! let today = NaiveDate::from_ymd_opt(2025, 6, 30).expect("date");
//! let mut config = SynthConfig::new(20, 7, today);
//! config.twin_rate = 0.1;
//! for person in Generator::new(config.clone()).expect("valid config") {
//!     assert!(person.messages.iter().all(|m| m.hl7.starts_with("MSH|^~\\&|")));
//! }
//! let (mut hl7, mut truth) = (Vec::new(), Vec::new());
//! let stats = write_population(&config, &mut hl7, &mut truth).expect("in-memory write");
//! assert_eq!(stats.people, 20);
//! ```
//!
//! # Determinism
//! Output depends only on the config. The random source is an in-crate
//! SplitMix64; delays use `f64::ln`, so bit-identical output across different
//! platforms' math libraries is expected but not formally guaranteed (on one
//! platform it is).
#![forbid(unsafe_code)]

mod data;
mod facility;
mod generator;
pub mod hl7;
mod message;
mod person;
pub mod rng;
mod schedule;

use std::io::{BufWriter, Write};

use chrono::{Datelike, NaiveDate};

pub use facility::{FacilityKind, SynthFacility};
pub use generator::Generator;

/// An embedded table is malformed (a build defect, reported rather than panicking).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("embedded table {table} line {line}: {reason}")]
pub struct DataError {
    pub table: &'static str,
    pub line: usize,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("write failed: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T> = std::result::Result<T, SynthError>;

/// What to generate. Build with [`SynthConfig::new`] and adjust the public fields.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthConfig {
    /// Number of people to generate.
    pub people: u64,
    pub seed: u64,
    /// Number of provider facilities (codes `MA0001`…).
    pub facilities: u32,
    /// The generation date: nothing happens after it. Passed in, never read from a clock.
    pub today: NaiveDate,
    /// Oldest dose date reported (default: `today` − 20 years).
    pub history_start: NaiveDate,
    /// Adult doses (age ≥ 19) are reported only for this many years before `today`.
    pub adult_history_years: u32,
    /// Fraction of births that are twins.
    pub twin_rate: f64,
    /// Fraction of births that are triplets.
    pub triplet_rate: f64,
    /// Probability that a facility's record of a person carries a typo-like
    /// variation (nickname, transposition, dropped letter, hyphenation, birth
    /// date swap or off-by-one).
    pub typo_rate: f64,
    /// Probability that a facility does not record the middle name.
    pub missing_middle_rate: f64,
    /// Probability that a birth hospital reports a newborn as "BABY BOY/GIRL".
    pub newborn_name_rate: f64,
    /// Probability that a person moves (new address/phone, often a new provider).
    pub move_rate: f64,
    /// Probability that a person changes provider without moving.
    pub provider_change_rate: f64,
    /// Probability that a new provider re-reports earlier doses as historical.
    pub historical_rate: f64,
    /// Probability that a message is sent twice (new control id).
    pub duplicate_rate: f64,
    /// Probability that an administered dose is later re-sent as an update (RXA-21=U).
    pub update_rate: f64,
    /// Fraction of families that refuse some vaccines (RXA-20=RE).
    pub refusal_rate: f64,
    /// Fraction of people who object to data sharing (PD1-12=Y).
    pub protection_rate: f64,
    /// Fraction of children covered by Medicaid (MassHealth id, VFC V02).
    pub medicaid_rate: f64,
    /// Probability that a facility's record has an HL7 delimiter typed into a
    /// name (`&`, `^`, `\`), which senders must escape.
    pub delimiter_rate: f64,
}

impl SynthConfig {
    /// Defaults tuned to look like statewide registry traffic.
    pub fn new(people: u64, seed: u64, today: NaiveDate) -> SynthConfig {
        let history_start = NaiveDate::from_ymd_opt(today.year() - 20, 1, 1).unwrap_or(today);
        SynthConfig {
            people,
            seed,
            facilities: 40,
            today,
            history_start,
            adult_history_years: 8,
            twin_rate: 0.03,
            triplet_rate: 0.001,
            typo_rate: 0.08,
            missing_middle_rate: 0.25,
            newborn_name_rate: 0.2,
            move_rate: 0.15,
            provider_change_rate: 0.08,
            historical_rate: 0.75,
            duplicate_rate: 0.02,
            update_rate: 0.01,
            refusal_rate: 0.03,
            protection_rate: 0.005,
            medicaid_rate: 0.3,
            delimiter_rate: 0.0005,
        }
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(SynthError::Config(m));
        if self.facilities == 0 || self.facilities > 9999 {
            return bad(format!(
                "facilities must be 1..=9999, got {}",
                self.facilities
            ));
        }
        if !(1900..=2200).contains(&self.today.year()) {
            return bad(format!("today {} outside 1900..=2200", self.today));
        }
        if self.history_start > self.today || self.history_start.year() < 1900 {
            return bad(format!(
                "history_start {} must be in 1900..=today",
                self.history_start
            ));
        }
        if self.people > (1 << 40) {
            return bad("people must be below 2^40".to_string());
        }
        let rates = [
            ("twin_rate", self.twin_rate),
            ("triplet_rate", self.triplet_rate),
            ("typo_rate", self.typo_rate),
            ("missing_middle_rate", self.missing_middle_rate),
            ("newborn_name_rate", self.newborn_name_rate),
            ("move_rate", self.move_rate),
            ("provider_change_rate", self.provider_change_rate),
            ("historical_rate", self.historical_rate),
            ("duplicate_rate", self.duplicate_rate),
            ("update_rate", self.update_rate),
            ("refusal_rate", self.refusal_rate),
            ("protection_rate", self.protection_rate),
            ("medicaid_rate", self.medicaid_rate),
            ("delimiter_rate", self.delimiter_rate),
        ];
        for (name, v) in rates {
            if !(0.0..=1.0).contains(&v) {
                return bad(format!("{name} must be within 0..=1, got {v}"));
            }
        }
        if self.twin_rate + self.triplet_rate > 1.0 {
            return bad("twin_rate + triplet_rate must not exceed 1".to_string());
        }
        Ok(())
    }
}

/// A deliberate deviation of a message's demographics from the truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variation {
    /// Given name replaced by a nickname (Robert → Bob).
    Nickname,
    /// Two adjacent letters of the given or family name swapped.
    Transposition,
    /// One letter of the given or family name dropped.
    DroppedLetter,
    /// Family name hyphenated with the mother's maiden name, or a hyphenated name cut to one part.
    Hyphenation,
    /// Middle name not recorded.
    MissingMiddle,
    /// Birth date with day and month swapped.
    BirthDayMonthSwap,
    /// Birth date one day off.
    BirthDateOffByOne,
    /// Newborn reported as "BABY BOY"/"BABY GIRL" by the birth hospital.
    NewbornPlaceholder,
    /// An HL7 delimiter typed into a name (escaped on the wire).
    DelimiterInName,
}

impl Variation {
    pub fn as_str(self) -> &'static str {
        match self {
            Variation::Nickname => "nickname",
            Variation::Transposition => "transposition",
            Variation::DroppedLetter => "dropped_letter",
            Variation::Hyphenation => "hyphenation",
            Variation::MissingMiddle => "missing_middle",
            Variation::BirthDayMonthSwap => "dob_day_month_swap",
            Variation::BirthDateOffByOne => "dob_off_by_one",
            Variation::NewbornPlaceholder => "newborn_placeholder",
            Variation::DelimiterInName => "delimiter_in_name",
        }
    }

    /// Counts toward [`SynthConfig::typo_rate`] (the other kinds have their own rates).
    pub fn is_typo(self) -> bool {
        !matches!(
            self,
            Variation::MissingMiddle | Variation::NewbornPlaceholder | Variation::DelimiterInName
        )
    }
}

/// Why a message was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// A visit's report (new administrations, refusals, maybe historical doses).
    Visit,
    /// The same content sent again under a new control id.
    Duplicate,
    /// A later correction of an administered dose (same ORC-3, RXA-21=U).
    Update,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Visit => "visit",
            MessageKind::Duplicate => "duplicate",
            MessageKind::Update => "update",
        }
    }
}

/// One generated VXU^V04 message.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthMessage {
    /// Sending facility code (MSH-4).
    pub facility: String,
    /// MSH-10.
    pub control_id: String,
    pub kind: MessageKind,
    pub sent: NaiveDate,
    /// Deliberate demographic deviations in this message.
    pub variations: Vec<Variation>,
    /// The message: segments terminated by `\r`.
    pub hl7: String,
}

/// A dose (or refusal) as it really happened.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthDose {
    pub date: NaiveDate,
    pub cvx: String,
    pub trade_name: String,
    /// Administering facility code.
    pub facility: String,
    /// ORC-3 filler order number used by the administering facility (`9999` for refusals).
    pub filler_order: String,
    pub refused: bool,
}

/// One synthetic person with the truth and the messages about them.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthPerson {
    /// The true person key (unique, 1-based, in generation order).
    pub key: u64,
    /// Shared by the members of a twin/triplet set.
    pub twin_group: Option<u64>,
    /// The true demographics (current address and phone first).
    pub patient: immunis_model::Patient,
    pub doses: Vec<SynthDose>,
    pub messages: Vec<SynthMessage>,
}

/// Totals of a [`write_population`] run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SynthStats {
    pub people: u64,
    pub messages: u64,
    pub administered_doses: u64,
    pub refusals: u64,
    pub twin_people: u64,
    pub hl7_bytes: u64,
}

/// Generates the population of `config` and writes the HL7 stream to `hl7_out`
/// and the ground-truth CSV to `truth_out` (formats: see the crate docs).
/// Memory stays bounded: one family is in memory at a time.
pub fn write_population<W: Write, G: Write>(
    config: &SynthConfig,
    hl7_out: W,
    truth_out: G,
) -> Result<SynthStats> {
    write_population_with(config, Layout::Visits, hl7_out, truth_out)
}

/// [`write_population`] with a choice of [`Layout`]. With
/// [`Layout::Consolidated`] the truth CSV has one row per person, keyed by the
/// control id of the latest visit message (which the consolidated VXU keeps).
pub fn write_population_with<W: Write, G: Write>(
    config: &SynthConfig,
    layout: Layout,
    hl7_out: W,
    truth_out: G,
) -> Result<SynthStats> {
    let gen = Generator::new(config.clone())?;
    let mut hl7 = BufWriter::with_capacity(1 << 16, hl7_out);
    let mut truth = BufWriter::with_capacity(1 << 16, truth_out);
    truth.write_all(b"message_control_id,person_key,facility,twin_group,kind,variations\n")?;
    let mut stats = SynthStats::default();
    let mut line = String::with_capacity(128);
    for person in gen {
        stats.people += 1;
        if person.twin_group.is_some() {
            stats.twin_people += 1;
        }
        for d in &person.doses {
            if d.refused {
                stats.refusals += 1;
            } else {
                stats.administered_doses += 1;
            }
        }
        if layout == Layout::Consolidated {
            let (Some(vxu), Some(last)) = (
                consolidated_vxu(&person),
                person
                    .messages
                    .iter()
                    .rfind(|m| m.kind == MessageKind::Visit),
            ) else {
                continue;
            };
            stats.messages += 1;
            stats.hl7_bytes += vxu.len() as u64 + 1;
            hl7.write_all(vxu.as_bytes())?;
            hl7.write_all(b"\n")?;
            truth_line(&mut line, &person, last);
            truth.write_all(line.as_bytes())?;
            continue;
        }
        for m in &person.messages {
            stats.messages += 1;
            stats.hl7_bytes += m.hl7.len() as u64 + 1;
            hl7.write_all(m.hl7.as_bytes())?;
            hl7.write_all(b"\n")?;
            truth_line(&mut line, &person, m);
            truth.write_all(line.as_bytes())?;
        }
    }
    hl7.flush()?;
    truth.flush()?;
    Ok(stats)
}

/// How [`write_population_with`] writes each person's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// Every message the person's providers sent over the years (the default).
    #[default]
    Visits,
    /// One VXU per person carrying the whole history, as a migration from a
    /// legacy registry sends it: see [`consolidated_vxu`]. Loads a registry of
    /// the same people and doses with a tenth of the messages (for
    /// benchmarks at a million people).
    Consolidated,
}

/// One VXU with `person`'s whole reported history: the header and patient
/// segments (MSH, PID, PD1, NK1) of the latest visit message and the order
/// groups (each ORC with the RXA, RXR and OBX after it) of every visit
/// message in the order they were sent. Duplicates and updates are left out;
/// historical re-reports stay (the registry's dose de-duplication folds them).
/// `None` when the person has no visit message.
pub fn consolidated_vxu(person: &SynthPerson) -> Option<String> {
    let visits: Vec<&SynthMessage> = person
        .messages
        .iter()
        .filter(|m| m.kind == MessageKind::Visit)
        .collect();
    let last = visits.last()?;
    let mut out = String::with_capacity(visits.iter().map(|m| m.hl7.len()).sum());
    for seg in last.hl7.split_terminator('\r') {
        if seg.starts_with("ORC|") {
            break;
        }
        out.push_str(seg);
        out.push('\r');
    }
    for m in &visits {
        let mut orders = false;
        for seg in m.hl7.split_terminator('\r') {
            orders |= seg.starts_with("ORC|");
            if orders {
                out.push_str(seg);
                out.push('\r');
            }
        }
    }
    Some(out)
}

/// The ground-truth CSV row of one message (with trailing `\n`).
pub fn truth_line(line: &mut String, person: &SynthPerson, m: &SynthMessage) {
    use std::fmt::Write as _;
    line.clear();
    // Control ids, facility codes and variation names never contain commas or quotes.
    let _ = write!(line, "{},{},{},", m.control_id, person.key, m.facility);
    if let Some(g) = person.twin_group {
        let _ = write!(line, "{g}");
    }
    line.push(',');
    line.push_str(m.kind.as_str());
    line.push(',');
    for (i, v) in m.variations.iter().enumerate() {
        if i > 0 {
            line.push(';');
        }
        line.push_str(v.as_str());
    }
    line.push('\n');
}
