//! The streaming generator: one family (a single birth, twins or triplets) at
//! a time, each from its own random stream, so memory stays bounded and the
//! output depends only on the config.

use std::collections::VecDeque;

use chrono::{Datelike, Months, NaiveDate};
use immunis_model::{
    Address, BirthDate, Code, Dated, Guardian, NameType, Patient, PatientIdentifier, PersonName,
    Phone, RegistryStatus,
};

use crate::data::{Antigen, Route, Tables};
use crate::facility::{build_facilities, harmless_extra, Facility, FacilityKind, SynthFacility};
use crate::message::{build_vxu, lot_number, Demographics, Header, Order, OrderKind};
use crate::person::{household, member, view, Household, IdSpace, Member, View};
use crate::rng::{mix64, Rng};
use crate::schedule::{add_days, age_days, age_years, birthday, plan, PlanInput, VisitKind};
use crate::{MessageKind, Result, SynthConfig, SynthDose, SynthMessage, SynthPerson};

/// Streams [`SynthPerson`]s for a [`SynthConfig`]; see the crate docs.
pub struct Generator {
    cfg: SynthConfig,
    t: &'static Tables,
    facilities: Vec<Facility>,
    public: Vec<SynthFacility>,
    ids: IdSpace,
    next_family: u64,
    next_key: u64,
    pending: VecDeque<SynthPerson>,
    salt: u64,
    buf: String,
}

#[derive(Clone, Copy)]
struct Item {
    product: usize,
    refused: bool,
    seq: u32,
}

struct Visit {
    date: NaiveDate,
    facility: usize,
    items: Vec<Item>,
    birth_hospital: bool,
}

struct GivenDose {
    seq: u32,
    date: NaiveDate,
    product: usize,
    facility: usize,
}

/// A historical re-report: product, reported date, unspecified CVX used instead.
type HistoricalReport = (usize, NaiveDate, Option<(&'static str, &'static str)>);

fn antigen_mask(a: &[Antigen]) -> u32 {
    a.iter().fold(0, |m, x| m | (1 << x.index()))
}

impl Generator {
    pub fn new(cfg: SynthConfig) -> Result<Generator> {
        cfg.validate()?;
        let t = Tables::embedded()?;
        let facilities = build_facilities(cfg.seed, cfg.facilities, cfg.people, t);
        let public = facilities.iter().map(|f| f.info.clone()).collect();
        Ok(Generator {
            ids: IdSpace::new(cfg.seed, cfg.people),
            salt: mix64(cfg.seed ^ 0x5A17),
            cfg,
            t,
            facilities,
            public,
            next_family: 0,
            next_key: 1,
            pending: VecDeque::new(),
            buf: String::with_capacity(4096),
        })
    }

    /// The provider facilities messages come from.
    pub fn facilities(&self) -> &[SynthFacility] {
        &self.public
    }

    pub fn config(&self) -> &SynthConfig {
        &self.cfg
    }

    /// A facility of one of `kinds`, preferably in `county`, preferably not `exclude`.
    fn choose(
        &self,
        rng: &mut Rng,
        kinds: &[FacilityKind],
        county: &str,
        exclude: Option<usize>,
    ) -> usize {
        let ok = |f: &Facility| kinds.contains(&f.info.kind) && Some(f.index) != exclude;
        let local: Vec<usize> = self
            .facilities
            .iter()
            .filter(|f| ok(f) && f.info.county == county)
            .map(|f| f.index)
            .collect();
        if !local.is_empty() && rng.chance(0.8) {
            if let Some(&i) = rng.pick(&local) {
                return i;
            }
        }
        let any: Vec<usize> = self
            .facilities
            .iter()
            .filter(|f| ok(f))
            .map(|f| f.index)
            .collect();
        if let Some(&i) = rng.pick(&any) {
            return i;
        }
        // No facility of those kinds: any other facility, else the excluded one.
        let n = self.facilities.len() as u64;
        let i = rng.below(n) as usize;
        match exclude {
            Some(e) if n > 1 && i == e => (i + 1) % n as usize,
            _ => i,
        }
    }

    fn county_of(&self, town: usize) -> &str {
        self.t
            .towns
            .get(town)
            .map(|t| t.county.as_str())
            .unwrap_or("")
    }

