//! End-to-end properties of generated populations.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use immunis_model::{CodeTables, Cvx, Mvx};
use immunis_synth::hl7::unescape;
use immunis_synth::{write_population, Generator, SynthConfig, SynthPerson, Variation};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 30).expect("date")
}

fn cfg(people: u64, seed: u64) -> SynthConfig {
    SynthConfig::new(people, seed, today())
}

fn people(c: &SynthConfig) -> Vec<SynthPerson> {
    Generator::new(c.clone()).expect("valid config").collect()
}

/// Segments of a message as (name, fields) where fields[n] is field n (MSH: fields[1] = "|").
fn segments(msg: &str) -> Vec<Vec<&str>> {
    msg.split('\r')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let mut f: Vec<&str> = s.split('|').collect();
            if f.first() == Some(&"MSH") {
                f.insert(1, "|");
            }
            f
        })
        .collect()
}

fn field<'a>(seg: &[&'a str], n: usize) -> &'a str {
    seg.get(n).copied().unwrap_or("")
}

fn comp(f: &str, n: usize) -> &str {
    f.split('^').nth(n - 1).unwrap_or("")
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s.get(..8).unwrap_or(""), "%Y%m%d").expect("HL7 date")
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let run = |seed| {
        let (mut h, mut t) = (Vec::new(), Vec::new());
        let stats = write_population(&cfg(300, seed), &mut h, &mut t).expect("writes");
        (h, t, stats)
    };
    let (h1, t1, s1) = run(11);
    let (h2, t2, s2) = run(11);
    let (h3, _, _) = run(12);
    assert_eq!(s1, s2);
    assert!(h1 == h2 && t1 == t2, "same seed must give identical output");
    assert_ne!(h1, h3);
    assert_eq!(s1.people, 300);
    assert_eq!(s1.hl7_bytes, h1.len() as u64);
    // Truth has one row per message, keyed by the control id.
    let truth = String::from_utf8(t1).expect("utf8");
    let text = String::from_utf8(h1).expect("utf8");
    let msgs: Vec<&str> = text.split('\n').filter(|m| !m.is_empty()).collect();
    assert_eq!(truth.lines().count(), msgs.len() + 1);
    assert_eq!(msgs.len() as u64, s1.messages);
    let ids: HashSet<&str> = truth
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .collect();
    assert_eq!(ids.len(), msgs.len(), "control ids are unique");
    for m in &msgs {
        let segs = segments(m);
        assert!(ids.contains(field(&segs[0], 10)));
    }
}

#[test]
fn every_message_is_a_structurally_valid_vxu() {
    let c = cfg(400, 3);
    let mut orders = 0;
    for p in people(&c) {
        assert!(!p.messages.is_empty(), "everyone has at least one report");
        for m in &p.messages {
            assert!(m.hl7.ends_with('\r') && !m.hl7.contains('\n'));
            let segs = segments(&m.hl7);
            let names: Vec<&str> = segs.iter().map(|s| s[0]).collect();
            assert_eq!(names[0], "MSH");
            let msh = &segs[0];
            assert_eq!(field(msh, 2), "^~\\&");
            assert_eq!(field(msh, 4), m.facility);
            assert_eq!(field(msh, 9), "VXU^V04^VXU_V04");
            assert_eq!(field(msh, 10), m.control_id);
            assert_eq!(field(msh, 11), "P");
            assert_eq!(field(msh, 12), "2.5.1");
            assert_eq!(field(msh, 21), "Z22^CDCPHINVS");
            assert_eq!(field(msh, 7).len(), 19, "TS with seconds and offset");
            assert_eq!(names[1], "PID");
            // PID, [PD1], NK1*, then ORDER groups ORC RXA [RXR] OBX*.
            let mut i = 2;
            if names.get(i) == Some(&"PD1") {
                i += 1;
            }
            while names.get(i) == Some(&"NK1") {
                i += 1;
            }
            assert!(i < names.len(), "at least one ORDER group");
            while i < names.len() {
                assert_eq!(names[i], "ORC", "{}", m.hl7);
                assert_eq!(names.get(i + 1), Some(&"RXA"));
                orders += 1;
                i += 2;
                if names.get(i) == Some(&"RXR") {
                    i += 1;
                }
                while names.get(i) == Some(&"OBX") {
                    i += 1;
                }
            }
            let pid = &segs[1];
            assert!(field(pid, 3).contains(&format!("^^^{}^MR", m.facility)));
            assert!(!comp(field(pid, 5), 1).is_empty());
            let obx_ids: Vec<&str> = segs
                .iter()
                .filter(|s| s[0] == "OBX")
                .map(|s| field(s, 1))
                .collect();
            let expected: Vec<String> = (1..=obx_ids.len()).map(|n| n.to_string()).collect();
            assert_eq!(obx_ids, expected, "OBX-1 is sequential");
        }
    }
    assert!(orders > 1000);
}

