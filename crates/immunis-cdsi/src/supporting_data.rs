//! Loading CDC supporting data XML (CDSi chapter 2, "Supporting data") into
//! the compiled structures of [`crate::model`].
//!
//! Parsing happens once, at engine construction. Unknown values in a future
//! release degrade gracefully (e.g. an unknown conditional-skip condition type
//! never fires) rather than failing, but structurally broken XML is a typed
//! [`DataError`].

use roxmltree::{Document, Node};

use crate::date::{parse_data_date, Day, Dur};
use crate::error::DataError;
use crate::model::*;

/// The complete, compiled supporting data set.
#[derive(Debug, Clone)]
pub struct SupportingData {
    /// Antigens, index = [`AntigenId`].
    pub antigens: Vec<Antigen>,
    /// Vaccine groups in schedule order, index = [`VaccineGroupId`].
    pub vaccine_groups: Vec<VaccineGroup>,
    /// CVX → antigen associations, indexed by CVX code (`MAX_CVX` entries).
    pub cvx_antigens: Vec<Vec<Association>>,
    /// CVX short descriptions, indexed by CVX code.
    pub cvx_names: Vec<Option<String>>,
    /// Live virus conflicts sorted by current CVX.
    pub live_virus: Vec<LiveVirusConflict>,
    /// For each CVX, the range into `live_virus` where it is the current vaccine.
    pub live_by_current: Vec<(u32, u32)>,
    /// For each CVX, whether it is the previous vaccine of any live virus conflict.
    pub live_previous: Vec<bool>,
    /// Coded observations.
    pub observations: Vec<ObservationDef>,
    /// Which CDC release this is (e.g. `4.64`), from its release notes;
    /// `unknown` when loaded without them.
    pub release: String,
}

fn child<'a, 'i>(n: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    n.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

fn children<'a, 'i: 'a>(n: Node<'a, 'i>, name: &'a str) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    n.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

fn text<'a>(n: Node<'a, '_>, name: &str) -> &'a str {
    child(n, name).and_then(|c| c.text()).unwrap_or("").trim()
}

fn dur(n: Node<'_, '_>, name: &str) -> Option<Dur> {
    Dur::parse(text(n, name))
}

fn date(n: Node<'_, '_>, name: &str) -> Option<Day> {
    parse_data_date(text(n, name))
}

fn yes(n: Node<'_, '_>, name: &str) -> bool {
    let t = text(n, name);
    t.eq_ignore_ascii_case("yes") || t.eq_ignore_ascii_case("y")
}

/// Parses a CVX code ("03", "107").
pub(crate) fn parse_cvx(s: &str) -> Option<u16> {
    let v: u16 = s.trim().parse().ok()?;
    ((v as usize) < MAX_CVX).then_some(v)
}

fn parse_obs(s: &str) -> Option<u16> {
    s.trim().parse().ok()
}

fn cvx_list(s: &str) -> Vec<u16> {
    s.split([';', ','])
        .filter_map(parse_cvx)
        .collect::<Vec<_>>()
}

