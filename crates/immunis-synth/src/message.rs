//! Assembles one VXU^V04 (HL7 v2.5.1, CDC IG Z22 profile) message.

use std::borrow::Cow;
use std::fmt::Write as _;

use chrono::NaiveDate;

use crate::data::{Product, Tables};
use crate::facility::{Facility, Staff};
use crate::hl7::{push_escaped, push_ts, Seg};
use crate::person::{Household, Member, Residence, View};

pub(crate) enum OrderKind<'a> {
    /// Given by the sender (RXA-9 `00`).
    Administered {
        lot: String,
        expiration: NaiveDate,
        site: Option<(&'static str, &'static str)>,
        vfc: (&'static str, &'static str),
        nurse: &'a Staff,
        provider: &'a Staff,
    },
    /// Re-reported from another provider's record (RXA-9 `01`, amount 999).
    Historical { cvx: (&'a str, &'a str) },
    /// Refused (RXA-20 `RE`, RXA-18 reason, ORC-3 `9999`, no RXA-9).
    Refused {
        reason: (&'static str, &'static str),
    },
}

pub(crate) struct Order<'a> {
    pub product: &'a Product,
    pub date: NaiveDate,
    pub filler: &'a str,
    /// RXA-21: `A` or `U`.
    pub action: &'static str,
    pub kind: OrderKind<'a>,
}

pub(crate) struct Header<'a> {
    pub fac: &'a Facility,
    pub control_id: &'a str,
    pub sent: NaiveDate,
    pub seconds: u32,
}

pub(crate) struct Demographics<'a> {
    pub view: &'a View,
    pub hh: &'a Household,
    pub member: &'a Member,
    pub res: &'a Residence,
    pub town: &'a str,
    pub county: &'a str,
    pub mrn: &'a str,
    /// Send NK1 guardians (the patient is a minor).
    pub minor: bool,
    /// First contact with this facility (PD1 effective dates).
    pub since: NaiveDate,
}

fn up<'a>(fac: &Facility, s: &'a str) -> Cow<'a, str> {
    if fac.uppercase {
        Cow::Owned(s.to_uppercase())
    } else {
        Cow::Borrowed(s)
    }
}

fn push_xad(b: &mut String, fac: &Facility, res: &Residence, town: &str, county: &str) {
    push_escaped(b, &up(fac, &res.street));
    b.push('^');
    if let Some(s2) = &res.street2 {
        push_escaped(b, &up(fac, s2));
    }
    b.push('^');
    push_escaped(b, &up(fac, town));
    b.push_str("^MA^");
    b.push_str(&res.zip);
    b.push_str("^USA^H^^");
    b.push_str(county);
}

fn push_xtn(b: &mut String, res: &Residence) {
    b.push_str(if res.mobile {
        "^PRN^CP^^^"
    } else {
        "^PRN^PH^^^"
    });
    b.push_str(res.phone.get(..3).unwrap_or(""));
    b.push('^');
    b.push_str(res.phone.get(3..).unwrap_or(""));
}

fn push_xcn(b: &mut String, s: &Staff) {
    push_escaped(b, &s.id);
    b.push('^');
    push_escaped(b, &s.family);
    b.push('^');
    push_escaped(b, &s.given);
}

