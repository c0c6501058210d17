//! Human users and machine clients: bootstrap, password rules, TOTP (with
//! replay refusal), lockout, sessions that expire on inactivity, disabled
//! accounts, and OAuth2 client-credentials tokens scoped to an organization.

use std::sync::Arc;
use std::time::Duration;

use immunis_model::OrganizationKind;
use immunis_registry::{console_admin, totp, AuthError, Registry, Role, SecurityPolicy};

fn setup() -> (tempfile::TempDir, Arc<Registry>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = immunis_registry::open_store(dir.path(), None).expect("store");
    (dir, Registry::new(store).expect("registry"))
}

fn code(secret_b32: &str, offset_secs: u64) -> String {
    let secret = totp::base32_decode(secret_b32).expect("base32");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    totp::code_at(&secret, now + offset_secs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_login_totp_replay_lockout_and_expiry() {
    let (_d, reg) = setup();
    let boot = reg.bootstrap_admin("root-admin").expect("bootstrap");
    let password = boot.password.clone().expect("generated password");
    assert!(
        reg.bootstrap_admin("second").is_err(),
        "bootstrap runs once"
    );

    // Password + TOTP gives a registry-admin session.
    let first_code = code(&boot.totp_secret, 0);
    let s = reg
        .login("root-admin", &password, &first_code, None)
        .await
        .expect("login");
    assert_eq!(s.actor.role, Role::RegistryAdmin);
    assert_eq!(
        reg.session_actor(&s.token, None).expect("live").subject,
        "root-admin"
    );

    // The same code cannot be used twice, and the person is told so (only
    // with the right password); a wrong code or password fails alike.
    assert_eq!(
        reg.login("root-admin", &password, &first_code, None)
            .await
            .err(),
        Some(AuthError::ReusedCode)
    );
    assert_eq!(
        reg.login("root-admin", "wrong-password-123", &first_code, None)
            .await
            .err(),
        Some(AuthError::BadCredentials)
    );
    assert!(reg
        .login(
            "root-admin",
            "wrong-password-123",
            &code(&boot.totp_secret, 30),
            None
        )
        .await
        .is_err());

    // A provider user: common passwords refused, then a good one.
    let admin = console_admin();
    reg.add_organization(&admin, "Pediatrics Inc", OrganizationKind::Provider)
        .expect("org");
    assert!(reg
        .add_user(
            &admin,
            "nurse",
            Some("Pediatrics Inc"),
            None,
            Some("password1234")
        )
        .is_err());
    assert!(reg
        .add_user(&admin, "nurse", Some("Pediatrics Inc"), None, Some("short"))
        .is_err());
    let nurse = reg
        .add_user(
            &admin,
            "nurse",
            Some("Pediatrics Inc"),
            None,
            Some("plum-ferry-42-orbit"),
        )
        .expect("user");
    assert!(nurse.password.is_none());
    assert!(nurse
        .otpauth_uri
        .starts_with("otpauth://totp/Immunis:nurse?secret="));

    // Sessions expire on inactivity.
    reg.set_security_policy(SecurityPolicy {
        session_idle: Duration::from_millis(300),
        lockout_after: 3,
        ..SecurityPolicy::default()
    });
    let s = reg
        .login(
            "nurse",
            "plum-ferry-42-orbit",
            &code(&nurse.totp_secret, 0),
            None,
        )
        .await
        .expect("nurse login");
    assert_eq!(s.actor.role, Role::ProviderUser);
    assert!(s.actor.organization.is_some());
    std::thread::sleep(Duration::from_millis(150));
    assert!(
        reg.session_actor(&s.token, None).is_ok(),
        "use refreshes the timer"
    );
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        reg.session_actor(&s.token, None).err(),
        Some(AuthError::Expired)
    );
    assert_eq!(
        reg.session_actor("not-a-token", None).err(),
        Some(AuthError::BadCredentials)
    );

    // Three failures lock the account: even the right credentials fail then.
    for _ in 0..3 {
        assert!(reg
            .login("nurse", "not-the-password", "000000", None)
            .await
            .is_err());
    }
    assert!(reg
        .login(
            "nurse",
            "plum-ferry-42-orbit",
            &code(&nurse.totp_secret, 30),
            None
        )
        .await
        .is_err());
    let users = reg.list_users(&admin).expect("users");
    assert!(users.iter().any(|u| u.username == "nurse" && u.locked));

    // A disabled user cannot log in; non-admins cannot administer users.
    reg.set_user_disabled(&admin, "root-admin", true)
        .expect("disable");
    assert!(reg
        .login("root-admin", &password, &code(&boot.totp_secret, 30), None)
        .await
        .is_err());
    assert!(reg
        .add_user(&s.actor, "x", Some("Pediatrics Inc"), None, None)
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_tokens_are_scoped_and_expire() {
    let (_d, reg) = setup();
    let admin = console_admin();
    let a = reg
        .add_organization(&admin, "Org A", OrganizationKind::Provider)
        .expect("a");
    let b = reg
        .add_organization(&admin, "Springfield BOH", OrganizationKind::BoardOfHealth)
        .expect("b");
    let sa = reg
        .add_oauth_client(&admin, "ehr-a", "Org A")
        .expect("client a");
    let sb = reg
        .add_oauth_client(&admin, "boh-app", "Springfield BOH")
        .expect("client b");
    assert!(reg.add_oauth_client(&admin, "ehr-a", "Org A").is_err());

    let ta = reg.issue_token("ehr-a", &sa, None).await.expect("token a");
    assert_eq!(ta.scope, format!("org:{}", a.0));
    let actor = reg.token_actor(&ta.access_token, None).expect("actor");
    assert_eq!(actor.organization, Some(a));
    assert_eq!(actor.role, Role::ProviderSystem);
    let tb = reg
        .issue_token("boh-app", &sb, None)
        .await
        .expect("token b");
    let actor_b = reg.token_actor(&tb.access_token, None).expect("actor b");
    assert_eq!(actor_b.organization, Some(b));
    assert_eq!(actor_b.role, Role::BoardOfHealth);

    // Wrong secret, another client's secret, unknown client.
    assert!(reg.issue_token("ehr-a", &sb, None).await.is_err());
    assert!(reg.issue_token("nobody", &sa, None).await.is_err());

    reg.set_security_policy(SecurityPolicy {
        token_ttl: Duration::from_millis(200),
        ..SecurityPolicy::default()
    });
    let short = reg.issue_token("ehr-a", &sa, None).await.expect("token");
    assert!(reg.token_actor(&short.access_token, None).is_ok());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        reg.token_actor(&short.access_token, None).err(),
        Some(AuthError::Expired)
    );
}

/// The async authentication paths on PostgreSQL (whose client is
/// synchronous): login, OAuth token issue. Runs when `IMMUNIS_TEST_PG` names
/// a server (scripts/test.sh starts one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_login_and_tokens() {
    let Ok(base) = std::env::var("IMMUNIS_TEST_PG") else {
        eprintln!("!!!! SKIPPED (PostgreSQL): IMMUNIS_TEST_PG is not set !!!!");
        return;
    };
    let db = format!("immunis_identity_{}", std::process::id());
    let url = format!("{base} dbname={db}");
    let reg = tokio::task::block_in_place(|| {
        let mut admin =
            postgres::Client::connect(&format!("{base} dbname=postgres"), postgres::NoTls)
                .expect("connect");
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
            .expect("drop database");
        admin
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .expect("create database");
        let store =
            immunis_registry::open_store(std::path::Path::new("."), Some(&url)).expect("store");
        let reg = Registry::new(store).expect("registry");
        let admin = console_admin();
        reg.add_organization(&admin, "Org A", OrganizationKind::Provider)
            .expect("org");
        reg
    });
    let (user, secret) = tokio::task::block_in_place(|| {
        let admin = console_admin();
        (
            reg.add_user(
                &admin,
                "pg-nurse",
                Some("Org A"),
                None,
                Some("plum-ferry-42-orbit"),
            )
            .expect("user"),
            reg.add_oauth_client(&admin, "pg-ehr", "Org A")
                .expect("client"),
        )
    });
    let s = reg
        .login(
            "pg-nurse",
            "plum-ferry-42-orbit",
            &code(&user.totp_secret, 0),
            None,
        )
        .await
        .expect("login on postgres");
    assert_eq!(s.actor.role, Role::ProviderUser);
    let t = reg
        .issue_token("pg-ehr", &secret, None)
        .await
        .expect("token on postgres");
    assert!(reg.token_actor(&t.access_token, None).is_ok());
    assert!(reg.certificate_actor(&"ab".repeat(32), None).await.is_err());
}

/// Sessions and tokens are stored (as hashes): they survive a restart, and a
/// logout or a disabled user in one process ends the grant in every other
/// process on the same store (the CLI and the server, or two servers).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_survive_restart_and_revocations_reach_every_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let open = || {
        Registry::new(immunis_registry::open_store(dir.path(), None).expect("store"))
            .expect("registry")
    };
    let server = open();
    let admin = console_admin();
    server
        .add_organization(&admin, "Pediatrics Inc", OrganizationKind::Provider)
        .expect("org");
    let nurse = server
        .add_user(
            &admin,
            "nurse",
            Some("Pediatrics Inc"),
            None,
            Some("plum-ferry-42-orbit"),
        )
        .expect("user");
    let clerk = server
        .add_user(
            &admin,
            "clerk",
            Some("Pediatrics Inc"),
            None,
            Some("quill-harbor-77-sprout"),
        )
        .expect("user");
    let ehr = server
        .add_oauth_client(&admin, "ehr", "Pediatrics Inc")
        .expect("client");
    let s_nurse = server
        .login(
            "nurse",
            "plum-ferry-42-orbit",
            &code(&nurse.totp_secret, 0),
            None,
        )
        .await
        .expect("login");
    let s_clerk = server
        .login(
            "clerk",
            "quill-harbor-77-sprout",
            &code(&clerk.totp_secret, 0),
            None,
        )
        .await
        .expect("login");
    let token = server.issue_token("ehr", &ehr, None).await.expect("token");

    // A restart (a new registry over the same store) keeps them.
    drop(server);
    let restarted = open();
    let nurse_actor = restarted
        .session_actor(&s_nurse.token, Some("10.0.0.9".into()))
        .expect("session survives a restart");
    assert_eq!(nurse_actor.subject, "nurse");
    assert_eq!(nurse_actor.role, Role::ProviderUser);
    assert_eq!(nurse_actor.organization, s_nurse.actor.organization);
    assert_eq!(nurse_actor.client_addr.as_deref(), Some("10.0.0.9"));
    assert!(restarted.token_actor(&token.access_token, None).is_ok());
    // A session secret is not a token secret, nor the other way round.
    assert_eq!(
        restarted.token_actor(&s_nurse.token, None).err(),
        Some(AuthError::BadCredentials)
    );
    assert_eq!(
        restarted.session_actor(&token.access_token, None).err(),
        Some(AuthError::BadCredentials)
    );

    // Another process (the CLI) disables the nurse and a logout happens
    // there; the server's cache gives way within the recheck interval.
    let cli = open();
    cli.set_user_disabled(&admin, "nurse", true)
        .expect("disable");
    cli.logout(&s_clerk.token);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let nurse_gone = restarted.session_actor(&s_nurse.token, None).is_err();
        let clerk_gone = restarted.session_actor(&s_clerk.token, None).is_err();
        if nurse_gone && clerk_gone {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "revocations did not reach the other process"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The token of the same organization is untouched.
    assert!(restarted.token_actor(&token.access_token, None).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_resets_a_users_password_and_totp() {
    let (_d, reg) = setup();
    let admin = console_admin();
    reg.add_organization(&admin, "Pediatrics Inc", OrganizationKind::Provider)
        .expect("org");
    let old = reg
        .add_user(
            &admin,
            "nurse",
            Some("Pediatrics Inc"),
            None,
            Some("plum-ferry-42-orbit"),
        )
        .expect("user");
    let s = reg
        .login(
            "nurse",
            "plum-ferry-42-orbit",
            &code(&old.totp_secret, 0),
            None,
        )
        .await
        .expect("login");
    // Only an administrator may reset; an unknown user is said so.
    assert!(reg.reset_user_credentials(&s.actor, "nurse").is_err());
    assert!(reg.reset_user_credentials(&admin, "nobody").is_err());
    let new = reg.reset_user_credentials(&admin, "nurse").expect("reset");
    let password = new.password.clone().expect("a one-time password");
    assert_ne!(new.totp_secret, old.totp_secret);
    // The session ended; the old password (with the old or new code) fails.
    assert!(reg.session_actor(&s.token, None).is_err());
    assert!(reg
        .login(
            "nurse",
            "plum-ferry-42-orbit",
            &code(&new.totp_secret, 0),
            None
        )
        .await
        .is_err());
    assert!(reg
        .login("nurse", &password, &code(&old.totp_secret, 30), None)
        .await
        .is_err());
    // The new password with a code of the new secret logs in (the used-code
    // step started over with the new secret).
    let again = reg
        .login("nurse", &password, &code(&new.totp_secret, 0), None)
        .await
        .expect("login with the new credentials");
    assert_eq!(again.actor.subject, "nurse");
}