    /// Primary-care provider timeline: (from, facility).
    fn episodes(&self, rng: &mut Rng, hh: &Household) -> Vec<(NaiveDate, usize)> {
        const CHILD: [FacilityKind; 4] = [
            FacilityKind::Pediatrics,
            FacilityKind::Pediatrics,
            FacilityKind::FamilyPractice,
            FacilityKind::CommunityHealthCenter,
        ];
        const ADULT: [FacilityKind; 3] = [
            FacilityKind::FamilyPractice,
            FacilityKind::InternalMedicine,
            FacilityKind::CommunityHealthCenter,
        ];
        let start = hh.birth.max(self.cfg.history_start);
        let adult_from = birthday(hh.birth, 18);
        let kinds_on = |d: NaiveDate, rng: &mut Rng| -> Vec<FacilityKind> {
            if d < adult_from {
                if rng.chance(0.6) {
                    vec![FacilityKind::Pediatrics]
                } else {
                    CHILD[2..].to_vec()
                }
            } else {
                ADULT.to_vec()
            }
        };
        let county0 = hh.residences.first().map(|r| r.town).unwrap_or(0);
        let k = kinds_on(start, rng);
        let mut eps = vec![(
            hh.birth,
            self.choose(rng, &k, self.county_of(county0), None),
        )];
        for pair in hh.residences.windows(2) {
            let (old, new) = (&pair[0], &pair[1]);
            let moved_county = self.county_of(old.town) != self.county_of(new.town);
            if rng.chance(if moved_county { 0.85 } else { 0.4 }) {
                let cur = eps.last().map(|e| e.1);
                let k = kinds_on(new.from, rng);
                eps.push((
                    new.from,
                    self.choose(rng, &k, self.county_of(new.town), cur),
                ));
            }
        }
        if rng.chance(self.cfg.provider_change_rate) {
            let span = (self.cfg.today - start).num_days();
            if span > 60 {
                let d = add_days(start, 30 + rng.below(span as u64 - 30) as i64);
                let cur = eps.iter().rev().find(|e| e.0 <= d).map(|e| e.1);
                let town = hh.residence_on(d).map(|r| r.town).unwrap_or(0);
                let k = kinds_on(d, rng);
                eps.push((d, self.choose(rng, &k, self.county_of(town), cur)));
            }
        }
        // Leaving the pediatrician around 18–21.
        let transition = add_days(adult_from, rng.below(3 * 365) as i64);
        if transition <= self.cfg.today {
            let cur = eps.iter().rev().find(|e| e.0 <= transition).map(|e| e.1);
            if cur
                .and_then(|c| self.facilities.get(c))
                .map(|f| f.info.kind)
                == Some(FacilityKind::Pediatrics)
            {
                let town = hh.residence_on(transition).map(|r| r.town).unwrap_or(0);
                eps.push((
                    transition,
                    self.choose(rng, &ADULT, self.county_of(town), cur),
                ));
            }
        }
        eps.sort_by_key(|e| e.0);
        eps
    }

    /// Products covering `needs` from the facility's formulary.
    fn resolve(
        &self,
        fac: &Facility,
        needs: &[Antigen],
        date: NaiveDate,
        age: i64,
        counts: &[u8; 18],
    ) -> Vec<usize> {
        let mut remaining = antigen_mask(needs);
        let mut chosen = Vec::new();
        for &pi in &fac.formulary {
            if remaining == 0 {
                break;
            }
            let Some(p) = self.t.products.get(pi) else {
                continue;
            };
            if !p.available(date, age) {
                continue;
            }
            let pmask = antigen_mask(&p.antigens);
            let covers = pmask & remaining;
            if covers == 0 {
                continue;
            }
            if p.antigens.len() > 1 {
                let extras_ok = p
                    .antigens
                    .iter()
                    .all(|a| remaining & (1 << a.index()) != 0 || harmless_extra(*a));
                if covers.count_ones() < 2 || !extras_ok {
                    continue;
                }
                if p.key == "COMBO_PROQUAD" && age < 1461 && !fac.proquad_first_dose {
                    continue;
                }
            } else if let (Some(limit), Some(a)) = (p.infant_doses, p.antigens.first()) {
                if age < 365 && counts.get(a.index()).copied().unwrap_or(0) >= limit {
                    // Series already complete with this product (Rotarix, PedvaxHIB).
                    remaining &= !pmask;
                    continue;
                }
            }
            chosen.push(pi);
            remaining &= !pmask;
        }
        chosen
    }

