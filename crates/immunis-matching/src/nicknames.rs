//! The embedded nickname table (`data/nicknames.csv`).
//!
//! Each line of the table is a group of interchangeable given names (formal
//! name, nicknames, common spelling variants). Two names are equivalent when
//! they share a group. The table is parsed once, lazily, into a map from name
//! to the (small) list of groups it belongs to.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::normalize::fold;

static TABLE: OnceLock<HashMap<String, Vec<u16>>> = OnceLock::new();

fn parse(text: &str) -> HashMap<String, Vec<u16>> {
    let mut map: HashMap<String, Vec<u16>> = HashMap::new();
    let mut group: u16 = 0;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        for name in line.split(',') {
            let key = fold(name).replace(' ', "");
            if key.is_empty() {
                continue;
            }
            let groups = map.entry(key).or_default();
            if !groups.contains(&group) {
                groups.push(group);
            }
        }
        group = group.saturating_add(1);
    }
    map
}

fn table() -> &'static HashMap<String, Vec<u16>> {
    TABLE.get_or_init(|| parse(include_str!("../data/nicknames.csv")))
}

/// Group ids of a folded given name (empty when the name is not listed).
pub fn groups(name: &str) -> &'static [u16] {
    table().get(name).map(Vec::as_slice).unwrap_or(&[])
}

/// True when the two folded given names share a nickname group.
pub fn equivalent(a: &str, b: &str) -> bool {
    let ga = groups(a);
    !ga.is_empty() && groups(b).iter().any(|g| ga.contains(g))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_nicknames_are_equivalent() {
        assert!(equivalent("WILLIAM", "BILL"));
        assert!(equivalent("BILL", "LIAM"));
        assert!(equivalent("ELIZABETH", "BETSY"));
        assert!(equivalent("KATHERINE", "KATE"));
        assert!(!equivalent("WILLIAM", "ROBERT"));
        assert!(!equivalent("ZZZ", "ZZZ"));
    }

    #[test]
    fn table_is_reasonably_large() {
        assert!(table().len() > 300, "{}", table().len());
    }
}
