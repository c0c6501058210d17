//! RSP^K11 builders: Z31 (candidate list), Z32 (complete immunization
//! history), Z33 (no match / too many / error) and Z42 (evaluated history
//! and forecast).
//!
//! IG (NOTES §4.5): `MSH`, `MSA`, `[ERR]`, `QAK` (QAK-1 = query tag, QAK-2
//! OK/NF/TM/AE/AR, QAK-3 = QPD-1), `QPD` echoed as received, then the
//! patient groups. Z42 puts evaluation OBX after each RXA and the forecast
//! under `ORC|RE||9999` + `RXA|0|1|d|d|998^no vaccine administered^CVX|999|…|NA`,
//! one OBX group (OBX-4 sub-id) per vaccine series.
//!
//! The builders take plain input structs ([`PatientRecord`], [`Forecast`],
//! [`DoseEvaluation`]) so the registry can fill them from its store and the
//! CDSi engine; no clock is read (dates come in).

use chrono::NaiveDate;
use immunis_model::{
    Address, Code, CodeTables, Guardian, Patient, PatientObservation, PatientSubmission,
    PersonName, Phone, VaccinationEvent,
};

use crate::ack::{err_segment, msa, reply_msh, ReplyOptions};
use crate::issue::{AckCode, Issue};
use crate::parse::Delimiters;
use crate::qbp::{QueryEcho, QueryProfile};
use crate::write::{FieldValue, MessageBuilder, SegmentBuilder, SegmentWriter};

/// One dose of a patient's history and who reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryDose<'a> {
    /// The dose.
    pub event: &'a VaccinationEvent,
    /// ORC-3.2 namespace of the filler order number (the reporting facility).
    pub facility: Option<&'a str>,
    /// Z42 only: the CDSi evaluation of this dose (one per vaccine group;
    /// a combination vaccine has several).
    pub evaluations: Vec<DoseEvaluation>,
}

/// A patient as the registry returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct PatientRecord<'a> {
    /// Demographics (PID, PD1, NK1).
    pub patient: &'a Patient,
    /// Doses, in the order to report them (usually by date).
    pub doses: Vec<HistoryDose<'a>>,
    /// Patient-level observations (immunity, contraindications...), sent in
    /// an `ORC 9999` / `RXA 998 NA` group.
    pub observations: &'a [PatientObservation],
}

impl<'a> PatientRecord<'a> {
    /// One submission as the complete history an RSP Z32 carries, each dose
    /// under the submitting facility (tests, benchmarks, sample replies).
    pub fn of_submission(s: &'a PatientSubmission) -> Self {
        PatientRecord {
            patient: &s.patient,
            doses: s
                .doses
                .iter()
                .map(|d| HistoryDose {
                    event: &d.event,
                    facility: Some(s.source.facility_code.as_str()),
                    evaluations: Vec::new(),
                })
                .collect(),
            observations: &s.observations,
        }
    }
}

/// The evaluation of one dose against one vaccine series (Z42).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoseEvaluation {
    /// OBX 30956-7 vaccine group (a CVX, e.g. `45^HepB^CVX`).
    pub vaccine_group: Code,
    /// OBX 59780-7 series name.
    pub series_name: Option<String>,
    /// OBX 30973-2 dose number in series (absent if not counted).
    pub dose_number: Option<u32>,
    /// OBX 59782-3 number of doses in the series.
    pub doses_in_series: Option<u32>,
    /// OBX 59781-5 dose validity.
    pub valid: bool,
    /// OBX 30982-3 reason applied by the forecast logic (why not valid, etc.).
    pub reason: Option<Code>,
}

/// OBX 59783-1 status in immunization series (LOINC answers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeriesStatus {
    /// LA13421-5 Complete.
    Complete,
    /// LA13422-3 On schedule.
    OnSchedule,
    /// LA13423-1 Overdue.
    Overdue,
    /// LA13424-9 Too old.
    TooOld,
    /// Any other coded status (e.g. immune, contraindicated).
    Other(Code),
}

impl SeriesStatus {
    /// The coded value.
    pub fn code(&self) -> Code {
        let (c, t) = match self {
            SeriesStatus::Complete => ("LA13421-5", "Complete"),
            SeriesStatus::OnSchedule => ("LA13422-3", "On schedule"),
            SeriesStatus::Overdue => ("LA13423-1", "Overdue"),
            SeriesStatus::TooOld => ("LA13424-9", "Too old"),
            SeriesStatus::Other(code) => return code.clone(),
        };
        Code {
            code: c.into(),
            text: Some(t.into()),
            system: Some("LN".into()),
        }
    }
}

/// One forecast recommendation (a vaccine series).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recommendation {
    /// OBX 30956-7 vaccine group.
    pub vaccine_group: Code,
    /// OBX 59780-7 series name.
    pub series_name: Option<String>,
    /// OBX 30973-2 next dose number.
    pub dose_number: Option<u32>,
    /// OBX 59782-3 number of doses in the series.
    pub doses_in_series: Option<u32>,
    /// OBX 30981-5 earliest date to give.
    pub earliest: Option<NaiveDate>,
    /// OBX 30980-7 date vaccination due (recommended).
    pub due: Option<NaiveDate>,
    /// OBX 59778-1 date dose is overdue.
    pub overdue: Option<NaiveDate>,
    /// OBX 59777-3 latest date to give.
    pub latest: Option<NaiveDate>,
    /// OBX 59783-1 status in series.
    pub status: SeriesStatus,
}