impl SupportingData {
    /// Parses a schedule supporting data XML document and the antigen
    /// supporting data XML documents (any order).
    pub fn from_xml_strings<S: AsRef<str>>(
        schedule_xml: &str,
        antigen_xmls: &[S],
    ) -> Result<SupportingData, DataError> {
        let sched = Document::parse(schedule_xml).map_err(|e| DataError::Xml {
            file: "schedule".into(),
            message: e.to_string(),
        })?;
        let root = sched.root_element();

        // vaccine groups
        let mut vaccine_groups = Vec::new();
        if let Some(vgs) = child(root, "vaccineGroups") {
            for vg in children(vgs, "vaccineGroup") {
                vaccine_groups.push(VaccineGroup {
                    name: text(vg, "name").to_string(),
                    administer_full: yes(vg, "administerFullVaccineGroup"),
                    antigens: Vec::new(),
                });
            }
        }
        if vaccine_groups.is_empty() {
            return Err(DataError::Missing("vaccineGroups".into()));
        }
        // antigen name -> vaccine group
        let mut antigen_group: Vec<(String, VaccineGroupId)> = Vec::new();
        if let Some(map) = child(root, "vaccineGroupToAntigenMap") {
            for m in children(map, "vaccineGroupMap") {
                let name = text(m, "name");
                let Some(gid) = vaccine_groups.iter().position(|g| g.name == name) else {
                    return Err(DataError::Invalid(format!(
                        "vaccineGroupMap names unknown vaccine group {name:?}"
                    )));
                };
                for a in children(m, "antigen") {
                    let an = a.text().unwrap_or("").trim().to_string();
                    antigen_group.push((an, gid as VaccineGroupId));
                }
            }
        }

        // antigens
        let mut antigens: Vec<Antigen> = Vec::new();
        for (i, xml) in antigen_xmls.iter().enumerate() {
            let doc = Document::parse(xml.as_ref()).map_err(|e| DataError::Xml {
                file: format!("antigen #{i}"),
                message: e.to_string(),
            })?;
            let ant = parse_antigen(doc.root_element(), &antigen_group, &vaccine_groups)?;
            antigens.push(ant);
        }
        if antigens.len() > 250 {
            return Err(DataError::Invalid("too many antigens".into()));
        }
        // antigen ids in vaccine groups, in the order of the schedule map
        for (name, gid) in &antigen_group {
            if let Some(aid) = antigens.iter().position(|a| &a.name == name) {
                vaccine_groups[*gid as usize]
                    .antigens
                    .push(aid as AntigenId);
            }
        }
        for (aid, a) in antigens.iter().enumerate() {
            let g = &mut vaccine_groups[a.vaccine_group as usize];
            if !g.antigens.contains(&(aid as AntigenId)) {
                g.antigens.push(aid as AntigenId);
            }
        }

        // CVX map
        let mut cvx_antigens: Vec<Vec<Association>> = vec![Vec::new(); MAX_CVX];
        let mut cvx_names: Vec<Option<String>> = vec![None; MAX_CVX];
        if let Some(map) = child(root, "cvxToAntigenMap") {
            for m in children(map, "cvxMap") {
                let Some(cvx) = parse_cvx(text(m, "cvx")) else {
                    continue;
                };
                cvx_names[cvx as usize] = Some(text(m, "shortDescription").to_string());
                for a in children(m, "association") {
                    let an = text(a, "antigen");
                    if let Some(aid) = antigens.iter().position(|x| x.name == an) {
                        cvx_antigens[cvx as usize].push(Association {
                            antigen: aid as AntigenId,
                            begin_age: dur(a, "associationBeginAge"),
                            end_age: dur(a, "associationEndAge"),
                        });
                    }
                }
            }
        }

        // live virus conflicts (CDSi 6.7)
        let mut live_virus = Vec::new();
        if let Some(lvs) = child(root, "liveVirusConflicts") {
            for lv in children(lvs, "liveVirusConflict") {
                let prev = child(lv, "previous").and_then(|p| parse_cvx(text(p, "cvx")));
                let cur = child(lv, "current").and_then(|p| parse_cvx(text(p, "cvx")));
                if let (Some(previous), Some(current)) = (prev, cur) {
                    let begin = dur(lv, "conflictBeginInterval").unwrap_or(Dur::ZERO);
                    let end = dur(lv, "conflictEndInterval").unwrap_or(Dur::ZERO);
                    let min_end = dur(lv, "minConflictEndInterval").unwrap_or(end);
                    live_virus.push(LiveVirusConflict {
                        previous,
                        current,
                        begin,
                        min_end,
                        end,
                    });
                }
            }
        }
        live_virus.sort_by_key(|l| l.current);
        let mut live_previous = vec![false; MAX_CVX];
        for lv in &live_virus {
            live_previous[lv.previous as usize] = true;
        }
        let mut live_by_current = vec![(0u32, 0u32); MAX_CVX];
        let mut i = 0;
        while i < live_virus.len() {
            let c = live_virus[i].current;
            let mut j = i;
            while j < live_virus.len() && live_virus[j].current == c {
                j += 1;
            }
            live_by_current[c as usize] = (i as u32, j as u32);
            i = j;
        }

        for a in antigens.iter_mut() {
            for sd in a.series.iter_mut().flat_map(|s| s.doses.iter_mut()) {
                sd.live = sd.preferable.iter().any(|pv| {
                    live_by_current
                        .get(pv.cvx as usize)
                        .is_some_and(|(lo, hi)| lo != hi)
                });
            }
        }

        // observations
        let mut observations = Vec::new();
        if let Some(obs) = child(root, "observations") {
            for o in children(obs, "observation") {
                let Some(code) = parse_obs(text(o, "observationCode")) else {
                    continue;
                };
                let mut coded_values = Vec::new();
                if let Some(cv) = child(o, "codedValues") {
                    for v in children(cv, "codedValue") {
                        coded_values.push((
                            text(v, "codeSystem").to_string(),
                            text(v, "code").to_string(),
                        ));
                    }
                }
                observations.push(ObservationDef {
                    code,
                    title: text(o, "observationTitle").to_string(),
                    coded_values,
                });
            }
        }

        Ok(SupportingData {
            antigens,
            vaccine_groups,
            cvx_antigens,
            cvx_names,
            live_virus,
            live_by_current,
            live_previous,
            observations,
            release: "unknown".into(),
        })
    }