    fn generate_family(&mut self) {
        let f = self.next_family;
        self.next_family += 1;
        let cfg = &self.cfg;
        let t = self.t;
        let mut rng = Rng::derive(cfg.seed, 0xFA31, f);
        let hh = household(&mut rng, cfg, t);
        let remaining = cfg.people + 1 - self.next_key;
        let x = rng.f64();
        let size = if x < cfg.triplet_rate {
            3
        } else if x < cfg.triplet_rate + cfg.twin_rate {
            2
        } else {
            1
        }
        .min(remaining);
        let twin_group = (size > 1).then_some(f + 1);
        let mut members: Vec<Member> = Vec::with_capacity(size as usize);
        for i in 0..size {
            let taken: Vec<String> = members.iter().map(|m| m.given.clone()).collect();
            let order = (size > 1).then_some(i as u8 + 1);
            members.push(member(
                &mut rng,
                t,
                &hh,
                &self.ids,
                self.next_key,
                order,
                &taken,
            ));
            self.next_key += 1;
        }

        let adult_start = NaiveDate::from_ymd_opt(
            cfg.today.year() - cfg.adult_history_years as i32,
            cfg.today.month(),
            1,
        )
        .unwrap_or(cfg.history_start);
        let planned = plan(
            &mut rng,
            &PlanInput {
                birth: hh.birth,
                today: cfg.today,
                history_start: cfg.history_start,
                adult_start,
                compliance: hh.compliance,
                propensity: hh.propensity,
                born_here: hh.born_here,
            },
        );
        let episodes = self.episodes(&mut rng, &hh);
        let visits = self.assign(&mut rng, &hh, &planned, &episodes);
        for m in &members {
            let p = self.person(&hh, m, twin_group, &visits);
            self.pending.push_back(p);
        }
    }

    /// Decides where each planned visit happens and which products it uses.
    fn assign(
        &self,
        rng: &mut Rng,
        hh: &Household,
        planned: &[crate::schedule::PlannedVisit],
        episodes: &[(NaiveDate, usize)],
    ) -> Vec<Visit> {
        let mut counts = [0u8; 18];
        let mut seq = 0u32;
        let mut pharmacies: Vec<(usize, usize)> = Vec::new();
        let mut hospital = None;
        let mut out = Vec::with_capacity(planned.len());
        for pv in planned {
            let town = hh.residence_on(pv.date).map(|r| r.town).unwrap_or(0);
            let primary = episodes
                .iter()
                .rev()
                .find(|e| e.0 <= pv.date)
                .or(episodes.first())
                .map(|e| e.1)
                .unwrap_or(0);
            let age_y = age_years(hh.birth, pv.date);
            let pharmacy_p = match pv.kind {
                VisitKind::Flu | VisitKind::Covid if age_y >= 18 => 0.5,
                VisitKind::Covid if age_y >= 12 => 0.2,
                VisitKind::Adult if pv.needs.contains(&Antigen::Zoster) => 0.4,
                VisitKind::Adult => 0.15,
                _ => 0.0,
            };
            let (facility, birth_hospital) = if pv.kind == VisitKind::Birth {
                let h = *hospital.get_or_insert_with(|| {
                    self.choose(rng, &[FacilityKind::Hospital], self.county_of(town), None)
                });
                (h, true)
            } else if pharmacy_p > 0.0 && rng.chance(pharmacy_p) {
                let ph = match pharmacies.iter().find(|p| p.0 == town) {
                    Some(p) => p.1,
                    None => {
                        let p =
                            self.choose(rng, &[FacilityKind::Pharmacy], self.county_of(town), None);
                        pharmacies.push((town, p));
                        p
                    }
                };
                (ph, false)
            } else {
                (primary, false)
            };
            let Some(fac) = self.facilities.get(facility) else {
                continue;
            };
            let age = age_days(hh.birth, pv.date);
            let mut items = Vec::new();
            let mut needs = Vec::with_capacity(pv.needs.len());
            for &a in &pv.needs {
                if hh.refuses.contains(&a) {
                    if rng.chance(0.8) {
                        if let Some(&p) = self.resolve(fac, &[a], pv.date, age, &counts).first() {
                            seq += 1;
                            items.push(Item {
                                product: p,
                                refused: true,
                                seq,
                            });
                        }
                    }
                } else {
                    needs.push(a);
                }
            }
            for p in self.resolve(fac, &needs, pv.date, age, &counts) {
                if let Some(prod) = self.t.products.get(p) {
                    for a in &prod.antigens {
                        if let Some(c) = counts.get_mut(a.index()) {
                            *c = c.saturating_add(1);
                        }
                    }
                }
                seq += 1;
                items.push(Item {
                    product: p,
                    refused: false,
                    seq,
                });
            }
            if !items.is_empty() {
                out.push(Visit {
                    date: pv.date,
                    facility,
                    items,
                    birth_hospital,
                });
            }
        }
        out
    }