/// The forecast part of a Z42.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forecast {
    /// Date the evaluation/forecast was made (RXA-3/4 of the 998 group, OBX-14).
    pub evaluation_date: NaiveDate,
    /// OBX 59779-9 schedule used; default `VXC16^ACIP^CDCPHINVS`.
    pub schedule: Code,
    /// One per vaccine series.
    pub recommendations: Vec<Recommendation>,
    /// Notes on the schedule used (the decision-support data's release,
    /// what of it is out of date), written as NTE segments under the first
    /// recommendation's 59779-9 OBX.
    pub notes: Vec<String>,
}

impl Forecast {
    /// A forecast made on `date` with the ACIP schedule.
    pub fn acip(date: NaiveDate, recommendations: Vec<Recommendation>) -> Self {
        Forecast {
            evaluation_date: date,
            schedule: acip_schedule(),
            recommendations,
            notes: Vec::new(),
        }
    }
}

fn acip_schedule() -> Code {
    Code {
        code: "VXC16".into(),
        text: Some("ACIP".into()),
        system: Some("CDCPHINVS".into()),
    }
}

/// `YYYYMMDD` (chrono's `format` parses its pattern on every call: 4.5 % of
/// building an RSP).
fn dt(d: NaiveDate) -> String {
    use chrono::Datelike;
    let (y, m, day) = (d.year(), d.month(), d.day());
    if (0..=9999).contains(&y) {
        let mut s = String::with_capacity(8);
        for v in [y / 1000, y / 100 % 10, y / 10 % 10, y % 10] {
            s.push(char::from(b'0' + v as u8));
        }
        for v in [m / 10, m % 10, day / 10, day % 10] {
            s.push(char::from(b'0' + v as u8));
        }
        s
    } else {
        d.format("%Y%m%d").to_string()
    }
}

fn opt_dt(d: Option<NaiveDate>) -> String {
    d.map(dt).unwrap_or_default()
}

fn ce(c: &Code) -> FieldValue {
    FieldValue::comps([
        c.code.clone(),
        c.text.clone().unwrap_or_default(),
        c.system.clone().unwrap_or_default(),
    ])
}

fn ce_with(c: &Code, default_system: &str) -> FieldValue {
    FieldValue::comps([
        c.code.clone(),
        c.text.clone().unwrap_or_default(),
        c.system
            .clone()
            .unwrap_or_else(|| default_system.to_string()),
    ])
}

fn yn(b: bool) -> &'static str {
    if b {
        "Y"
    } else {
        "N"
    }
}

fn xpn(n: &PersonName) -> FieldValue {
    FieldValue::comps([
        n.family.clone(),
        n.given.clone(),
        n.middle.clone().unwrap_or_default(),
        n.suffix.clone().unwrap_or_default(),
        String::new(),
        String::new(),
        n.name_type.hl7().to_string(),
    ])
}

fn xad(a: &Address) -> FieldValue {
    FieldValue::comps([
        a.street1.clone(),
        a.street2.clone().unwrap_or_default(),
        a.city.clone(),
        a.state.clone(),
        a.zip.clone(),
        a.country.clone().unwrap_or_default(),
        a.address_type.clone().unwrap_or_default(),
        String::new(),
        a.county.clone().unwrap_or_default(),
    ])
}

fn xtn(p: &Phone) -> FieldValue {
    // 10 digits: area code + local number (XTN-6/7); else the whole in XTN-7.
    let (area, local) = match (p.number.len(), p.number.get(..3), p.number.get(3..)) {
        (10, Some(a), Some(l)) => (a.to_string(), l.to_string()),
        _ => (String::new(), p.number.clone()),
    };
    FieldValue::comps([
        String::new(),
        p.use_code.clone().unwrap_or_default(),
        p.equipment.clone().unwrap_or_default(),
        p.email.clone().unwrap_or_default(),
        String::new(),
        area,
        local,
    ])
}

fn xcn(c: &Code) -> FieldValue {
    // Code text is "Family, Given" (see convert::xcn).
    let text = c.text.clone().unwrap_or_default();
    let (family, given) = match text.split_once(", ") {
        Some((f, g)) => (f.to_string(), g.to_string()),
        None => (text, String::new()),
    };
    let authority = c.system.clone().unwrap_or_default();
    let e = String::new;
    FieldValue::comps([
        c.code.clone(),
        family,
        given,
        e(),
        e(),
        e(),
        e(),
        e(),
        authority,
    ])
}

