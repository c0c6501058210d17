//! An organization whose stored kind is not one the registry knows is
//! corruption, and reading it fails closed (issue 15): the kind decides the
//! role of every user and system of the organization, so defaulting to
//! "provider" (as before) would grant a provider's access to whatever the
//! row really was.

use immunis_model::{OrganizationId, OrganizationKind};
use immunis_store::StoreError;

#[test]
fn an_unknown_organization_kind_is_an_error_on_every_read_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = immunis_store::open(dir.path(), None).expect("store");
    let mut org = OrganizationId(0);
    store
        .write(&mut |tx| {
            org = tx.insert_organization("Elm School", OrganizationKind::School)?;
            tx.insert_facility(org, "ELM", "Elm School office")?;
            Ok(())
        })
        .expect("write");
    // Something outside the registry damages the row.
    let conn = rusqlite::Connection::open(dir.path().join("immunis.db")).expect("open db");
    conn.execute(
        "UPDATE organization SET kind = 'superuser' WHERE id = ?1",
        [org.0],
    )
    .expect("update");
    drop(conn);
    let expect_corrupt = |r: Result<(), StoreError>, what: &str| match r {
        Err(StoreError::Corrupt(m)) => {
            assert!(m.contains("superuser"), "{what}: {m}")
        }
        other => panic!("{what}: expected a corruption error, got {other:?}"),
    };
    expect_corrupt(
        store.read(&mut |tx| tx.find_organization(org).map(|_| ())),
        "find_organization",
    );
    expect_corrupt(
        store.read(&mut |tx| tx.find_organization_by_name("Elm School").map(|_| ())),
        "find_organization_by_name",
    );
    expect_corrupt(
        store.read(&mut |tx| tx.list_organizations().map(|_| ())),
        "list_organizations",
    );
    expect_corrupt(
        store.read(&mut |tx| tx.list_facilities().map(|_| ())),
        "list_facilities",
    );
}