#[test]
fn doses_between_birth_and_today() {
    let c = cfg(600, 5);
    for p in people(&c) {
        let birth = p.patient.birth_date.0;
        for d in &p.doses {
            assert!(d.date >= birth && d.date <= c.today, "{} {:?}", p.key, d);
            assert!(d.date >= c.history_start);
        }
        for m in &p.messages {
            assert!(m.sent <= c.today);
            for s in segments(&m.hl7).iter().filter(|s| s[0] == "RXA") {
                let d = date(field(s, 3));
                assert!(d >= birth && d <= c.today, "dose {d} birth {birth}");
                if !field(s, 16).is_empty() {
                    assert!(date(field(s, 16)) >= d, "lot expired before the dose");
                }
            }
        }
    }
}

#[test]
fn twins_share_birth_mother_address_and_differ_in_birth_order() {
    let mut c = cfg(1500, 8);
    c.twin_rate = 0.15;
    c.triplet_rate = 0.02;
    let mut groups: HashMap<u64, Vec<SynthPerson>> = HashMap::new();
    for p in people(&c) {
        if let Some(g) = p.twin_group {
            groups.entry(g).or_default().push(p);
        } else {
            assert_eq!(p.patient.multiple_birth, Some(false));
        }
    }
    assert!(groups.len() > 50, "{} groups", groups.len());
    assert!(groups.values().any(|g| g.len() == 3), "some triplets");
    for g in groups.values() {
        assert!((2..=3).contains(&g.len()));
        let a = &g[0].patient;
        let mut orders = HashSet::new();
        for p in g {
            let q = &p.patient;
            assert_eq!(q.birth_date, a.birth_date);
            assert_eq!(q.mother_maiden_name, a.mother_maiden_name);
            assert_eq!(q.addresses, a.addresses);
            assert_eq!(q.phones, a.phones);
            assert_eq!(q.multiple_birth, Some(true));
            assert!(orders.insert(q.birth_order.expect("birth order")));
            for m in &p.messages {
                let pid = &segments(&m.hl7)[1];
                assert_eq!(field(pid, 24), "Y");
                assert_eq!(
                    field(pid, 25),
                    q.birth_order.map(|o| o.to_string()).unwrap_or_default()
                );
            }
        }
        assert_eq!(orders.len(), g.len());
        assert_ne!(
            g[0].patient.legal_name().given,
            g[1].patient.legal_name().given
        );
    }
}

#[test]
fn typo_rate_is_within_bounds() {
    let mut c = cfg(3000, 21);
    c.typo_rate = 0.1;
    let mut views = 0usize;
    let mut typo_views = 0usize;
    let mut mismatched = 0usize;
    for p in people(&c) {
        let truth = p.patient.legal_name();
        let mut seen = HashSet::new();
        for m in &p.messages {
            if m.variations.contains(&Variation::NewbornPlaceholder) {
                continue;
            }
            let pid = &segments(&m.hl7)[1];
            let family = unescape(comp(field(pid, 5), 1));
            let given = unescape(comp(field(pid, 5), 2));
            let dob = date(field(pid, 7));
            let differs = !family.eq_ignore_ascii_case(&truth.family)
                || !given.eq_ignore_ascii_case(&truth.given)
                || dob != p.patient.birth_date.0;
            let typo = m.variations.iter().any(|v| v.is_typo());
            // Variations are declared honestly: a name/DOB differs iff a typo is declared
            // (or a delimiter was typed into the name).
            if differs != typo && !m.variations.contains(&Variation::DelimiterInName) {
                if mismatched < 5 {
                    eprintln!(
                        "{:?} {family} {given} {dob} vs {:?} {}",
                        m.variations, truth, p.patient.birth_date.0
                    );
                }
                mismatched += 1;
            }
            if seen.insert(m.facility.clone()) {
                views += 1;
                typo_views += usize::from(typo);
            }
        }
    }
    assert_eq!(mismatched, 0);
    let rate = typo_views as f64 / views as f64;
    assert!(
        (0.075..=0.125).contains(&rate),
        "typo rate {rate} over {views} views"
    );

    let mut clean = cfg(500, 21);
    clean.typo_rate = 0.0;
    let typos: usize = people(&clean)
        .iter()
        .flat_map(|p| &p.messages)
        .filter(|m| m.variations.iter().any(|v| v.is_typo()))
        .count();
    assert_eq!(typos, 0);
}