/// PID for a patient (set id `set_id`).
pub fn pid_segment(p: &Patient, set_id: usize) -> SegmentBuilder {
    let mut s = SegmentBuilder::new("PID").with(1, set_id.to_string());
    s.set(
        3,
        FieldValue::reps(p.identifiers.iter().map(|i| {
            FieldValue::comps([
                i.value.as_str(),
                "",
                "",
                i.assigning_authority.as_str(),
                i.id_type.as_str(),
            ])
        })),
    );
    s.set(5, FieldValue::reps(p.names.iter().map(xpn)));
    if let Some(m) = &p.mother_maiden_name {
        s.set(6, xpn(m));
    }
    s.set(7, dt(p.birth_date.0));
    s.set(8, p.sex.hl7());
    s.set(
        10,
        FieldValue::reps(p.race.iter().map(|c| ce_with(c, "CDCREC"))),
    );
    s.set(11, FieldValue::reps(p.addresses.iter().map(xad)));
    s.set(13, FieldValue::reps(p.phones.iter().map(xtn)));
    s.set(
        22,
        FieldValue::reps(p.ethnicity.iter().map(|c| ce_with(c, "CDCREC"))),
    );
    if let Some(m) = p.multiple_birth {
        s.set(24, yn(m));
    }
    if let Some(o) = p.birth_order {
        s.set(25, o.to_string());
    }
    if let Some(d) = p.death_date {
        s.set(29, dt(d));
    }
    if let Some(d) = p.deceased {
        s.set(30, yn(d));
    }
    s
}

/// PD1 (publicity, protection, registry status), if any is known.
pub fn pd1_segment(p: &Patient) -> Option<SegmentBuilder> {
    if p.publicity.is_none() && p.protection.is_none() && p.registry_status.is_none() {
        return None;
    }
    let mut s = SegmentBuilder::new("PD1");
    if let Some(pb) = &p.publicity {
        s.set(11, ce_with(&pb.value, "HL70215"));
        s.set(18, opt_dt(pb.effective));
    }
    if let Some(pr) = &p.protection {
        s.set(12, yn(pr.value));
        s.set(13, opt_dt(pr.effective));
    }
    if let Some(st) = &p.registry_status {
        s.set(16, st.value.hl7());
        s.set(17, opt_dt(st.effective));
    }
    Some(s)
}

/// NK1 for a guardian.
pub fn nk1_segment(g: &Guardian, set_id: usize) -> SegmentBuilder {
    let mut s = SegmentBuilder::new("NK1")
        .with(1, set_id.to_string())
        .with(2, xpn(&g.name))
        .with(3, ce_with(&g.relationship, "HL70063"));
    if let Some(a) = &g.address {
        s.set(4, xad(a));
    }
    if let Some(p) = &g.phone {
        s.set(5, xtn(p));
    }
    s
}

/// Sequential OBX writer: OBX-1 runs through the message (as in the IG
/// examples), OBX-4 groups related observations.
struct Obx {
    set_id: usize,
}

impl Obx {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        m: &mut MessageBuilder,
        value_type: &str,
        loinc: (&str, &str),
        sub_id: usize,
        value: FieldValue,
        date: Option<NaiveDate>,
        method: Option<FieldValue>,
    ) {
        self.set_id += 1;
        let mut s = SegmentBuilder::new("OBX")
            .with(1, self.set_id.to_string())
            .with(2, value_type)
            .with_comps(3, [loinc.0, loinc.1, "LN"])
            .with(4, sub_id.to_string())
            .with(5, value)
            .with(11, "F")
            .with(14, opt_dt(date));
        if let Some(method) = method {
            s.set(17, method);
        }
        m.push(s);
    }

    /// [`Obx::push`] written straight into `out`; `value` writes OBX-5.
    #[allow(clippy::too_many_arguments)]
    fn write(
        &mut self,
        out: &mut String,
        dl: &Delimiters,
        value_type: &str,
        loinc: (&str, &str),
        sub_id: usize,
        value: impl FnOnce(&mut SegmentWriter<'_, '_>),
        date: Option<NaiveDate>,
        method: Option<[&str; 3]>,
    ) {
        self.set_id += 1;
        let mut s = SegmentWriter::start(out, dl, "OBX");
        s.text(1, &self.set_id.to_string())
            .text(2, value_type)
            .comps(3, &[loinc.0, loinc.1, "LN"])
            .text(4, &sub_id.to_string());
        value(&mut s);
        s.text(11, "F").text(14, &opt_dt(date));
        if let Some(method) = method {
            s.comps(17, &method);
        }
        s.end();
    }
}

#[cfg(test)]
fn cvx_field(ev: &VaccinationEvent) -> FieldValue {
    let Some(cvx) = &ev.cvx else {
        return FieldValue::comps(["998", "no vaccine administered", "CVX"]);
    };
    // Display text from the CDC table (falls back to the trade name).
    let text = CodeTables::embedded()
        .cvx(cvx)
        .map(|i| i.short_description.clone())
        .or_else(|| ev.trade_name.clone())
        .unwrap_or_default();
    match &ev.ndc {
        Some(ndc) => FieldValue::comps([
            cvx.as_str().to_string(),
            text,
            "CVX".into(),
            ndc.clone(),
            String::new(),
            "NDC".into(),
        ]),
        None => FieldValue::comps([cvx.as_str().to_string(), text, "CVX".into()]),
    }
}