    /// Vaccine group id by (exact) name.
    pub fn vaccine_group_id(&self, name: &str) -> Option<VaccineGroupId> {
        self.vaccine_groups
            .iter()
            .position(|g| g.name.eq_ignore_ascii_case(name.trim()))
            .map(|i| i as VaccineGroupId)
    }

    /// Antigen id by (exact) name.
    pub fn antigen_id(&self, name: &str) -> Option<AntigenId> {
        self.antigens
            .iter()
            .position(|a| a.name.eq_ignore_ascii_case(name.trim()))
            .map(|i| i as AntigenId)
    }

    /// Maps a coded value (e.g. a SNOMED code) to a CDSi observation code.
    pub fn observation_for_code(&self, system: &str, code: &str) -> Option<u16> {
        self.observations
            .iter()
            .find(|o| {
                o.coded_values.iter().any(|(s, c)| {
                    c == code && (system.is_empty() || s.eq_ignore_ascii_case(system))
                })
            })
            .map(|o| o.code)
    }
}

fn parse_age(n: Node<'_, '_>) -> AgeDef {
    AgeDef {
        abs_min: dur(n, "absMinAge"),
        min: dur(n, "minAge"),
        earliest_rec: dur(n, "earliestRecAge"),
        latest_rec: dur(n, "latestRecAge"),
        max: dur(n, "maxAge"),
        effective: date(n, "effectiveDate"),
        cessation: date(n, "cessationDate"),
    }
}

fn parse_interval(n: Node<'_, '_>) -> Option<IntervalDef> {
    let from = if text(n, "fromPrevious").eq_ignore_ascii_case("Y") {
        IntervalFrom::Previous
    } else if let Ok(t) = text(n, "fromTargetDose").parse::<u8>() {
        IntervalFrom::TargetDose(t.saturating_sub(1))
    } else if !text(n, "fromMostRecent").is_empty() {
        IntervalFrom::MostRecent(cvx_list(text(n, "fromMostRecent")))
    } else if let Some(o) = child(n, "fromRelevantObs").and_then(|o| parse_obs(text(o, "code"))) {
        IntervalFrom::Observation(o)
    } else {
        return None;
    };
    Some(IntervalDef {
        from,
        abs_min: dur(n, "absMinInt"),
        min: dur(n, "minInt"),
        earliest_rec: dur(n, "earliestRecInt"),
        latest_rec: dur(n, "latestRecInt"),
        priority_override: text(n, "intervalPriority").eq_ignore_ascii_case("override"),
        effective: date(n, "effectiveDate"),
        cessation: date(n, "cessationDate"),
    })
}

fn series_group_index(names: &mut Vec<String>, name: &str) -> u8 {
    if let Some(i) = names.iter().position(|n| n == name) {
        return i as u8;
    }
    names.push(name.to_string());
    (names.len() - 1) as u8
}

