//! Provider facilities: codes, names, kinds, MRN namespaces, staff and the
//! vaccine formulary each one prefers (which combination vaccines it stocks).

use crate::data::{Antigen, Tables};
use crate::rng::{mix64, Rng, Weighted};

/// What kind of site a facility is; decides who goes there for what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FacilityKind {
    Hospital,
    Pediatrics,
    FamilyPractice,
    CommunityHealthCenter,
    Pharmacy,
    InternalMedicine,
}

impl FacilityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FacilityKind::Hospital => "hospital",
            FacilityKind::Pediatrics => "pediatrics",
            FacilityKind::FamilyPractice => "family_practice",
            FacilityKind::CommunityHealthCenter => "community_health_center",
            FacilityKind::Pharmacy => "pharmacy",
            FacilityKind::InternalMedicine => "internal_medicine",
        }
    }

    /// Primary-care sites keep a chart and re-report earlier doses as historical.
    pub fn is_primary_care(self) -> bool {
        !matches!(self, FacilityKind::Hospital | FacilityKind::Pharmacy)
    }
}

/// A facility as the public API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthFacility {
    /// MSH-4 and MRN assigning authority, e.g. `MA0001`.
    pub code: String,
    pub name: String,
    pub kind: FacilityKind,
    pub town: String,
    /// County FIPS code.
    pub county: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Staff {
    pub id: String,
    pub family: String,
    pub given: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Facility {
    pub info: SynthFacility,
    pub index: usize,
    /// MSH-3 sending application.
    pub app: &'static str,
    /// Sends names and addresses in upper case.
    pub uppercase: bool,
    pub sends_pd1: bool,
    /// Sends PID-24 `N` for single births (others leave it empty).
    pub sends_multiple_birth_n: bool,
    /// Reports next day (batch) rather than the same day.
    pub batch_next_day: bool,
    /// Gives ProQuad for the first MMR/varicella dose too (most give it at 4–6 y only).
    pub proquad_first_dose: bool,
    mrn_prefix: &'static str,
    mrn_modulus: u64,
    mrn_width: usize,
    mrn_mul: u64,
    mrn_add: u64,
    /// Product indices, most preferred first.
    pub formulary: Vec<usize>,
    pub providers: Vec<Staff>,
    pub nurses: Vec<Staff>,
    pub clerk: Staff,
}

const APPS: [&str; 8] = [
    "PEDSCHART",
    "CAREPOINT EHR",
    "MEDFLOW",
    "CLINIC ONE",
    "RXLINK",
    "HOSPITALIS",
    "NORTHSTAR EMR",
    "BAYSTATE EHR",
];

const MRN_PREFIXES: [&str; 6] = ["", "", "", "MR", "E", "P"];

/// A multiplier coprime with 10 (odd, not a multiple of 5).
pub(crate) fn coprime10(x: u64) -> u64 {
    let a = x | 1;
    if a % 5 == 0 {
        a + 2
    } else {
        a
    }
}

/// Decimal width that holds `n` distinct values.
pub(crate) fn width_for(n: u64, min: usize) -> usize {
    let mut w = 1;
    let mut cap = 10u64;
    while cap <= n && w < 18 {
        w += 1;
        cap = cap.saturating_mul(10);
    }
    w.max(min)
}

/// A bijection of `0..10^width` (multiply by a unit, add): distinct keys give distinct ids.
pub(crate) fn permute(key: u64, mul: u64, add: u64, modulus: u64) -> u64 {
    ((u128::from(key) * u128::from(mul) + u128::from(add)) % u128::from(modulus.max(1))) as u64
}

impl Facility {
    /// The facility's MRN for a person key: unique within the facility.
    pub fn mrn(&self, key: u64) -> String {
        let v = permute(key, self.mrn_mul, self.mrn_add, self.mrn_modulus);
        format!("{}{:0w$}", self.mrn_prefix, v, w = self.mrn_width)
    }

    pub fn code(&self) -> &str {
        &self.info.code
    }
}

fn staff(rng: &mut Rng, t: &Tables, id: String) -> Staff {
    let family = t
        .surname_all
        .sample(rng)
        .and_then(|i| t.surnames.get(i))
        .map(|s| s.name.clone())
        .unwrap_or_else(|| "Doe".into());
    let names = if rng.chance(0.5) { &t.female } else { &t.male };
    let given = names
        .older
        .sample(rng)
        .and_then(|i| names.names.get(i))
        .cloned()
        .unwrap_or_else(|| "Pat".into());
    Staff { id, family, given }
}

/// Builds `count` facilities from the seed.
pub(crate) fn build_facilities(seed: u64, count: u32, people: u64, t: &Tables) -> Vec<Facility> {
    let mut rng = Rng::derive(seed, 0xFAC, 0);
    let kinds = [
        (FacilityKind::Hospital, 8u64),
        (FacilityKind::Pediatrics, 30),
        (FacilityKind::FamilyPractice, 22),
        (FacilityKind::CommunityHealthCenter, 15),
        (FacilityKind::Pharmacy, 15),
        (FacilityKind::InternalMedicine, 10),
    ];
    let kind_w = Weighted::new(kinds.iter().map(|k| k.1));
    let guaranteed = [
        FacilityKind::Pediatrics,
        FacilityKind::Hospital,
        FacilityKind::FamilyPractice,
        FacilityKind::Pharmacy,
        FacilityKind::InternalMedicine,
        FacilityKind::CommunityHealthCenter,
    ];
    let min_width = width_for(people.saturating_add(1), 6);
    let mut out = Vec::with_capacity(count as usize);
    for i in 0..count as usize {
        let mut r = Rng::derive(seed, 0xFAC, i as u64 + 1);
        let kind = match guaranteed.get(i) {
            Some(k) => *k,
            None => kind_w
                .sample(&mut rng)
                .and_then(|k| kinds.get(k))
                .map(|k| k.0)
                .unwrap_or(FacilityKind::FamilyPractice),
        };
        let town_i = t.town_weights.sample(&mut r).unwrap_or(0);
        let (town, county) = t
            .towns
            .get(town_i)
            .map(|tw| (tw.name.clone(), tw.county.clone()))
            .unwrap_or_default();
        let surname = |r: &mut Rng| {
            t.surname_all
                .sample(r)
                .and_then(|s| t.surnames.get(s))
                .map(|s| s.name.clone())
                .unwrap_or_default()
        };
        let name = match (kind, r.below(3)) {
            (FacilityKind::Hospital, 0) => format!("{town} General Hospital"),
            (FacilityKind::Hospital, 1) => format!("{town} Medical Center"),
            (FacilityKind::Hospital, _) => format!("{} Memorial Hospital", surname(&mut r)),
            (FacilityKind::Pediatrics, 0) => format!("{town} Pediatrics"),
            (FacilityKind::Pediatrics, 1) => {
                format!("{} & {} Pediatrics", surname(&mut r), surname(&mut r))
            }
            (FacilityKind::Pediatrics, _) => format!("Children's Health of {town}"),
            (FacilityKind::FamilyPractice, 0) => format!("{town} Family Medicine"),
            (FacilityKind::FamilyPractice, _) => format!("{} Family Practice", surname(&mut r)),
            (FacilityKind::CommunityHealthCenter, _) => format!("{town} Community Health Center"),
            (FacilityKind::Pharmacy, 0) => format!("Bay State Pharmacy #{}", 100 + r.below(900)),
            (FacilityKind::Pharmacy, 1) => format!("{town} Apothecary"),
            (FacilityKind::Pharmacy, _) => format!("Commonwealth Drug #{}", 1000 + r.below(9000)),
            (FacilityKind::InternalMedicine, 0) => format!("{town} Internal Medicine"),
            (FacilityKind::InternalMedicine, _) => format!("{} Adult Medicine", surname(&mut r)),
        };
        let code = format!("MA{:04}", i + 1);
        let width = min_width + r.below(3) as usize;
        let modulus = 10u64.saturating_pow(width as u32);
        let providers = (0..2)
            .map(|k| {
                staff(
                    &mut r,
                    t,
                    format!(
                        "{}",
                        1_000_000_000 + mix64(seed ^ (i as u64 * 8 + k)) % 1_000_000_000
                    ),
                )
            })
            .collect();
        let nurses = (0..3)
            .map(|k| {
                staff(
                    &mut r,
                    t,
                    format!("RN{:04}", (mix64(seed ^ (i as u64 * 16 + k)) % 10_000)),
                )
            })
            .collect();
        let clerk_id = format!("CL{:03}", r.below(1000));
        let clerk = staff(&mut r, t, clerk_id);
        let formulary = build_formulary(&mut r, t, kind);
        out.push(Facility {
            info: SynthFacility {
                code,
                name,
                kind,
                town,
                county,
            },
            index: i,
            app: APPS
                .get(r.below(APPS.len() as u64) as usize)
                .copied()
                .unwrap_or("EHR"),
            uppercase: r.chance(0.3),
            sends_pd1: r.chance(0.85),
            sends_multiple_birth_n: r.chance(0.5),
            batch_next_day: r.chance(0.3),
            proquad_first_dose: r.chance(0.1),
            mrn_prefix: MRN_PREFIXES
                .get(r.below(MRN_PREFIXES.len() as u64) as usize)
                .copied()
                .unwrap_or(""),
            mrn_modulus: modulus,
            mrn_width: width,
            mrn_mul: coprime10(r.next_u64() % modulus),
            mrn_add: r.next_u64() % modulus,
            formulary,
            providers,
            nurses,
            clerk,
        });
    }
    out
}

/// Orders every product by this facility's preference. Combination vaccines the
/// facility does not stock are left out; everything else stays as a fallback.
fn build_formulary(r: &mut Rng, t: &Tables, kind: FacilityKind) -> Vec<usize> {
    let infant_combo = match r.below(100) {
        0..=34 => &["COMBO_PEDIARIX"][..],
        35..=64 => &["COMBO_PENTACEL"][..],
        65..=79 => &["COMBO_VAXELIS", "COMBO_PEDIARIX"][..],
        _ => &[][..],
    };
    let preschool = match r.below(100) {
        0..=39 => Some("COMBO_KINRIX"),
        40..=74 => Some("COMBO_QUADRACEL"),
        _ => None,
    };
    let proquad = r.chance(0.4);
    let flumist = kind != FacilityKind::Hospital && r.chance(0.2);
    let mut scored: Vec<(u64, usize)> = Vec::with_capacity(t.products.len());
    for (i, p) in t.products.iter().enumerate() {
        let combo = p.antigens.len() > 1;
        let mut score = r.below(1000);
        if combo {
            let stocked = infant_combo.iter().position(|k| *k == p.key);
            if let Some(pos) = stocked {
                score = 100_000 - pos as u64;
            } else if Some(p.key.as_str()) == preschool || (p.key == "COMBO_PROQUAD" && proquad) {
                score = 90_000;
            } else {
                continue;
            }
        }
        // Age-restricted products beat the general ones when they apply.
        if p.key.starts_with("FLU_FLUZONE_HD") {
            score += 50_000;
        }
        if p.key == "FLU_FLUMIST_QIV" {
            if !flumist {
                continue;
            }
            score += 40_000;
        }
        if p.key.starts_with("COVID_PFIZER_PED") {
            score += 30_000;
        }
        scored.push((score, i));
    }
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().map(|(_, i)| i).collect()
}

/// Antigens a combination vaccine may add beyond what the visit asked for
/// (an extra HepB/IPV/Hib dose in a combination is accepted practice).
pub(crate) fn harmless_extra(a: Antigen) -> bool {
    matches!(a, Antigen::HepB | Antigen::Ipv | Antigen::Hib)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mrns_are_unique_per_facility() {
        let t = Tables::embedded().expect("tables");
        let f = build_facilities(9, 6, 50_000, t);
        assert_eq!(f.len(), 6);
        assert_eq!(f[0].info.code, "MA0001");
        let mut seen = std::collections::HashSet::new();
        for k in 1..=50_000 {
            assert!(seen.insert(f[2].mrn(k)));
        }
        assert_ne!(f[0].mrn(1), f[1].mrn(1));
    }

    #[test]
    fn widths() {
        assert_eq!(width_for(999, 1), 3);
        assert_eq!(width_for(1000, 1), 4);
        assert_eq!(width_for(5, 6), 6);
        assert_eq!(coprime10(25), 27);
    }
}