/// [`order_group`] through the builder: what it must write (tests).
#[cfg(test)]
fn order_group_built(m: &mut MessageBuilder, obx: &mut Obx, d: &HistoryDose<'_>, with_eval: bool) {
    let ev = d.event;
    let filler = ev
        .filler_order_number
        .clone()
        .unwrap_or_else(|| "9999".into());
    let mut orc = SegmentBuilder::new("ORC")
        .with(1, "RE")
        .with_comps(3, [filler.as_str(), d.facility.unwrap_or("")]);
    if let Some(p) = &ev.placer_order_number {
        orc.set(2, p.as_str());
    }
    if let Some(c) = &ev.entered_by {
        orc.set(10, xcn(c));
    }
    if let Some(c) = &ev.ordering_provider {
        orc.set(12, xcn(c));
    }
    m.push(orc);
    let date = opt_dt(ev.administered_date);
    let mut rxa = SegmentBuilder::new("RXA")
        .with(1, "0")
        .with(2, "1")
        .with(3, date.as_str())
        .with(4, date.as_str())
        .with(5, cvx_field(ev))
        .with(
            6,
            ev.amount
                .map_or_else(|| "999".to_string(), |a| a.to_string()),
        );
    if let Some(u) = &ev.units {
        rxa.set(7, FieldValue::comps([u.as_str(), u.as_str(), "UCUM"]));
    }
    // IZ-31/47: RXA-9 only for CP/PA.
    if ev.completion.was_given() {
        let src = ev.information_source.nip001();
        let text = if ev.information_source.is_administered() {
            "New immunization record"
        } else {
            "Historical information"
        };
        rxa.set(9, FieldValue::comps([src, text, "NIP001"]));
    }
    if let Some(c) = &ev.administering_provider {
        rxa.set(10, xcn(c));
    }
    if let Some(f) = &ev.administering_facility {
        rxa.set(11, FieldValue::comps(["", "", "", f.code.as_str()]));
    }
    if let Some(l) = &ev.lot_number {
        rxa.set(15, l.as_str());
    }
    rxa.set(16, opt_dt(ev.expiration_date));
    if let Some(mvx) = &ev.mvx {
        let name = CodeTables::embedded().mvx_name(mvx).unwrap_or_default();
        rxa.set(17, FieldValue::comps([mvx.as_str(), name, "MVX"]));
    }
    if let Some(r) = &ev.refusal_reason {
        rxa.set(18, ce_with(r, "NIP002"));
    }
    rxa.set(20, ev.completion.hl7());
    rxa.set(21, "A");
    m.push(rxa);
    if ev.route.is_some() || ev.site.is_some() {
        let mut rxr = SegmentBuilder::new("RXR");
        if let Some(r) = &ev.route {
            rxr.set(1, ce(r));
        }
        if let Some(s) = &ev.site {
            rxr.set(2, ce(s));
        }
        m.push(rxr);
    }
    let mut sub = 0;
    if let Some(f) = &ev.funding_eligibility {
        sub += 1;
        obx.push(
            m,
            "CE",
            ("64994-7", "Vaccine funding program eligibility category"),
            sub,
            ce_with(f, "HL70064"),
            ev.administered_date,
            Some(FieldValue::comps([
                "VXC40",
                "Eligibility captured at the immunization level",
                "CDCPHINVS",
            ])),
        );
    }
    if let Some(f) = &ev.funding_source {
        sub += 1;
        obx.push(
            m,
            "CE",
            ("30963-3", "Vaccine funding source"),
            sub,
            ce_with(f, "CDCPHINVS"),
            ev.administered_date,
            None,
        );
    }
    for v in &ev.vis {
        sub += 1;
        if v.document.bytes().all(|b| b.is_ascii_digit()) && v.document.len() > 6 {
            obx.push(
                m,
                "CE",
                ("69764-9", "Document type"),
                sub,
                FieldValue::comps([v.document.as_str(), "", "cdcgs1vis"]),
                None,
                None,
            );
        } else if !v.document.is_empty() {
            obx.push(
                m,
                "CE",
                ("30956-7", "Vaccine type"),
                sub,
                FieldValue::comps([v.document.as_str(), "", "CVX"]),
                None,
                None,
            );
        }
        if let Some(p) = v.published {
            obx.push(
                m,
                "TS",
                ("29768-9", "Date vaccine information statement published"),
                sub,
                FieldValue::text(dt(p)),
                None,
                None,
            );
        }
        if let Some(p) = v.presented {
            obx.push(
                m,
                "TS",
                ("29769-7", "Date vaccine information statement presented"),
                sub,
                FieldValue::text(dt(p)),
                None,
                None,
            );
        }
    }
    if with_eval {
        for e in &d.evaluations {
            sub += 1;
            evaluation_obx(m, obx, sub, e);
        }
    }
}

/// RXA-5: CVX (with the CDC table's text, else the trade name), and the NDC
/// when one was sent; 998 for a dose not given.
fn write_cvx(w: &mut SegmentWriter<'_, '_>, n: usize, ev: &VaccinationEvent) {
    let Some(cvx) = &ev.cvx else {
        w.comps(n, &["998", "no vaccine administered", "CVX"]);
        return;
    };
    let text = CodeTables::embedded()
        .cvx(cvx)
        .map(|i| i.short_description.as_str())
        .or(ev.trade_name.as_deref())
        .unwrap_or("");
    match &ev.ndc {
        Some(ndc) => w.comps(n, &[cvx.as_str(), text, "CVX", ndc, "", "NDC"]),
        None => w.comps(n, &[cvx.as_str(), text, "CVX"]),
    };
}

/// A coded value as CE components, `default_system` when it has none.
fn write_code(w: &mut SegmentWriter<'_, '_>, n: usize, c: &Code, default_system: &str) {
    w.comps(
        n,
        &[
            c.code.as_str(),
            c.text.as_deref().unwrap_or(""),
            c.system.as_deref().unwrap_or(default_system),
        ],
    );
}