#[test]
fn refusals_and_historical_doses_follow_the_ig() {
    let mut c = cfg(1500, 4);
    c.refusal_rate = 0.2;
    let (mut refusals, mut historical, mut admin) = (0, 0, 0);
    for p in people(&c) {
        for m in &p.messages {
            let segs = segments(&m.hl7);
            for (i, s) in segs.iter().enumerate() {
                if s[0] != "RXA" {
                    continue;
                }
                let orc = &segs[i - 1];
                match field(s, 20) {
                    "RE" => {
                        refusals += 1;
                        assert!(!field(s, 18).is_empty(), "refusal needs RXA-18");
                        assert!(field(s, 18).ends_with("^NIP002"));
                        assert!(field(s, 9).is_empty(), "refusal has no RXA-9");
                        assert_eq!(comp(field(orc, 3), 1), "9999");
                        assert_eq!(field(s, 6), "999");
                    }
                    "CP" => {
                        let src = comp(field(s, 9), 1);
                        assert!(field(s, 18).is_empty());
                        assert_ne!(comp(field(orc, 3), 1), "9999");
                        if src == "01" {
                            historical += 1;
                            assert_eq!(field(s, 6), "999");
                            assert!(field(s, 15).is_empty(), "no lot on historical");
                        } else {
                            admin += 1;
                            assert_eq!(src, "00");
                            assert!(!field(s, 15).is_empty(), "lot");
                            assert!(field(s, 17).ends_with("^MVX"));
                            assert_eq!(field(s, 11), format!("^^^{}", m.facility));
                            let obx3: Vec<&str> = segs[i..]
                                .iter()
                                .skip(1)
                                .take_while(|x| x[0] != "ORC")
                                .filter(|x| x[0] == "OBX")
                                .map(|x| comp(field(x, 3), 1))
                                .collect();
                            assert!(obx3.contains(&"64994-7"), "VFC eligibility OBX");
                        }
                    }
                    other => panic!("unexpected RXA-20 {other}"),
                }
                assert!(matches!(field(s, 21), "A" | "U"));
            }
        }
    }
    assert!(refusals > 20, "{refusals}");
    assert!(historical > 100, "{historical}");
    assert!(admin > 1000, "{admin}");
}

#[test]
fn codes_exist_in_the_cdc_tables() {
    let tables = CodeTables::embedded();
    let mut seen = HashSet::new();
    for p in people(&cfg(800, 9)) {
        for m in &p.messages {
            for s in segments(&m.hl7).iter().filter(|s| s[0] == "RXA") {
                let cvx = comp(field(s, 5), 1).to_string();
                let mvx = comp(field(s, 17), 1).to_string();
                if seen.insert((cvx.clone(), mvx.clone())) {
                    let c = Cvx::parse(&cvx).expect("CVX parses");
                    assert!(tables.is_known_cvx(&c), "unknown CVX {cvx}");
                    if !mvx.is_empty() {
                        let m = Mvx::parse(&mvx).expect("MVX parses");
                        assert!(tables.mvx_name(&m).is_some(), "unknown MVX {mvx}");
                    }
                }
            }
        }
    }
    assert!(seen.len() > 25, "product variety: {}", seen.len());
}