fn parse_condition(n: Node<'_, '_>, group_names: &mut Vec<String>) -> Condition {
    let kind = match text(n, "conditionType").to_ascii_lowercase().as_str() {
        "age" => ConditionKind::Age,
        "completed series" => ConditionKind::CompletedSeries,
        "interval" => ConditionKind::Interval,
        "vaccine count by age" => ConditionKind::CountByAge,
        "vaccine count by date" => ConditionKind::CountByDate,
        "vaccine count by date and age" => ConditionKind::CountByDateAndAge,
        _ => ConditionKind::Unknown,
    };
    let logic = match text(n, "doseCountLogic").to_ascii_lowercase().as_str() {
        "equal to" | "equal" => CountLogic::Equal,
        "less than" | "less" => CountLogic::Less,
        _ => CountLogic::Greater,
    };
    let series_groups = text(n, "seriesGroups")
        .split([';', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| series_group_index(group_names, s))
        .collect();
    Condition {
        kind,
        start_date: date(n, "startDate"),
        end_date: date(n, "endDate"),
        begin_age: dur(n, "beginAge"),
        end_age: dur(n, "endAge"),
        interval: dur(n, "interval"),
        dose_count: text(n, "doseCount").parse().unwrap_or(0),
        valid_only: text(n, "doseType").eq_ignore_ascii_case("valid"),
        logic,
        vaccine_types: cvx_list(text(n, "vaccineTypes")),
        series_groups,
    }
}

fn parse_skip(n: Node<'_, '_>, group_names: &mut Vec<String>) -> ConditionalSkip {
    let context = match text(n, "context").to_ascii_lowercase().as_str() {
        "evaluation" => SkipContext::Evaluation,
        "forecast" => SkipContext::Forecast,
        _ => SkipContext::Both,
    };
    let sets = children(n, "set")
        .map(|s| ConditionSet {
            effective: date(s, "effectiveDate"),
            cessation: date(s, "cessationDate"),
            all: text(s, "conditionLogic").eq_ignore_ascii_case("and"),
            conditions: children(s, "condition")
                .map(|c| parse_condition(c, group_names))
                .collect(),
        })
        .collect();
    ConditionalSkip {
        context,
        all: text(n, "setLogic").eq_ignore_ascii_case("and"),
        sets,
    }
}

fn parse_series_dose(n: Node<'_, '_>, group_names: &mut Vec<String>) -> SeriesDose {
    let season = child(n, "seasonalRecommendation");
    let mut sd = SeriesDose {
        ages: children(n, "age").map(parse_age).collect(),
        intervals: children(n, "interval").filter_map(parse_interval).collect(),
        allowable_intervals: children(n, "allowableInterval")
            .filter_map(parse_interval)
            .collect(),
        preferable: children(n, "preferableVaccine")
            .filter_map(|v| {
                Some(PreferableVaccine {
                    cvx: parse_cvx(text(v, "cvx"))?,
                    begin_age: dur(v, "beginAge"),
                    end_age: dur(v, "endAge"),
                    mvx: Mvx::parse(text(v, "mvx")),
                    volume: text(v, "volume").parse().ok(),
                    forecast: text(v, "forecastVaccineType").eq_ignore_ascii_case("Y"),
                })
            })
            .collect(),
        allowable: children(n, "allowableVaccine")
            .filter_map(|v| {
                Some(AllowableVaccine {
                    cvx: parse_cvx(text(v, "cvx"))?,
                    begin_age: dur(v, "beginAge"),
                    end_age: dur(v, "endAge"),
                })
            })
            .collect(),
        inadvertent: children(n, "inadvertentVaccine")
            .filter_map(|v| parse_cvx(text(v, "cvx")))
            .collect(),
        skips: children(n, "conditionalSkip")
            .map(|s| parse_skip(s, group_names))
            .filter(|s| !s.sets.is_empty())
            .collect(),
        recurring: yes(n, "recurringDose"),
        season_start: season.and_then(|s| date(s, "startDate")),
        season_end: season.and_then(|s| date(s, "endDate")),
        live: false,
        prev_min: None,
    };
    sd.prev_min = sd
        .intervals
        .iter()
        .filter(|i| matches!(i.from, IntervalFrom::Previous))
        .find_map(|i| i.min);
    sd
}

fn parse_antigen(
    root: Node<'_, '_>,
    antigen_group: &[(String, VaccineGroupId)],
    groups: &[VaccineGroup],
) -> Result<Antigen, DataError> {
    let first = child(root, "series")
        .ok_or_else(|| DataError::Missing("antigen supporting data has no series".into()))?;
    let name = text(first, "targetDisease").to_string();
    let vg_name = text(first, "vaccineGroup");
    let vaccine_group = antigen_group
        .iter()
        .find(|(a, _)| a == &name)
        .map(|(_, g)| *g)
        .or_else(|| {
            groups
                .iter()
                .position(|g| g.name == vg_name)
                .map(|i| i as VaccineGroupId)
        })
        .ok_or_else(|| DataError::Invalid(format!("antigen {name:?} has no vaccine group")))?;

    let mut immunity_observations = Vec::new();
    let mut immunity_birth_date = None;
    let mut immunity_exclusions = Vec::new();
    if let Some(imm) = child(root, "immunity") {
        for ch in children(imm, "clinicalHistory") {
            if let Some(c) = parse_obs(text(ch, "guidelineCode")) {
                immunity_observations.push(c);
            }
        }
        if let Some(dob) = child(imm, "dateOfBirth") {
            immunity_birth_date = date(dob, "immunityBirthDate");
            for ex in children(dob, "exclusion") {
                if let Some(c) = parse_obs(text(ex, "exclusionCode")) {
                    immunity_exclusions.push(c);
                }
            }
        }
    }

    let mut contraindications = Vec::new();
    let mut vaccine_contraindications = Vec::new();
    if let Some(ci) = child(root, "contraindications") {
        if let Some(vg) = child(ci, "vaccineGroup") {
            for c in children(vg, "contraindication") {
                if let Some(observation) = parse_obs(text(c, "observationCode")) {
                    contraindications.push(GroupContraindication {
                        observation,
                        begin_age: dur(c, "beginAge"),
                        end_age: dur(c, "endAge"),
                    });
                }
            }
        }
        if let Some(v) = child(ci, "vaccine") {
            for c in children(v, "contraindication") {
                let Some(observation) = parse_obs(text(c, "observationCode")) else {
                    continue;
                };
                for cv in children(c, "contraindicatedVaccine") {
                    if let Some(cvx) = parse_cvx(text(cv, "cvx")) {
                        vaccine_contraindications.push(VaccineContraindication {
                            observation,
                            cvx,
                            begin_age: dur(cv, "beginAge"),
                            end_age: dur(cv, "endAge"),
                        });
                    }
                }
            }
        }
    }

    let mut series_group_names: Vec<String> = Vec::new();
    let mut series = Vec::new();
    for s in children(root, "series") {
        let sel = child(s, "selectSeries");
        let series_type = match text(s, "seriesType").to_ascii_lowercase().as_str() {
            "risk" => SeriesType::Risk,
            "evaluation only" => SeriesType::EvaluationOnly,
            _ => SeriesType::Standard,
        };
        let mut genders = 0u8;
        for g in children(s, "requiredGender") {
            match g.text().unwrap_or("").trim().to_ascii_lowercase().as_str() {
                "female" => genders |= 1,
                "male" => genders |= 2,
                "unknown" => genders |= 4,
                _ => {}
            }
        }
        let sg_name = sel.map(|n| text(n, "seriesGroup")).unwrap_or("");
        let series_group = series_group_index(&mut series_group_names, sg_name);
        let eq = text(s, "equivalentSeriesGroups");
        let equivalent_group =
            (!eq.is_empty()).then(|| series_group_index(&mut series_group_names, eq));
        let priority = sel
            .map(|n| text(n, "seriesPriority"))
            .and_then(|p| p.bytes().next())
            .map(|b| b.to_ascii_uppercase().saturating_sub(b'A'))
            .unwrap_or(0);
        let indications = children(s, "indication")
            .filter_map(|i| {
                let code = child(i, "observationCode").and_then(|o| parse_obs(text(o, "code")))?;
                Some(Indication {
                    observation: code,
                    begin_age: dur(i, "beginAge"),
                    end_age: dur(i, "endAge"),
                })
            })
            .collect();
        let doses: Vec<SeriesDose> = children(s, "seriesDose")
            .map(|d| parse_series_dose(d, &mut series_group_names))
            .collect();
        let depends_on_groups = doses.iter().any(|d| {
            d.skips.iter().any(|k| {
                k.sets.iter().any(|st| {
                    st.conditions
                        .iter()
                        .any(|c| c.kind == ConditionKind::CompletedSeries)
                })
            })
        });
        // lower bound of the first age at which a dose can be valid: the
        // smallest absolute minimum age of any target dose (every age
        // definition), a month counted as 28 days
        let min_valid_days = doses.iter().try_fold(i32::MAX, |acc, d| {
            let m = d
                .ages
                .iter()
                .map(|a| {
                    a.abs_min
                        .or(a.min)
                        .map(|p| p.months.max(0) * 28 + i32::from(p.days))
                })
                .try_fold(i32::MAX, |x, v| v.map(|v| x.min(v)))?;
            if d.ages.is_empty() {
                None
            } else {
                Some(acc.min(m))
            }
        });
        series.push(Series {
            min_valid_days,
            name: text(s, "seriesName").to_string(),
            series_type,
            equivalent_group,
            genders,
            default_series: sel.is_some_and(|n| yes(n, "defaultSeries")),
            product_path: sel.is_some_and(|n| yes(n, "productPath")),
            series_group,
            priority,
            preference: sel
                .and_then(|n| text(n, "seriesPreference").parse().ok())
                .unwrap_or(1),
            min_age_to_start: sel.and_then(|n| dur(n, "minAgeToStart")),
            max_age_to_start: sel.and_then(|n| dur(n, "maxAgeToStart")),
            indications,
            doses,
            depends_on_groups,
        });
    }
    if series_group_names.len() > 64 {
        return Err(DataError::Invalid(format!(
            "antigen {name:?} has too many series groups"
        )));
    }
    if series.len() > 60 {
        return Err(DataError::Invalid(format!(
            "antigen {name:?} has too many series"
        )));
    }
    Ok(Antigen {
        name,
        vaccine_group,
        immunity_observations,
        immunity_birth_date,
        immunity_exclusions,
        contraindications,
        vaccine_contraindications,
        series,
        series_group_names,
    })
}