/// ORC + RXA (+ RXR + dose OBX) for one dose, written straight into `out`
/// (the bulk of a long history's RSP; the same text as
/// `order_group_built`, which the tests compare it with).
fn order_group(
    out: &mut String,
    dl: &Delimiters,
    obx: &mut Obx,
    d: &HistoryDose<'_>,
    with_eval: bool,
) {
    let ev = d.event;
    let mut orc = SegmentWriter::start(out, dl, "ORC");
    orc.text(1, "RE");
    if let Some(p) = &ev.placer_order_number {
        orc.text(2, p);
    }
    orc.comps(
        3,
        &[
            ev.filler_order_number.as_deref().unwrap_or("9999"),
            d.facility.unwrap_or(""),
        ],
    );
    if let Some(c) = &ev.entered_by {
        orc.value(10, &xcn(c));
    }
    if let Some(c) = &ev.ordering_provider {
        orc.value(12, &xcn(c));
    }
    orc.end();
    let date = opt_dt(ev.administered_date);
    let mut rxa = SegmentWriter::start(out, dl, "RXA");
    rxa.text(1, "0").text(2, "1").text(3, &date).text(4, &date);
    write_cvx(&mut rxa, 5, ev);
    match ev.amount {
        Some(a) => rxa.text(6, &a.to_string()),
        None => rxa.text(6, "999"),
    };
    if let Some(u) = &ev.units {
        rxa.comps(7, &[u, u, "UCUM"]);
    }
    // IZ-31/47: RXA-9 only for CP/PA.
    if ev.completion.was_given() {
        let text = if ev.information_source.is_administered() {
            "New immunization record"
        } else {
            "Historical information"
        };
        rxa.comps(9, &[ev.information_source.nip001(), text, "NIP001"]);
    }
    if let Some(c) = &ev.administering_provider {
        rxa.value(10, &xcn(c));
    }
    if let Some(f) = &ev.administering_facility {
        rxa.comps(11, &["", "", "", f.code.as_str()]);
    }
    if let Some(l) = &ev.lot_number {
        rxa.text(15, l);
    }
    rxa.text(16, &opt_dt(ev.expiration_date));
    if let Some(mvx) = &ev.mvx {
        let name = CodeTables::embedded().mvx_name(mvx).unwrap_or_default();
        rxa.comps(17, &[mvx.as_str(), name, "MVX"]);
    }
    if let Some(r) = &ev.refusal_reason {
        write_code(&mut rxa, 18, r, "NIP002");
    }
    rxa.text(20, ev.completion.hl7()).text(21, "A");
    rxa.end();
    if ev.route.is_some() || ev.site.is_some() {
        let mut rxr = SegmentWriter::start(out, dl, "RXR");
        if let Some(r) = &ev.route {
            write_code(&mut rxr, 1, r, "");
        }
        if let Some(s) = &ev.site {
            write_code(&mut rxr, 2, s, "");
        }
        rxr.end();
    }
    let mut sub = 0;
    if let Some(f) = &ev.funding_eligibility {
        sub += 1;
        obx.write(
            out,
            dl,
            "CE",
            ("64994-7", "Vaccine funding program eligibility category"),
            sub,
            |w| write_code(w, 5, f, "HL70064"),
            ev.administered_date,
            Some([
                "VXC40",
                "Eligibility captured at the immunization level",
                "CDCPHINVS",
            ]),
        );
    }
    if let Some(f) = &ev.funding_source {
        sub += 1;
        obx.write(
            out,
            dl,
            "CE",
            ("30963-3", "Vaccine funding source"),
            sub,
            |w| write_code(w, 5, f, "CDCPHINVS"),
            ev.administered_date,
            None,
        );
    }
    for v in &ev.vis {
        sub += 1;
        let doc = v.document.as_str();
        if doc.bytes().all(|b| b.is_ascii_digit()) && doc.len() > 6 {
            obx.write(
                out,
                dl,
                "CE",
                ("69764-9", "Document type"),
                sub,
                |w| {
                    w.comps(5, &[doc, "", "cdcgs1vis"]);
                },
                None,
                None,
            );
        } else if !doc.is_empty() {
            obx.write(
                out,
                dl,
                "CE",
                ("30956-7", "Vaccine type"),
                sub,
                |w| {
                    w.comps(5, &[doc, "", "CVX"]);
                },
                None,
                None,
            );
        }
        if let Some(p) = v.published {
            obx.write(
                out,
                dl,
                "TS",
                ("29768-9", "Date vaccine information statement published"),
                sub,
                |w| {
                    w.text(5, &dt(p));
                },
                None,
                None,
            );
        }
        if let Some(p) = v.presented {
            obx.write(
                out,
                dl,
                "TS",
                ("29769-7", "Date vaccine information statement presented"),
                sub,
                |w| {
                    w.text(5, &dt(p));
                },
                None,
                None,
            );
        }
    }
    if with_eval && !d.evaluations.is_empty() {
        let mut m = MessageBuilder::with_delimiters(*dl);
        for e in &d.evaluations {
            sub += 1;
            evaluation_obx(&mut m, obx, sub, e);
        }
        out.push_str(&m.encode());
    }
}