#[test]
fn delimiters_in_names_are_escaped() {
    let mut c = cfg(200, 2);
    c.delimiter_rate = 1.0;
    for p in people(&c) {
        for m in &p.messages {
            let pid = &segments(&m.hl7)[1];
            let xpn = field(pid, 5);
            assert_eq!(xpn.split('^').count(), 7, "components intact: {xpn}");
            let family = unescape(comp(xpn, 1));
            assert!(family.contains(['&', '^', '\\']), "{family}");
            assert!(m.variations.contains(&Variation::DelimiterInName));
        }
    }
}

#[test]
fn moves_bring_new_address_and_provider() {
    let mut c = cfg(800, 13);
    c.move_rate = 0.5;
    let mut movers_with_new_provider = 0;
    for p in people(&c) {
        if p.patient.addresses.len() < 2 {
            continue;
        }
        let current = &p.patient.addresses[0];
        let streets: HashSet<String> = p
            .messages
            .iter()
            .map(|m| unescape(comp(field(&segments(&m.hl7)[1], 11), 1)).to_uppercase())
            .collect();
        let facilities: HashSet<&str> = p.messages.iter().map(|m| m.facility.as_str()).collect();
        if streets.len() >= 2
            && streets.contains(&current.street1.to_uppercase())
            && facilities.len() >= 2
        {
            movers_with_new_provider += 1;
        }
    }
    assert!(movers_with_new_provider > 50, "{movers_with_new_provider}");
}

#[test]
fn config_is_validated() {
    let mut c = cfg(10, 1);
    c.typo_rate = 1.5;
    assert!(Generator::new(c).is_err());
    let mut c = cfg(10, 1);
    c.facilities = 0;
    assert!(Generator::new(c).is_err());
    let c = cfg(0, 1);
    assert_eq!(Generator::new(c).expect("valid").count(), 0);
}

#[test]
fn person_keys_are_sequential_and_count_matches() {
    let keys: Vec<u64> = Generator::new(cfg(257, 77))
        .expect("valid")
        .map(|p| p.key)
        .collect();
    assert_eq!(keys, (1..=257).collect::<Vec<_>>());
}

#[test]
fn consolidated_layout_carries_every_visit_dose_in_one_message_per_person() {
    use immunis_synth::{consolidated_vxu, write_population_with, Layout, MessageKind};
    let c = cfg(200, 5);
    let everyone = people(&c);
    for p in &everyone {
        let Some(vxu) = consolidated_vxu(p) else {
            assert!(p.messages.iter().all(|m| m.kind != MessageKind::Visit));
            continue;
        };
        let segs = segments(&vxu);
        assert_eq!(segs.iter().filter(|s| s[0] == "MSH").count(), 1);
        assert_eq!(segs.iter().filter(|s| s[0] == "PID").count(), 1);
        // Every order group of every visit message, none of the others'.
        let orders = |m: &str| segments(m).iter().filter(|s| s[0] == "ORC").count();
        let visits: usize = p
            .messages
            .iter()
            .filter(|m| m.kind == MessageKind::Visit)
            .map(|m| orders(&m.hl7))
            .sum();
        assert_eq!(orders(&vxu), visits, "person {}", p.key);
        // Header and demographics are the latest visit's.
        let last = p.messages.iter().rfind(|m| m.kind == MessageKind::Visit);
        let last = last.expect("a visit");
        assert!(vxu.starts_with(last.hl7.split("ORC|").next().unwrap_or("")));
        // Each administered (not refused) dose's ORC-3 is in the message.
        for d in p.doses.iter().filter(|d| !d.refused) {
            assert!(
                vxu.contains(&format!("|{}^", d.filler_order)),
                "dose {}",
                d.filler_order
            );
        }
    }
    let (mut h, mut t) = (Vec::new(), Vec::new());
    let stats = write_population_with(&c, Layout::Consolidated, &mut h, &mut t).expect("writes");
    assert_eq!(stats.people, 200);
    let with_visits = everyone
        .iter()
        .filter(|p| consolidated_vxu(p).is_some())
        .count();
    assert_eq!(stats.messages as usize, with_visits);
    let text = String::from_utf8(h).expect("utf-8");
    assert_eq!(text.lines().count(), with_visits);
    assert_eq!(
        String::from_utf8(t).expect("utf-8").lines().count(),
        with_visits + 1
    );
}