/// Appends the message (segments terminated by `\r`) to `buf`.
pub(crate) fn build_vxu(
    buf: &mut String,
    t: &Tables,
    h: &Header<'_>,
    d: &Demographics<'_>,
    orders: &[Order<'_>],
) {
    let fac = h.fac;
    let v = d.view;

    // MSH
    let mut s = Seg::msh(buf);
    s.text(3, fac.app)
        .text(4, fac.code())
        .text(5, "MIIS")
        .text(6, "99990");
    push_ts(s.at(7), h.sent, h.seconds);
    s.raw(9, "VXU^V04^VXU_V04");
    s.text(10, h.control_id).text(11, "P").text(12, "2.5.1");
    s.text(15, "ER").text(16, "AL");
    s.comps(21, &["Z22", "CDCPHINVS"]);
    s.comps(
        22,
        &[&fac.info.name, "", "", "", "", "", "", "", "", fac.code()],
    );
    s.comps(23, &["MIIS", "", "", "", "", "", "", "", "", "99990"]);
    s.end();

    // PID
    let mut s = Seg::new(buf, "PID");
    s.text(1, "1");
    {
        let b = s.at(3);
        push_escaped(b, d.mrn);
        b.push_str("^^^");
        b.push_str(fac.code());
        b.push_str("^MR");
        if let (Some(bc), true) = (&d.member.birth_cert, v.send_bc) {
            b.push('~');
            b.push_str(bc);
            b.push_str("^^^MAVITALS^BC");
        }
        if let (Some(ma), true) = (&d.member.medicaid_id, v.send_medicaid) {
            b.push('~');
            b.push_str(ma);
            b.push_str("^^^MASSHEALTH^MA");
        }
    }
    s.comps(
        5,
        &[
            &v.family,
            &v.given,
            v.middle.as_deref().unwrap_or(""),
            v.suffix.as_deref().unwrap_or(""),
            "",
            "",
            "L",
        ],
    );
    if v.send_mmn {
        s.comps(
            6,
            &[
                &up(fac, &d.hh.mother_maiden),
                &up(fac, &d.hh.mother.given),
                "",
                "",
                "",
                "",
                "M",
            ],
        );
    }
    s.date(7, v.birth);
    s.text(8, d.member.sex.hl7());
    if v.send_race {
        s.comps(10, &[d.hh.race.0, d.hh.race.1, "CDCREC"]);
    }
    push_xad(s.at(11), fac, d.res, d.town, d.county);
    push_xtn(s.at(13), d.res);
    if v.send_race {
        s.comps(22, &[d.hh.ethnicity.0, d.hh.ethnicity.1, "CDCREC"]);
    }
    match d.member.order {
        Some(o) => {
            s.text(24, "Y");
            let b = s.at(25);
            let _ = write!(b, "{o}");
        }
        None if fac.sends_multiple_birth_n => {
            s.text(24, "N");
        }
        None => {}
    }
    s.end();

    // PD1
    if fac.sends_pd1 {
        let mut s = Seg::new(buf, "PD1");
        s.comps(11, &[d.hh.publicity.0, d.hh.publicity.1, "HL70215"]);
        s.text(12, if d.hh.protection { "Y" } else { "N" });
        s.date(13, d.since);
        s.text(16, "A");
        s.date(17, d.since);
        s.date(18, d.since);
        s.end();
    }

    // NK1 guardians of minors.
    if d.minor {
        let mut n = 0;
        let mut nk1 = |buf: &mut String, family: &str, given: &str, rel: (&str, &str)| {
            n += 1;
            let mut s = Seg::new(buf, "NK1");
            let _ = write!(s.at(1), "{n}");
            s.comps(2, &[&up(fac, family), &up(fac, given), "", "", "", "", "L"]);
            s.comps(3, &[rel.0, rel.1, "HL70063"]);
            push_xad(s.at(4), fac, d.res, d.town, d.county);
            push_xtn(s.at(5), d.res);
            s.end();
        };
        nk1(
            buf,
            &d.hh.mother.family,
            &d.hh.mother.given,
            ("MTH", "Mother"),
        );
        if let (Some(f), true) = (&d.hh.father, v.send_father) {
            nk1(buf, &f.family, &f.given, ("FTH", "Father"));
        }
    }

    // ORDER groups.
    let mut obx = 0u32;
    for o in orders {
        let p = o.product;
        let mut s = Seg::new(buf, "ORC");
        s.text(1, "RE");
        match &o.kind {
            OrderKind::Refused { .. } => {
                s.raw(3, "9999^CDC");
            }
            _ => {
                let b = s.at(3);
                push_escaped(b, o.filler);
                b.push('^');
                b.push_str(fac.code());
            }
        }
        push_xcn(s.at(10), &fac.clerk);
        if let OrderKind::Administered { provider, .. } = &o.kind {
            let b = s.at(12);
            push_xcn(b, provider);
            b.push_str("^^^^^^NPI");
        }
        s.comps(17, &[fac.code(), &fac.info.name, "HL70362"]);
        s.end();

        let mut s = Seg::new(buf, "RXA");
        s.text(1, "0").text(2, "1");
        s.date(3, o.date);
        match &o.kind {
            OrderKind::Administered {
                lot,
                expiration,
                site,
                vfc,
                nurse,
                ..
            } => {
                s.comps(5, &[&p.cvx, &p.cvx_text, "CVX"]);
                s.text(6, &p.amount);
                s.raw(7, "mL^milliliters^UCUM");
                s.raw(9, "00^New immunization record^NIP001");
                push_xcn(s.at(10), nurse);
                {
                    let b = s.at(11);
                    b.push_str("^^^");
                    b.push_str(fac.code());
                }
                s.text(15, lot);
                s.date(16, *expiration);
                s.comps(17, &[&p.mvx, &p.mvx_name, "MVX"]);
                s.text(20, "CP").text(21, o.action);
                s.end();

                let mut s = Seg::new(buf, "RXR");
                let (rc, rt) = p.route.ncit();
                s.comps(1, &[rc, rt, "NCIT"]);
                if let Some((sc, st)) = site {
                    s.comps(2, &[sc, st, "HL70163"]);
                }
                s.end();

                obx += 1;
                let mut s = Seg::new(buf, "OBX");
                let _ = write!(s.at(1), "{obx}");
                s.text(2, "CE");
                s.raw(3, "64994-7^Vaccine funding program eligibility category^LN");
                s.text(4, "1");
                s.comps(5, &[vfc.0, vfc.1, "HL70064"]);
                s.text(11, "F");
                s.date(14, o.date);
                s.raw(
                    17,
                    "VXC40^Eligibility captured at the immunization level^CDCPHINVS",
                );
                s.end();

                let mut sub = 1;
                for alts in &p.vis {
                    let Some(ed) = t.vis_edition(alts, o.date) else {
                        continue;
                    };
                    sub += 1;
                    obx += 1;
                    let mut s = Seg::new(buf, "OBX");
                    let _ = write!(s.at(1), "{obx}");
                    s.text(2, "CE");
                    s.raw(3, "69764-9^Document type^LN");
                    let _ = write!(s.at(4), "{sub}");
                    s.comps(5, &[&ed.gs1, &ed.name, "cdcgs1vis"]);
                    s.text(11, "F");
                    s.date(14, o.date);
                    s.end();
                    obx += 1;
                    let mut s = Seg::new(buf, "OBX");
                    let _ = write!(s.at(1), "{obx}");
                    s.text(2, "DT");
                    s.raw(3, "29769-7^Date Vis Presented^LN");
                    let _ = write!(s.at(4), "{sub}");
                    s.date(5, o.date);
                    s.text(11, "F");
                    s.date(14, o.date);
                    s.end();
                }
            }
            OrderKind::Historical { cvx } => {
                s.comps(5, &[cvx.0, cvx.1, "CVX"]);
                s.text(6, "999");
                s.raw(9, "01^Historical information - source unspecified^NIP001");
                s.text(20, "CP").text(21, o.action);
                s.end();
            }
            OrderKind::Refused { reason } => {
                s.comps(5, &[&p.cvx, &p.cvx_text, "CVX"]);
                s.text(6, "999");
                s.comps(18, &[reason.0, reason.1, "NIP002"]);
                s.text(20, "RE").text(21, o.action);
                s.end();
            }
        }
    }
}

/// A lot number in the style of the manufacturer, from a hash.
pub(crate) fn lot_number(mvx: &str, h: u64) -> String {
    let letter = |x: u64| char::from(b'A' + (x % 26) as u8);
    let mut s = String::with_capacity(12);
    match mvx {
        "MSD" => {
            s.push(letter(h));
            let _ = write!(s, "{:06}", (h >> 8) % 1_000_000);
        }
        "SKB" => {
            s.push(letter(h));
            s.push(letter(h >> 5));
            let _ = write!(s, "{:02}", (h >> 10) % 100);
            s.push(letter(h >> 17));
            let _ = write!(s, "{:03}", (h >> 22) % 1000);
            s.push(letter(h >> 33));
            s.push(letter(h >> 38));
        }
        "PMC" => {
            s.push(letter(h));
            let _ = write!(s, "{:04}", (h >> 8) % 10_000);
            s.push(letter(h >> 24));
            s.push(letter(h >> 29));
        }
        "PFR" => {
            s.push('F');
            s.push(letter(h));
            let _ = write!(s, "{:04}", (h >> 8) % 10_000);
        }
        "MOD" => {
            let _ = write!(s, "{:03}", h % 1000);
            s.push(letter(h >> 12));
            let _ = write!(s, "{:02}A", (h >> 20) % 100);
        }
        _ => {
            s.push(letter(h));
            s.push(letter(h >> 5));
            let _ = write!(s, "{:05}", (h >> 10) % 100_000);
        }
    }
    s
}