fn evaluation_obx(m: &mut MessageBuilder, obx: &mut Obx, sub: usize, e: &DoseEvaluation) {
    obx.push(
        m,
        "CE",
        ("30956-7", "Vaccine type"),
        sub,
        ce_with(&e.vaccine_group, "CVX"),
        None,
        None,
    );
    obx.push(
        m,
        "CE",
        ("59779-9", "Immunization schedule used"),
        sub,
        ce(&acip_schedule()),
        None,
        None,
    );
    if let Some(s) = &e.series_name {
        obx.push(
            m,
            "ST",
            ("59780-7", "Immunization series name"),
            sub,
            FieldValue::text(s.as_str()),
            None,
            None,
        );
    }
    if let Some(n) = e.dose_number {
        obx.push(
            m,
            "NM",
            ("30973-2", "Dose number in series"),
            sub,
            FieldValue::text(n.to_string()),
            None,
            None,
        );
    }
    if let Some(n) = e.doses_in_series {
        obx.push(
            m,
            "NM",
            ("59782-3", "Number of doses in primary series"),
            sub,
            FieldValue::text(n.to_string()),
            None,
            None,
        );
    }
    obx.push(
        m,
        "ID",
        ("59781-5", "Dose validity"),
        sub,
        FieldValue::text(yn(e.valid)),
        None,
        None,
    );
    if let Some(r) = &e.reason {
        obx.push(
            m,
            "CE",
            (
                "30982-3",
                "Reason applied by forecast logic to project this vaccine",
            ),
            sub,
            ce(r),
            None,
            None,
        );
    }
}

/// The dummy 998/NA group header (`ORC|RE||9999` + `RXA … 998 … NA`).
fn no_vaccine_group(m: &mut MessageBuilder, date: NaiveDate) {
    m.push(SegmentBuilder::new("ORC").with(1, "RE").with(3, "9999"));
    m.push(
        SegmentBuilder::new("RXA")
            .with(1, "0")
            .with(2, "1")
            .with(3, dt(date))
            .with(4, dt(date))
            .with_comps(5, ["998", "no vaccine administered", "CVX"])
            .with(6, "999")
            .with(20, "NA"),
    );
}

fn observation_group(
    m: &mut MessageBuilder,
    obx: &mut Obx,
    observations: &[PatientObservation],
    fallback_date: NaiveDate,
) {
    if observations.is_empty() {
        return;
    }
    let date = observations
        .iter()
        .filter_map(|o| o.date)
        .max()
        .unwrap_or(fallback_date);
    no_vaccine_group(m, date);
    for (i, o) in observations.iter().enumerate() {
        let label = match o.kind {
            immunis_model::ObservationKind::EvidenceOfImmunity => "Disease with presumed immunity",
            immunis_model::ObservationKind::Contraindication => {
                "Vaccination contraindication/precaution"
            }
            immunis_model::ObservationKind::Reaction => "Reaction",
            immunis_model::ObservationKind::Indication => "Indication for immunization",
        };
        obx.push(
            m,
            "CE",
            (o.kind.loinc(), label),
            i + 1,
            ce(&o.value),
            o.date,
            None,
        );
    }
}

/// MSH, MSA, ERR*, QAK, QPD.
fn head(
    echo: &QueryEcho,
    profile: &str,
    ack: AckCode,
    qak: &str,
    issues: &[Issue],
    opts: &ReplyOptions,
) -> MessageBuilder {
    let mut m = MessageBuilder::new();
    m.push(reply_msh(
        &echo.header,
        ["RSP", "K11", "RSP_K11"],
        profile,
        opts,
    ));
    m.push(msa(ack, &echo.header));
    // HL7 2.5.1 RSP_K11 allows a single ERR (`[ERR]`): report the most
    // severe issue (the first of them). MSA-1/QAK-2 still reflect them all.
    let worst = issues.iter().fold(None::<&Issue>, |best, i| match best {
        Some(b) if b.severity >= i.severity => Some(b),
        _ => Some(i),
    });
    if let Some(i) = worst {
        m.push(err_segment(i));
    }
    m.push(
        SegmentBuilder::new("QAK")
            .with(1, echo.tag.as_str())
            .with(2, qak)
            .with(3, echo.query_name.clone()),
    );
    // QPD is required in RSP_K11: echo it, or write what is known.
    m.push(echo.qpd.clone().unwrap_or_else(|| {
        let name = if !echo.query_name.is_empty() {
            echo.query_name.clone()
        } else if echo.profile == Some(QueryProfile::Z44) || echo.header.profile == "Z44" {
            FieldValue::comps(["Z44", "Request Evaluated History and Forecast", "CDCPHINVS"])
        } else {
            FieldValue::comps(["Z34", "Request Immunization History", "CDCPHINVS"])
        };
        SegmentBuilder::new("QPD")
            .with(1, name)
            .with(2, echo.tag.as_str())
    }));
    m
}

fn ack_for(issues: &[Issue]) -> AckCode {
    AckCode::from_issues(issues)
}

/// Z33 with QAK NF: no patient matched. `issues` are warnings to report.
pub fn build_rsp_not_found(echo: &QueryEcho, issues: &[Issue], opts: &ReplyOptions) -> String {
    head(echo, "Z33", ack_for(issues), "NF", issues, opts).encode()
}

/// Z33 with QAK TM: more candidates than RCP-2 allows.
pub fn build_rsp_too_many(echo: &QueryEcho, issues: &[Issue], opts: &ReplyOptions) -> String {
    head(echo, "Z33", ack_for(issues), "TM", issues, opts).encode()
}