    fn filler(&self, key: u64, tag: u64, seq: u64) -> String {
        format!("{}", mix64(mix64(self.salt ^ key) ^ (tag << 32) ^ seq))
    }

    fn lot(&self, fac: usize, product: usize, date: NaiveDate) -> (String, NaiveDate) {
        let quarter = (date.year().max(0) as u64) * 4 + u64::from(date.month0() / 3);
        let h = mix64(self.salt ^ ((fac as u64) << 48) ^ ((product as u64) << 32) ^ quarter);
        let mvx = self
            .t
            .products
            .get(product)
            .map(|p| p.mvx.as_str())
            .unwrap_or("");
        let q_start =
            NaiveDate::from_ymd_opt(date.year(), date.month0() / 3 * 3 + 1, 1).unwrap_or(date);
        let months = 6 + (h >> 52) % 18;
        let exp = q_start
            .checked_add_months(Months::new(months as u32))
            .unwrap_or(date);
        (lot_number(mvx, h), exp)
    }

    /// Builds one member's truth, doses and messages.
    fn person(
        &mut self,
        hh: &Household,
        m: &Member,
        twin_group: Option<u64>,
        visits: &[Visit],
    ) -> SynthPerson {
        let cfg = &self.cfg;
        let t = self.t;
        let mut rng = Rng::derive(cfg.seed, 0x9E4, m.key);
        let mut views: Vec<(usize, View, NaiveDate)> = Vec::new();
        let mut given: Vec<GivenDose> = Vec::new();
        let mut doses = Vec::new();
        let mut messages: Vec<(NaiveDate, u32, SynthMessage)> = Vec::new();
        let mut msg_seq = 0u64;
        let ctl = |seq: u64| {
            format!(
                "{:016X}",
                mix64(self.salt.rotate_left(17) ^ ((m.key << 16) | (seq & 0xFFFF)))
            )
        };

        for v in visits {
            let Some(fac) = self.facilities.get(v.facility) else {
                continue;
            };
            let first_time = !views.iter().any(|x| x.0 == v.facility);
            if first_time {
                let mut vr = Rng::derive(cfg.seed, 0x51E, (m.key << 14) ^ v.facility as u64);
                let vw = view(&mut vr, cfg, t, hh, m, fac, v.birth_hospital);
                views.push((v.facility, vw, v.date));
            }
            let Some((_, vw, since)) = views.iter().find(|x| x.0 == v.facility) else {
                continue;
            };
            let res = match hh.residence_on(v.date) {
                Some(r) => r,
                None => continue,
            };
            let town = t.towns.get(res.town);
            let mrn = fac.mrn(m.key);
            let minor = age_years(hh.birth, v.date) < 18;

            // Owned pieces the orders borrow.
            let mut fillers: Vec<String> = Vec::new();
            let mut lots: Vec<(String, NaiveDate)> = Vec::new();
            let mut hist: Vec<HistoricalReport> = Vec::new();
            if first_time && fac.info.kind.is_primary_care() && rng.chance(cfg.historical_rate) {
                for g in given.iter().filter(|g| g.facility != v.facility) {
                    let date = if rng.chance(0.05) {
                        add_days(g.date, rng.range(-3, 3)).max(hh.birth)
                    } else {
                        g.date
                    };
                    let prod = t.products.get(g.product);
                    let unspecified = prod
                        .filter(|p| p.antigens.len() == 1 && rng.chance(0.25))
                        .and_then(|p| p.antigens.first())
                        .and_then(|a| a.unspecified_cvx());
                    fillers.push(self.filler(m.key, 0x10000 + v.facility as u64, u64::from(g.seq)));
                    hist.push((g.product, date, unspecified));
                }
            }
            let n_hist = hist.len();
            for it in &v.items {
                if it.refused {
                    fillers.push("9999".to_string());
                    lots.push((String::new(), v.date));
                } else {
                    fillers.push(self.filler(m.key, 1, u64::from(it.seq)));
                    lots.push(self.lot(v.facility, it.product, v.date));
                }
            }
            let nurse = rng.pick(&fac.nurses).unwrap_or(&fac.clerk);
            let provider = rng.pick(&fac.providers).unwrap_or(&fac.clerk);
            let infant = age_days(hh.birth, v.date) < 3 * 365;
            let adult = age_years(hh.birth, v.date) >= 19;
            let mut orders: Vec<Order<'_>> = Vec::with_capacity(hist.len() + v.items.len());
            for (i, (pi, date, unspec)) in hist.iter().enumerate() {
                let Some(p) = t.products.get(*pi) else {
                    continue;
                };
                orders.push(Order {
                    product: p,
                    date: *date,
                    filler: fillers.get(i).map(String::as_str).unwrap_or("0"),
                    action: "A",
                    kind: OrderKind::Historical {
                        cvx: unspec.unwrap_or((p.cvx.as_str(), p.cvx_text.as_str())),
                    },
                });
            }
            let mut site_i = rng.below(2);
            for (j, it) in v.items.iter().enumerate() {
                let Some(p) = t.products.get(it.product) else {
                    continue;
                };
                let filler = fillers.get(n_hist + j).map(String::as_str).unwrap_or("0");
                let kind = if it.refused {
                    let reason = if adult {
                        ("03", "Patient decision")
                    } else if rng.chance(0.15) {
                        ("01", "Religious exemption")
                    } else {
                        ("00", "Parental decision")
                    };
                    OrderKind::Refused { reason }
                } else {
                    site_i += 1;
                    let left = site_i % 2 == 0;
                    let site = match (p.route, infant) {
                        (r, _) if !r.has_site() => None,
                        (_, true) => Some(if left {
                            ("LT", "Left Thigh")
                        } else {
                            ("RT", "Right Thigh")
                        }),
                        (Route::Subcutaneous, false) => Some(if left {
                            ("LA", "Left Arm")
                        } else {
                            ("RA", "Right Arm")
                        }),
                        (_, false) => Some(if left {
                            ("LD", "Left Deltoid")
                        } else {
                            ("RD", "Right Deltoid")
                        }),
                    };
                    let (lot, expiration) = lots.get(j).cloned().unwrap_or_default();
                    OrderKind::Administered {
                        lot,
                        expiration,
                        site,
                        vfc: if adult {
                            ("V01", "Not VFC eligible")
                        } else {
                            hh.vfc
                        },
                        nurse,
                        provider,
                    }
                };
                orders.push(Order {
                    product: p,
                    date: v.date,
                    filler,
                    action: "A",
                    kind,
                });
            }

            let demo = Demographics {
                view: vw,
                hh,
                member: m,
                res,
                town: town.map(|x| x.name.as_str()).unwrap_or(""),
                county: town.map(|x| x.county.as_str()).unwrap_or(""),
                mrn: &mrn,
                minor,
                since: *since,
            };
            let next_day = add_days(v.date, 1);
            let sent = if fac.batch_next_day && next_day <= cfg.today {
                next_day
            } else {
                v.date
            };
            let secs = 8 * 3600 + rng.below(10 * 3600) as u32;
            let mut emit =
                |kind: MessageKind,
                 sent: NaiveDate,
                 secs: u32,
                 orders: &[Order<'_>],
                 buf: &mut String,
                 msgs: &mut Vec<(NaiveDate, u32, SynthMessage)>| {
                    let control_id = ctl(msg_seq);
                    msg_seq += 1;
                    buf.clear();
                    build_vxu(
                        buf,
                        t,
                        &Header {
                            fac,
                            control_id: &control_id,
                            sent,
                            seconds: secs,
                        },
                        &demo,
                        orders,
                    );
                    msgs.push((
                        sent,
                        secs,
                        SynthMessage {
                            facility: fac.info.code.clone(),
                            control_id,
                            kind,
                            sent,
                            variations: vw.variations.clone(),
                            hl7: buf.clone(),
                        },
                    ));
                };
            let mut buf = std::mem::take(&mut self.buf);
            emit(
                MessageKind::Visit,
                sent,
                secs,
                &orders,
                &mut buf,
                &mut messages,
            );
            if rng.chance(cfg.duplicate_rate) {
                let (d, s) = if rng.chance(0.5) || add_days(sent, 1) > cfg.today {
                    (sent, (secs + 60 + rng.below(3600) as u32).min(86_399))
                } else {
                    (add_days(sent, 1), 8 * 3600 + rng.below(3600) as u32)
                };
                emit(
                    MessageKind::Duplicate,
                    d,
                    s,
                    &orders,
                    &mut buf,
                    &mut messages,
                );
            }
            for o in orders.iter().skip(n_hist) {
                if matches!(o.kind, OrderKind::Administered { .. }) && rng.chance(cfg.update_rate) {
                    let d = add_days(sent, 1 + rng.below(30) as i64).min(cfg.today);
                    let upd = [Order {
                        product: o.product,
                        date: o.date,
                        filler: o.filler,
                        action: "U",
                        kind: match &o.kind {
                            OrderKind::Administered {
                                lot,
                                expiration,
                                site,
                                vfc,
                                nurse,
                                provider,
                            } => OrderKind::Administered {
                                lot: lot.clone(),
                                expiration: *expiration,
                                site: *site,
                                vfc: *vfc,
                                nurse,
                                provider,
                            },
                            _ => continue,
                        },
                    }];
                    let s = 8 * 3600 + rng.below(10 * 3600) as u32;
                    emit(MessageKind::Update, d, s, &upd, &mut buf, &mut messages);
                }
            }
            self.buf = buf;

            for (j, it) in v.items.iter().enumerate() {
                let Some(p) = t.products.get(it.product) else {
                    continue;
                };
                doses.push(SynthDose {
                    date: v.date,
                    cvx: p.cvx.clone(),
                    trade_name: p.trade_name.clone(),
                    facility: fac.info.code.clone(),
                    filler_order: fillers.get(n_hist + j).cloned().unwrap_or_default(),
                    refused: it.refused,
                });
                if !it.refused {
                    given.push(GivenDose {
                        seq: it.seq,
                        date: v.date,
                        product: it.product,
                        facility: v.facility,
                    });
                }
            }
        }
        messages.sort_by_key(|(d, s, _)| (*d, *s));
        let first_contact = views.iter().map(|v| v.2).min().unwrap_or(cfg.today);
        let patient = self.truth(hh, m, &views, first_contact);
        SynthPerson {
            key: m.key,
            twin_group,
            patient,
            doses,
            messages: messages.into_iter().map(|x| x.2).collect(),
        }
    }

    fn truth(
        &self,
        hh: &Household,
        m: &Member,
        views: &[(usize, View, NaiveDate)],
        since: NaiveDate,
    ) -> Patient {
        let name = PersonName {
            family: hh.family.clone(),
            given: m.given.clone(),
            middle: m.middle.clone(),
            suffix: m.suffix.clone(),
            name_type: NameType::Legal,
        };
        let mut p = Patient::new(name, BirthDate(hh.birth), m.sex);
        for (fi, _, _) in views {
            if let Some(f) = self.facilities.get(*fi) {
                p.identifiers
                    .push(PatientIdentifier::new(&f.mrn(m.key), f.code(), "MR"));
            }
        }
        if let Some(bc) = &m.birth_cert {
            p.identifiers
                .push(PatientIdentifier::new(bc, "MAVITALS", "BC"));
        }
        if let Some(ma) = &m.medicaid_id {
            p.identifiers
                .push(PatientIdentifier::new(ma, "MASSHEALTH", "MA"));
        }
        p.mother_maiden_name = Some(PersonName {
            family: hh.mother_maiden.clone(),
            given: hh.mother.given.clone(),
            middle: None,
            suffix: None,
            name_type: NameType::Maiden,
        });
        let code = |c: (&str, &str)| Code {
            code: c.0.to_string(),
            text: Some(c.1.to_string()),
            system: Some("CDCREC".to_string()),
        };
        p.race = vec![code(hh.race)];
        p.ethnicity = vec![code(hh.ethnicity)];
        for r in hh.residences.iter().rev() {
            let town = self.t.towns.get(r.town);
            p.addresses.push(Address {
                street1: r.street.clone(),
                street2: r.street2.clone(),
                city: town.map(|t| t.name.clone()).unwrap_or_default(),
                state: "MA".to_string(),
                zip: r.zip.clone(),
                country: Some("USA".to_string()),
                county: town.map(|t| t.county.clone()),
                address_type: Some("H".to_string()),
            });
            if !p.phones.iter().any(|ph| ph.number == r.phone) {
                p.phones.push(Phone {
                    number: r.phone.clone(),
                    use_code: Some("PRN".to_string()),
                    equipment: Some(if r.mobile { "CP" } else { "PH" }.to_string()),
                    email: None,
                });
            }
        }
        if age_years(hh.birth, self.cfg.today) < 18 {
            p.guardians.push(Guardian {
                name: PersonName {
                    family: hh.mother.family.clone(),
                    given: hh.mother.given.clone(),
                    ..PersonName::default()
                },
                relationship: Code::with_text("MTH", "Mother"),
                address: p.addresses.first().cloned(),
                phone: p.phones.first().cloned(),
            });
            if let Some(f) = &hh.father {
                p.guardians.push(Guardian {
                    name: PersonName {
                        family: f.family.clone(),
                        given: f.given.clone(),
                        ..PersonName::default()
                    },
                    relationship: Code::with_text("FTH", "Father"),
                    address: p.addresses.first().cloned(),
                    phone: p.phones.first().cloned(),
                });
            }
        }
        p.multiple_birth = Some(m.order.is_some());
        p.birth_order = m.order;
        p.registry_status = Some(Dated {
            value: RegistryStatus::Active,
            effective: Some(since),
        });
        p.publicity = Some(Dated {
            value: Code::with_text(hh.publicity.0, hh.publicity.1),
            effective: Some(since),
        });
        p.protection = Some(Dated {
            value: hh.protection,
            effective: Some(since),
        });
        p
    }
}

impl Iterator for Generator {
    type Item = SynthPerson;

