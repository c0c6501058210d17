//! The clinical data a command runs on: the CDC CDSi supporting data
//! (embedded 4.64, or a newer release's directory) and the school-entry
//! requirements (embedded Massachusetts set, or a new year's file). Loading
//! them at start-up is how an operator brings a new CDC release or school
//! year into service without a rebuild (README: "Keeping clinical data
//! current").

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use immunis_cdsi::SupportingData;
use immunis_registry::clinical::ClinicalData;
use immunis_schools::Rules;

/// Which clinical data to load.
#[derive(Args, Clone, Default)]
pub struct ClinicalArgs {
    /// A CDC CDSi supporting-data directory (its ScheduleSupportingData.xml,
    /// AntigenSupportingData*.xml and release notes; default: the embedded
    /// 4.64 release).
    #[arg(long, env = "IMMUNIS_SUPPORTING_DATA")]
    pub supporting_data: Option<PathBuf>,
    /// A school-entry requirements file (TOML, the format of the embedded
    /// Massachusetts file: crates/immunis-schools/README.md).
    #[arg(long, env = "IMMUNIS_SCHOOL_REQUIREMENTS")]
    pub school_requirements: Option<PathBuf>,
}

impl ClinicalArgs {
    pub fn load(&self) -> Result<ClinicalData> {
        let data = match &self.supporting_data {
            None => SupportingData::embedded().context("embedded CDSi supporting data")?,
            Some(dir) => supporting_data_dir(dir)?,
        };
        Ok(ClinicalData::new(data, self.school_rules()?))
    }

    pub fn school_rules(&self) -> Result<Rules> {
        match &self.school_requirements {
            None => Ok(Rules::massachusetts()?),
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read {}", p.display()))?;
                Rules::parse(&text).with_context(|| format!("in {}", p.display()))
            }
        }
    }
}

/// Reads a CDC supporting-data directory (the release's `XML` folder, or
/// the folder holding it).
pub fn supporting_data_dir(dir: &Path) -> Result<SupportingData> {
    let mut files = read_release_files(dir)?;
    let xml = dir.join("XML");
    if !files.iter().any(|(n, _)| n.ends_with(".xml")) && xml.is_dir() {
        files.extend(read_release_files(&xml)?);
    }
    if !files
        .iter()
        .any(|(n, _)| n.starts_with("ScheduleSupportingData"))
    {
        bail!(
            "{} holds no ScheduleSupportingData*.xml (expected a CDC CDSi supporting-data release)",
            dir.display()
        );
    }
    SupportingData::from_files(&files)
        .with_context(|| format!("CDSi supporting data in {}", dir.display()))
}

/// The XML files and release notes of one directory, as (name, text).
fn read_release_files(d: &Path) -> Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(d).with_context(|| format!("cannot read {}", d.display()))? {
        let path = entry?.path();
        if !path.is_file() {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".xml") || lower.contains("release") && lower.ends_with(".txt") {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            files.push((name, text));
        }
    }
    Ok(files)
}