/// Z33 for a query in error: MSA and QAK AE (or AR when the message was
/// rejected), one ERR per issue (IG example 017).
pub fn build_rsp_error(echo: &QueryEcho, issues: &[Issue], opts: &ReplyOptions) -> String {
    let ack = match ack_for(issues) {
        AckCode::Accept => AckCode::Error,
        other => other,
    };
    head(echo, "Z33", ack, ack.code(), issues, opts).encode()
}

/// Z31: candidates (PID + NK1 each). More than the quantity limit
/// (RCP-2, if any) gives a Z33 TM instead.
pub fn build_rsp_candidates(
    echo: &QueryEcho,
    candidates: &[&Patient],
    issues: &[Issue],
    opts: &ReplyOptions,
) -> String {
    if echo
        .quantity_limit
        .is_some_and(|l| candidates.len() > l as usize)
    {
        return build_rsp_too_many(echo, issues, opts);
    }
    if candidates.is_empty() {
        return build_rsp_not_found(echo, issues, opts);
    }
    let mut m = head(echo, "Z31", ack_for(issues), "OK", issues, opts);
    for (i, p) in candidates.iter().enumerate() {
        m.push(pid_segment(p, i + 1));
        for (j, g) in p.guardians.iter().enumerate() {
            m.push(nk1_segment(g, j + 1));
        }
    }
    m.encode()
}

fn patient_segments(m: &mut MessageBuilder, p: &Patient) {
    m.push(pid_segment(p, 1));
    if let Some(pd1) = pd1_segment(p) {
        m.push(pd1);
    }
    for (j, g) in p.guardians.iter().enumerate() {
        m.push(nk1_segment(g, j + 1));
    }
}

/// Z32: the complete history of one patient.
pub fn build_rsp_history(
    echo: &QueryEcho,
    record: &PatientRecord<'_>,
    issues: &[Issue],
    opts: &ReplyOptions,
) -> String {
    let mut m = head(echo, "Z32", ack_for(issues), "OK", issues, opts);
    patient_segments(&mut m, record.patient);
    let dl = *m.delimiters();
    let mut out = m.encode();
    out.reserve(record.doses.len() * 512);
    let mut obx = Obx { set_id: 0 };
    for d in &record.doses {
        order_group(&mut out, &dl, &mut obx, d, false);
    }
    let last = record
        .doses
        .iter()
        .filter_map(|d| d.event.administered_date)
        .max()
        .unwrap_or(record.patient.birth_date.0);
    let mut tail = MessageBuilder::with_delimiters(dl);
    observation_group(&mut tail, &mut obx, record.observations, last);
    out.push_str(&tail.encode());
    out
}