    fn next(&mut self) -> Option<SynthPerson> {
        while self.pending.is_empty() && self.next_key <= self.cfg.people {
            self.generate_family();
        }
        self.pending.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn administered_products_fit_date_and_age() {
        let today = NaiveDate::from_ymd_opt(2025, 6, 30).expect("date");
        let g = Generator::new(SynthConfig::new(1500, 99, today)).expect("valid");
        let t = g.t;
        let mut rv_over = 0;
        let mut checked = 0;
        for p in g {
            let birth = p.patient.birth_date.0;
            let mut rv = 0;
            for d in p.doses.iter().filter(|d| !d.refused) {
                let candidates: Vec<_> = t
                    .products
                    .iter()
                    .filter(|x| x.cvx == d.cvx && x.trade_name == d.trade_name)
                    .collect();
                assert!(!candidates.is_empty(), "{d:?}");
                let age = age_days(birth, d.date);
                assert!(
                    candidates.iter().any(|x| x.available(d.date, age)),
                    "{} given at age {age} d on {}",
                    d.trade_name,
                    d.date
                );
                checked += 1;
                if d.cvx == "116" || d.cvx == "119" {
                    rv += 1;
                }
            }
            if rv > 3 {
                rv_over += 1;
            }
        }
        assert!(checked > 10_000);
        assert_eq!(rv_over, 0, "rotavirus series has at most 3 doses");
    }

    #[test]
    fn resolve_prefers_stocked_combinations() {
        let today = NaiveDate::from_ymd_opt(2025, 6, 30).expect("date");
        let g = Generator::new(SynthConfig::new(1, 1, today)).expect("valid");
        let date = NaiveDate::from_ymd_opt(2024, 3, 1).expect("date");
        let needs = [
            Antigen::Dtap,
            Antigen::Ipv,
            Antigen::Hib,
            Antigen::Pcv,
            Antigen::Rv,
            Antigen::HepB,
        ];
        for fac in &g.facilities {
            let chosen = g.resolve(fac, &needs, date, 61, &[0; 18]);
            let mut covered = 0u32;
            for &p in &chosen {
                covered |= antigen_mask(&g.t.products[p].antigens);
            }
            assert_eq!(
                covered & antigen_mask(&needs),
                antigen_mask(&needs),
                "{}",
                fac.info.code
            );
            // Kinrix/Quadracel are for 4–6 years, never at 2 months.
            assert!(chosen.iter().all(|&p| g.t.products[p].cvx != "130"));
            // The 4-year visit never gets an infant combination.
            let pre = g.resolve(
                fac,
                &[Antigen::Dtap, Antigen::Ipv, Antigen::Mmr, Antigen::Var],
                date,
                1500,
                &[0; 18],
            );
            assert!(pre
                .iter()
                .all(|&p| !matches!(g.t.products[p].cvx.as_str(), "110" | "120" | "146")));
        }
    }
}