/// Z42: evaluated history (evaluation OBX after each RXA) and forecast
/// (one 998/NA group with an OBX group per recommendation).
pub fn build_rsp_evaluated(
    echo: &QueryEcho,
    record: &PatientRecord<'_>,
    forecast: &Forecast,
    issues: &[Issue],
    opts: &ReplyOptions,
) -> String {
    let m = {
        let mut m = head(echo, "Z42", ack_for(issues), "OK", issues, opts);
        patient_segments(&mut m, record.patient);
        m
    };
    let dl = *m.delimiters();
    let mut out = m.encode();
    out.reserve(record.doses.len() * 1024);
    let mut obx = Obx { set_id: 0 };
    for d in &record.doses {
        order_group(&mut out, &dl, &mut obx, d, true);
    }
    let mut m = MessageBuilder::with_delimiters(dl);
    observation_group(
        &mut m,
        &mut obx,
        record.observations,
        forecast.evaluation_date,
    );
    no_vaccine_group(&mut m, forecast.evaluation_date);
    let on = Some(forecast.evaluation_date);
    for (i, r) in forecast.recommendations.iter().enumerate() {
        let sub = i + 1;
        obx.push(
            &mut m,
            "CE",
            ("30956-7", "Vaccine type"),
            sub,
            ce_with(&r.vaccine_group, "CVX"),
            on,
            None,
        );
        obx.push(
            &mut m,
            "CE",
            ("59779-9", "Immunization schedule used"),
            sub,
            ce(&forecast.schedule),
            on,
            None,
        );
        if i == 0 {
            for (n, note) in forecast.notes.iter().enumerate() {
                m.push(
                    SegmentBuilder::new("NTE")
                        .with(1, (n + 1).to_string())
                        .with(3, note.as_str()),
                );
            }
        }
        if let Some(s) = &r.series_name {
            obx.push(
                &mut m,
                "ST",
                ("59780-7", "Immunization series name"),
                sub,
                FieldValue::text(s.as_str()),
                on,
                None,
            );
        }
        if let Some(n) = r.dose_number {
            obx.push(
                &mut m,
                "NM",
                ("30973-2", "Dose number in series"),
                sub,
                FieldValue::text(n.to_string()),
                on,
                None,
            );
        }
        if let Some(n) = r.doses_in_series {
            obx.push(
                &mut m,
                "NM",
                ("59782-3", "Number of doses in primary series"),
                sub,
                FieldValue::text(n.to_string()),
                on,
                None,
            );
        }
        let dates = [
            ("30981-5", "Earliest date to give", r.earliest),
            ("30980-7", "Date vaccination due", r.due),
            ("59778-1", "Date dose is overdue", r.overdue),
            ("59777-3", "Latest date to give", r.latest),
        ];
        for (code, label, d) in dates {
            if let Some(d) = d {
                obx.push(
                    &mut m,
                    "DT",
                    (code, label),
                    sub,
                    FieldValue::text(dt(d)),
                    on,
                    None,
                );
            }
        }
        obx.push(
            &mut m,
            "CE",
            ("59783-1", "Status in immunization series"),
            sub,
            ce(&r.status.code()),
            on,
            None,
        );
    }
    out.push_str(&m.encode());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use immunis_model::{CompletionStatus, Cvx, InformationSource, Mvx, VisDocument};
    use proptest::prelude::*;

    /// Text with the characters HL7 must escape now and then.
    fn text() -> impl Strategy<Value = String> {
        "[A-Za-z0-9 ,|^~&\\\\#\n]{0,12}"
    }

    fn code() -> impl Strategy<Value = Code> {
        (
            text(),
            proptest::option::of(text()),
            proptest::option::of(text()),
        )
            .prop_map(|(code, text, system)| Code { code, text, system })
    }

    fn date() -> impl Strategy<Value = NaiveDate> {
        (0i64..40_000).prop_map(|d| {
            NaiveDate::from_ymd_opt(1950, 1, 1).expect("date") + chrono::Duration::days(d)
        })
    }

    prop_compose! {
        fn event()(
            when in proptest::option::of(date()),
            cvx in proptest::option::of(prop_oneof![Just("08"), Just("20"), Just("141"), Just("998"), Just("999")]),
            ndc in proptest::option::of(text()),
            mvx in proptest::option::of(prop_oneof![Just("MSD"), Just("SKB"), Just("ZZZ")]),
            trade in proptest::option::of(text()),
            lot in proptest::option::of(text()),
            exp in proptest::option::of(date()),
            amount in proptest::option::of(0.0f64..2.0),
            units in proptest::option::of(text()),
            route in proptest::option::of(code()),
            site in proptest::option::of(code()),
            historical in proptest::option::of("0[1-8]"),
            completion in 0u8..4,
            codes in proptest::collection::vec(proptest::option::of(code()), 7),
            vis in proptest::collection::vec((text(), proptest::option::of(date()), proptest::option::of(date())), 0..3),
            filler in proptest::option::of(text()),
            placer in proptest::option::of(text()),
        ) -> VaccinationEvent {
            VaccinationEvent {
                administered_date: when,
                cvx: cvx.and_then(|c| Cvx::parse(c).ok()),
                ndc,
                mvx: mvx.and_then(|m| Mvx::parse(m).ok()),
                trade_name: trade,
                lot_number: lot,
                expiration_date: exp,
                amount,
                units,
                route,
                site,
                information_source: historical.map_or(InformationSource::Administered, InformationSource::Historical),
                completion: [
                    CompletionStatus::Complete,
                    CompletionStatus::PartiallyAdministered,
                    CompletionStatus::NotAdministered,
                    CompletionStatus::Refused,
                ][usize::from(completion)],
                refusal_reason: codes[0].clone(),
                funding_eligibility: codes[1].clone(),
                funding_source: codes[2].clone(),
                vis: vis
                    .into_iter()
                    .map(|(document, published, presented)| VisDocument { document, published, presented })
                    .collect(),
                administering_facility: codes[3].clone(),
                administering_provider: codes[4].clone(),
                ordering_provider: codes[5].clone(),
                entered_by: codes[6].clone(),
                filler_order_number: filler,
                placer_order_number: placer,
            }
        }
    }

    proptest! {
        /// The streaming order group writes exactly what the builder encodes,
        /// OBX numbering included, with and without evaluations.
        #[test]
        fn order_group_writes_what_the_builder_encodes(
            events in proptest::collection::vec(event(), 1..4),
            facility in proptest::option::of(text()),
            evaluated in any::<bool>(),
        ) {
            let evaluation = DoseEvaluation {
                vaccine_group: Code { code: "45".into(), text: Some("HepB".into()), system: Some("CVX".into()) },
                series_name: Some("HepB 3-dose".into()),
                dose_number: Some(1),
                doses_in_series: Some(3),
                valid: true,
                reason: None,
            };
            let dl = Delimiters::default();
            let mut built = MessageBuilder::with_delimiters(dl);
            let mut streamed = String::new();
            let (mut a, mut b) = (Obx { set_id: 0 }, Obx { set_id: 0 });
            for ev in &events {
                let dose = HistoryDose {
                    event: ev,
                    facility: facility.as_deref(),
                    evaluations: if evaluated { vec![evaluation.clone()] } else { Vec::new() },
                };
                order_group_built(&mut built, &mut a, &dose, evaluated);
                order_group(&mut streamed, &dl, &mut b, &dose, evaluated);
            }
            prop_assert_eq!(streamed, built.encode());
        }
    }

    proptest::proptest! {
        /// The hand-written `YYYYMMDD` is chrono's `%Y%m%d`, in and out of
        /// the four-digit years.
        #[test]
        fn dt_is_chronos_format(days in -1_000_000i32..4_000_000) {
            if let Some(d) = NaiveDate::from_num_days_from_ce_opt(days) {
                proptest::prop_assert_eq!(dt(d), d.format("%Y%m%d").to_string());
            }
        }
    }
}
