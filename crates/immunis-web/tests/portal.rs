//! The portal's handlers against a real registry (SQLite in a temp dir),
//! driven through the router with `tower::ServiceExt::oneshot`: login
//! failures and rate limiting, CSRF refusal, inactivity expiry, the access
//! decision under an objection to data sharing, form errors (never a 500),
//! and a dose recorded, corrected and deleted with its history kept.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use immunis_model::{OrganizationKind, PatientId};
use immunis_registry::hl7::{process_message, Inbound, Submitter};
use immunis_registry::{console_admin, totp, ConsentKind, Registry, SecurityPolicy};
use immunis_web::PortalConfig;
use tower::ServiceExt;

const PASSWORD: &str = "plum-ferry-42-orbit";

struct Harness {
    reg: Arc<Registry>,
    _dir: tempfile::TempDir,
    secrets: HashMap<String, String>,
    patient: PatientId,
}

fn vxu(facility: &str, ctrl: &str, filler: &str, cvx: &str, date: &str, lot: &str) -> String {
    format!(
        "MSH|^~\\&|EHR|{facility}|IIS|MA|20240101||VXU^V04^VXU_V04|{ctrl}|P|2.5.1|||ER|AL\r\
         PID|1||M1^^^MAIIS^MR||Rivera^Sofia^^^^^L||20230214|F|||1 Main St^^Springfield^MA^01101^USA^L\r\
         ORC|RE||{filler}^{facility}\r\
         RXA|0|1|{date}||{cvx}^vaccine^CVX|0.5|mL^mL^UCUM||00^New immunization record^NIP001||^^^{facility}||||{lot}|20300101|MSD^Merck^MVX|||CP|A\r"
    )
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = immunis_registry::open_store(dir.path(), None).expect("store");
    let reg = Registry::new(store).expect("registry");
    let admin = console_admin();
    for (org, code) in [
        ("Provider A", "FA"),
        ("Provider B", "FB"),
        ("Provider C", "FC"),
    ] {
        reg.register_facility(&admin, org, OrganizationKind::Provider, code, code)
            .expect("facility");
    }
    reg.add_organization(&admin, "Registry", OrganizationKind::Registry)
        .expect("registry org");
    let mut secrets = HashMap::new();
    for (user, org) in [
        ("nurse-a", "Provider A"),
        ("nurse-b", "Provider B"),
        ("nurse-c", "Provider C"),
        ("registrar", "Registry"),
    ] {
        let s = reg
            .add_user(&admin, user, Some(org), None, Some(PASSWORD))
            .expect("user");
        secrets.insert(user.to_string(), s.totp_secret);
    }
    let inbound = Inbound {
        transport: "test",
        remote_addr: None,
    };
    for (fac, ctrl, filler, cvx, date, lot) in [
        ("FA", "A1", "PA1", "08", "20230214", "LOTA"),
        ("FB", "B1", "PB1", "20", "20230414", "LOTB"),
    ] {
        let actor = reg.facility_actor(fac, None).expect("facility actor");
        let ack = process_message(
            &reg,
            &Submitter::Authenticated(actor),
            vxu(fac, ctrl, filler, cvx, date, lot).as_bytes(),
            &inbound,
        )
        .await;
        assert!(String::from_utf8_lossy(&ack).contains("MSA|AA"));
    }
    let q = immunis_registry::PatientQuery {
        family: Some("Rivera".into()),
        given: Some("Sofia".into()),
        birth_date: chrono::NaiveDate::from_ymd_opt(2023, 2, 14),
        ..Default::default()
    };
    let patient = match reg
        .find_patients(&admin, immunis_registry::Purpose::Administration, &q, 5)
        .await
        .expect("find")
    {
        immunis_registry::QueryOutcome::Found(r) => r.id,
        other => panic!("expected one person, got {other:?}"),
    };
    Harness {
        reg,
        _dir: dir,
        secrets,
        patient,
    }
}

fn app(reg: &Arc<Registry>, config: PortalConfig) -> Router {
    Router::new().nest("/portal", immunis_web::router(reg.clone(), config))
}

/// A browser: keeps cookies, reads CSRF tokens from pages.
struct Browser {
    app: Router,
    cookies: HashMap<String, String>,
}

struct Page {
    status: StatusCode,
    location: Option<String>,
    body: String,
}

impl Page {
    fn csrf(&self) -> String {
        let marker = "name=\"_csrf\" value=\"";
        let at = self.body.find(marker).expect("a form with a CSRF token") + marker.len();
        self.body[at..]
            .split('"')
            .next()
            .expect("token")
            .to_string()
    }
}

fn encode(form: &[(&str, &str)]) -> String {
    form.iter()
        .map(|(k, v)| {
            let enc: String = v
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                        (b as char).to_string()
                    }
                    b' ' => "+".into(),
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{k}={enc}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

impl Browser {
    fn new(app: Router) -> Browser {
        Browser {
            app,
            cookies: HashMap::new(),
        }
    }

    async fn send(&mut self, req: Request<Body>) -> Page {
        let res = self.app.clone().oneshot(req).await.expect("response");
        for c in res.headers().get_all(header::SET_COOKIE) {
            let c = c.to_str().expect("ascii cookie");
            let (kv, _) = c.split_once(';').unwrap_or((c, ""));
            if let Some((k, v)) = kv.split_once('=') {
                if v.is_empty() {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_string(), v.to_string());
                }
            }
        }
        let status = res.status();
        let location = res
            .headers()
            .get(header::LOCATION)
            .map(|l| l.to_str().expect("ascii").to_string());
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 24)
            .await
            .expect("body");
        Page {
            status,
            location,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn get(&mut self, path: &str) -> Page {
        let req = Request::get(path)
            .header(header::COOKIE, self.cookie_header())
            .body(Body::empty())
            .expect("request");
        self.send(req).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = Request::post(path)
            .header(header::COOKIE, self.cookie_header())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(encode(form)))
            .expect("request");
        self.send(req).await
    }

    async fn login(&mut self, user: &str, password: &str, code: &str) -> Page {
        let form = self.get("/portal/login").await;
        let csrf = form.csrf();
        self.post(
            "/portal/login",
            &[
                ("_csrf", &csrf),
                ("username", user),
                ("password", password),
                ("totp", code),
            ],
        )
        .await
    }
}

fn code(h: &Harness, user: &str, offset: u64) -> String {
    let secret = totp::base32_decode(&h.secrets[user]).expect("base32");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    totp::code_at(&secret, now + offset)
}

async fn logged_in(h: &Harness, user: &str) -> Browser {
    let mut b = Browser::new(app(&h.reg, PortalConfig::unlimited()));
    let p = b.login(user, PASSWORD, &code(h, user, 0)).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(p.location.as_deref(), Some("/portal/search"));
    b
}

#[tokio::test(flavor = "multi_thread")]
async fn login_failures_are_refused_alike_and_rate_limited() {
    let h = harness().await;
    let mut b = Browser::new(app(&h.reg, PortalConfig::unlimited()));
    // Unauthenticated pages send the person to the login page.
    let p = b.get("/portal/search").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location.as_deref(), Some("/portal/login"));
    // Wrong password, wrong code, unknown user: one message, no session.
    for (user, pw, c) in [
        ("nurse-a", "not-the-password-at-all", code(&h, "nurse-a", 0)),
        ("nurse-a", PASSWORD, "000000".to_string()),
        ("nobody", PASSWORD, "123456".to_string()),
    ] {
        let p = b.login(user, pw, &c).await;
        assert_eq!(p.status, StatusCode::UNAUTHORIZED);
        assert!(p.body.contains("Login failed"), "{}", p.body);
        assert!(!b.cookies.contains_key("immunis_session"));
    }
    // A login form without its CSRF token is refused.
    let p = b
        .post(
            "/portal/login",
            &[
                ("username", "nurse-a"),
                ("password", PASSWORD),
                ("totp", &code(&h, "nurse-a", 0)),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(!b.cookies.contains_key("immunis_session"));
    // Empty fields: a clear message.
    let form = b.get("/portal/login").await;
    let p = b
        .post(
            "/portal/login",
            &[("_csrf", &form.csrf()), ("username", "nurse-a")],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p
        .body
        .contains("Enter your username, password and the 6-digit code"));

    // The server's limiter: a third attempt from the client is refused.
    let count = Arc::new(AtomicU32::new(0));
    let c2 = count.clone();
    let limited = PortalConfig {
        secure_cookies: true,
        login_limit: Arc::new(move |_| c2.fetch_add(1, Ordering::SeqCst) < 2),
    };
    let mut b = Browser::new(app(&h.reg, limited));
    for _ in 0..2 {
        let p = b.login("nurse-b", "wrong-password-here", "000000").await;
        assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    }
    let p = b.login("nurse-b", PASSWORD, &code(&h, "nurse-b", 0)).await;
    assert_eq!(p.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(p.body.contains("Too many login attempts"));
    // Served over TLS: the cookies are Secure.
    let req = Request::get("/portal/login")
        .body(Body::empty())
        .expect("req");
    let res = b.app.clone().oneshot(req).await.expect("res");
    let cookie = res.headers()[header::SET_COOKIE].to_str().expect("ascii");
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("Secure")
            && cookie.contains("Path=/portal"),
        "{cookie}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_post_checks_the_csrf_token() {
    let h = harness().await;
    let mut b = logged_in(&h, "nurse-a").await;
    let dose_path = format!("/portal/patients/{}/doses/new", h.patient.0);
    let fields = [
        ("date", "2024-01-10"),
        ("cvx", "20"),
        ("lot_number", "CSRF1"),
    ];
    let p = b.post(&dose_path, &fields).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let mut forged = fields.to_vec();
    forged.push(("_csrf", "00ff"));
    let p = b.post(&dose_path, &forged).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(p.body.contains("security token"));
    // Nothing was recorded.
    let chart = b.get(&format!("/portal/patients/{}", h.patient.0)).await;
    assert_eq!(chart.status, StatusCode::OK);
    assert!(!chart.body.contains("CSRF1"));
    // Logout needs the token as well.
    let p = b.post("/portal/logout", &[]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    // With the token the dose is recorded.
    let csrf = chart.csrf();
    let mut ok = fields.to_vec();
    ok.push(("_csrf", &csrf));
    let p = b.post(&dose_path, &ok).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let chart = b.get(&format!("/portal/patients/{}", h.patient.0)).await;
    assert!(chart.body.contains("CSRF1"));
    // Logging out ends the session.
    let p = b.post("/portal/logout", &[("_csrf", &csrf)]).await;
    assert_eq!(p.location.as_deref(), Some("/portal/login?out=1"));
    let p = b.get("/portal/search").await;
    assert_eq!(p.location.as_deref(), Some("/portal/login"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_objection_limits_each_provider_to_its_own_doses() {
    let h = harness().await;
    let chart = format!("/portal/patients/{}", h.patient.0);
    // Without an objection a provider sees both providers' doses.
    let mut a = logged_in(&h, "nurse-a").await;
    let p = a.get(&chart).await;
    assert!(p.body.contains("LOTA") && p.body.contains("LOTB"));
    assert!(p.body.contains("No objection to data sharing on file"));
    h.reg
        .record_consent(
            &console_admin(),
            h.patient,
            ConsentKind::ObjectionFiled,
            None,
            None,
        )
        .expect("objection");
    let p = a.get(&chart).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("LOTA"), "own dose shown");
    assert!(!p.body.contains("LOTB"), "other provider's dose hidden");
    assert!(p.body.contains("Objection to data sharing on file"));
    assert!(
        !p.body.contains("1 Main St"),
        "other providers' demographics hidden"
    );
    let mut b = logged_in(&h, "nurse-b").await;
    let p = b.get(&chart).await;
    assert!(p.body.contains("LOTB") && !p.body.contains("LOTA"));
    // A provider who gave nothing sees nothing (and cannot tell it exists).
    let mut c = logged_in(&h, "nurse-c").await;
    let p = c.get(&chart).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert!(!p.body.contains("Rivera"));
    let p = c
        .get("/portal/search?family=Rivera&birth_date=2023-02-14")
        .await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("0 people found"), "{}", p.body);
    // Nor by birth date alone.
    let p = c.get("/portal/search?birth_date=2023-02-14").await;
    assert!(p.body.contains("0 people found"), "{}", p.body);
    // The administrator finds her by birth date alone and with her first
    // name; another first name on that day drops her.
    let mut r = logged_in(&h, "registrar").await;
    let p = r.get("/portal/search?birth_date=2023-02-14").await;
    assert!(
        p.body.contains("1 people found") || p.body.contains("1 person found"),
        "{}",
        p.body
    );
    assert!(p.body.contains("Rivera"));
    let p = r
        .get("/portal/search?given=Sofia&birth_date=2023-02-14")
        .await;
    assert!(p.body.contains("Rivera"), "{}", p.body);
    let p = r
        .get("/portal/search?given=Margaret&birth_date=2023-02-14")
        .await;
    assert!(!p.body.contains("Rivera"), "{}", p.body);
    // Nor may a provider record for them or open the administration.
    let csrf = c.get("/portal/search").await.csrf();
    let p = c
        .post(
            &format!("{chart}/doses/new"),
            &[
                ("_csrf", &csrf),
                ("date", "2024-01-10"),
                ("cvx", "20"),
                ("lot_number", "X1"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    let p = c.get("/portal/admin/users").await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    // The registry administrator sees everything and the admin pages.
    let p = r.get(&chart).await;
    assert!(p.body.contains("LOTA") && p.body.contains("LOTB"));
    let p = r.get("/portal/admin/users").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("nurse-a"));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_a_form_error_never_a_500() {
    let h = harness().await;
    let mut b = logged_in(&h, "nurse-a").await;
    let dose_path = format!("/portal/patients/{}/doses/new", h.patient.0);
    let csrf = b.get(&dose_path).await.csrf();
    let tomorrow = (chrono::Local::now().date_naive() + chrono::Days::new(1)).to_string();
    for (fields, expect) in [
        (
            vec![("date", "not-a-date"), ("cvx", "20"), ("lot_number", "L")],
            "is not a date",
        ),
        (
            vec![
                ("date", tomorrow.as_str()),
                ("cvx", "20"),
                ("lot_number", "L"),
            ],
            "in the future",
        ),
        (
            vec![("date", "2020-01-01"), ("cvx", "20"), ("lot_number", "L")],
            "before the birth date",
        ),
        (
            vec![
                ("date", "2024-01-10"),
                ("cvx", "12345"),
                ("lot_number", "L"),
            ],
            "CVX",
        ),
        (
            vec![("date", "2024-01-10"), ("cvx", ""), ("lot_number", "L")],
            "Choose the vaccine",
        ),
        (
            vec![("date", "2024-01-10"), ("cvx", "20")],
            "Enter the lot number",
        ),
        (
            vec![
                ("date", "2024-01-10"),
                ("cvx", "20"),
                ("lot_number", "L"),
                ("amount_ml", "lots"),
            ],
            "mL",
        ),
        (
            vec![
                ("date", "2024-01-10"),
                ("cvx", "20"),
                ("lot_number", "L"),
                ("mvx", "!!"),
            ],
            "MVX",
        ),
        (
            vec![("date", "2024-01-10"), ("cvx", "20"), ("lot_id", "x")],
            "Choose a lot",
        ),
        (
            vec![("date", "2024-01-10"), ("cvx", "20"), ("lot_id", "999")],
            "not in your facility",
        ),
    ] {
        let mut f = fields.clone();
        f.push(("_csrf", &csrf));
        let p = b.post(&dose_path, &f).await;
        assert_eq!(
            p.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{fields:?}: {}",
            p.body
        );
        assert!(p.body.contains(expect), "{fields:?}: expected {expect:?}");
        assert!(p.body.contains("Not saved"));
    }
    // Entered values are kept for correction.
    let p = b
        .post(
            &dose_path,
            &[
                ("_csrf", &csrf),
                ("date", "2024-01-10"),
                ("cvx", "20"),
                ("mvx", "PMC"),
            ],
        )
        .await;
    assert!(p.body.contains("value=\"PMC\""));
    // Other forms and odd paths.
    let p = b
        .post(
            &format!("/portal/patients/{}/refusals/new", h.patient.0),
            &[
                ("_csrf", &csrf),
                ("date", "2024-01-10"),
                ("cvx", "20"),
                ("reason", "zz"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    let p = b
        .post(
            &format!("/portal/patients/{}/observations/new", h.patient.0),
            &[("_csrf", &csrf), ("kind", "nonsense"), ("code", "024")],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    let p = b
        .post(
            "/portal/patients/new",
            &[
                ("_csrf", &csrf),
                ("family", ""),
                ("birth_date", "2024-01-01"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("Enter the last name"));
    let p = b.get("/portal/search?birth_date=31/31/2020&family=X").await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    let p = b.get("/portal/search?given=Sofia").await;
    assert!(p.body.contains("Enter a last name"));
    for path in [
        "/portal/patients/abc",
        "/portal/patients/999999",
        "/portal/nowhere",
    ] {
        let p = b.get(path).await;
        assert!(p.status.is_client_error(), "{path}: {}", p.status);
    }
    let p = b
        .post(
            &format!("/portal/patients/{}/doses/P1-1/delete", h.patient.0),
            &[("_csrf", &csrf), ("reason", "x")],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
}

/// Adds a lot to the logged-in user's inventory and returns its option
/// value in the dose form.
async fn add_lot(b: &mut Browser, chart: &str, csrf: &str, lot: &[(&str, &str)]) -> String {
    let mut form = vec![("_csrf", csrf)];
    form.extend_from_slice(lot);
    let p = b.post("/portal/lots", &form).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let number = lot
        .iter()
        .find(|(k, _)| *k == "lot_number")
        .map(|(_, v)| *v)
        .expect("a lot number");
    let dose_form = b.get(&format!("{chart}/doses/new")).await;
    dose_form
        .body
        .split("option value=\"")
        .skip(1)
        .find(|s| s.contains(number))
        .and_then(|s| s.split('"').next())
        .expect("lot option")
        .to_string()
}

/// The source id of the first dose the chart offers to correct.
fn editable_source(chart_body: &str) -> String {
    chart_body
        .split("/doses/")
        .skip(1)
        .find_map(|s| s.split_once("/edit").map(|(a, _)| a.to_string()))
        .expect("an editable dose")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dose_is_recorded_corrected_and_deleted_with_its_history() {
    let h = harness().await;
    let mut b = logged_in(&h, "nurse-a").await;
    let chart = format!("/portal/patients/{}", h.patient.0);
    let csrf = b.get(&chart).await.csrf();
    // A lot in the inventory fills the dose's details.
    let lot_value = add_lot(
        &mut b,
        &chart,
        &csrf,
        &[
            ("cvx", "10"),
            ("lot_number", "IPV-77"),
            ("mvx", "PMC"),
            ("expiration", "2099-01-01"),
            ("route", "C28161"),
        ],
    )
    .await;
    let lots = b.get("/portal/lots").await;
    assert!(lots.body.contains("IPV-77"));
    let p = b
        .post(
            &format!("{chart}/doses/new"),
            &[
                ("_csrf", &csrf),
                ("date", "2024-03-01"),
                ("lot_id", &lot_value),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let page = b.get(&chart).await;
    assert!(page.body.contains("IPV-77"));
    // The dose is editable by its portal source id.
    let source = editable_source(&page.body);
    assert!(source.starts_with('P'));
    let edit = b.get(&format!("{chart}/doses/{source}/edit")).await;
    assert_eq!(edit.status, StatusCode::OK);
    assert!(edit.body.contains("Delete the dose"));
    // A correction needs a reason.
    let p = b
        .post(
            &format!("{chart}/doses/{source}/edit"),
            &[
                ("_csrf", &csrf),
                ("date", "2024-03-02"),
                ("cvx", "10"),
                ("lot_number", "IPV-78"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    let p = b
        .post(
            &format!("{chart}/doses/{source}/edit"),
            &[
                ("_csrf", &csrf),
                ("date", "2024-03-02"),
                ("cvx", "10"),
                ("lot_number", "IPV-78"),
                ("reason", "lot typed wrong"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let page = b.get(&chart).await;
    assert!(page.body.contains("IPV-78") && !page.body.contains(">IPV-77<"));
    assert!(page.body.contains("lot typed wrong"));
    // Another provider cannot change it.
    let mut other = logged_in(&h, "nurse-b").await;
    let ocsrf = other.get(&chart).await.csrf();
    let p = other
        .post(
            &format!("{chart}/doses/{source}/delete"),
            &[("_csrf", &ocsrf), ("reason", "mine now")],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    // Deletion with a reason: gone from the record, kept in the history.
    let p = b
        .post(
            &format!("{chart}/doses/{source}/delete"),
            &[("_csrf", &csrf), ("reason", "entered on the wrong child")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let page = b.get(&chart).await;
    assert!(!page.body.contains("IPV-78"));
    assert!(page.body.contains("entered on the wrong child"));
    // The journal holds the portal submissions like any other inbound message.
    let outcomes = h.reg.journal_outcomes(&console_admin()).expect("journal");
    let aa: i64 = outcomes
        .iter()
        .filter(|(c, _)| c.as_deref() == Some("AA"))
        .map(|(_, n)| n)
        .sum();
    assert!(aa >= 5, "{outcomes:?}");
}

/// The values a browser would submit from the form posting to `action`:
/// every input's value and every select's selected option.
fn form_values(body: &str, action: &str) -> Vec<(String, String)> {
    let start = body
        .find(&format!("action=\"{action}\""))
        .expect("the form");
    let form = &body[start
        ..body[start..]
            .find("</form>")
            .map_or(body.len(), |e| start + e)];
    let attr = |tag: &str, name: &str| -> Option<String> {
        let m = format!(" {name}=\"");
        tag.find(&m).map(|at| {
            tag[at + m.len()..]
                .split('"')
                .next()
                .unwrap_or("")
                .to_string()
        })
    };
    let mut out = Vec::new();
    for piece in form.split("<input").skip(1) {
        let tag = &piece[..piece.find('>').unwrap_or(piece.len())];
        if let Some(name) = attr(tag, "name") {
            out.push((name, attr(tag, "value").unwrap_or_default()));
        }
    }
    for piece in form.split("<select").skip(1) {
        let head = &piece[..piece.find('>').unwrap_or(piece.len())];
        let Some(name) = attr(head, "name") else {
            continue;
        };
        let options = &piece[..piece.find("</select>").unwrap_or(piece.len())];
        let chosen = options
            .split("<option")
            .skip(1)
            .map(|o| &o[..o.find('>').unwrap_or(o.len())])
            .find(|o| o.contains(" selected"))
            .and_then(|o| attr(o, "value"))
            .unwrap_or_default();
        out.push((name, chosen));
    }
    out.into_iter()
        .map(|(k, v)| (k, v.replace("&amp;", "&").replace("&quot;", "\"")))
        .collect()
}

/// The active version of the portal dose with this source id, as stored.
async fn stored_dose(h: &Harness, source: &str) -> (i64, immunis_model::VaccinationEvent) {
    let rec = h
        .reg
        .patient_record(
            &console_admin(),
            immunis_registry::Purpose::Administration,
            h.patient,
        )
        .await
        .expect("record");
    rec.doses
        .iter()
        .map(|d| &d.primary)
        .find(|e| e.event.filler_order_number.as_deref() == Some(source))
        .map(|e| (e.id.0, e.event.clone()))
        .expect("the dose")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_correction_keeps_every_detail_and_an_unchanged_save_makes_no_version() {
    let h = harness().await;
    let mut b = logged_in(&h, "nurse-a").await;
    let chart = format!("/portal/patients/{}", h.patient.0);
    let csrf = b.get(&chart).await.csrf();
    let lot_value = add_lot(
        &mut b,
        &chart,
        &csrf,
        &[
            ("cvx", "10"),
            ("lot_number", "IPV-90"),
            ("mvx", "PMC"),
            ("expiration", "2099-01-01"),
            ("route", "C28161"),
            ("site", "LT"),
            ("amount_ml", "0.5"),
        ],
    )
    .await;
    let p = b
        .post(
            &format!("{chart}/doses/new"),
            &[
                ("_csrf", &csrf),
                ("date", "2024-03-01"),
                ("lot_id", &lot_value),
                ("given_by", "RN Okafor"),
                ("funding_eligibility", "V02"),
                ("funding_source", "VXC1"),
                ("vis_document_0", "Polio"),
                ("vis_published_0", "2023-08-06"),
                ("vis_presented_0", "2024-03-01"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let source = editable_source(&b.get(&chart).await.body);
    let (first_id, first) = stored_dose(&h, &source).await;
    // Every detail was stored from the lot and the form.
    assert_eq!(first.mvx.as_ref().map(|m| m.as_str()), Some("PMC"));
    assert_eq!(
        first.expiration_date,
        chrono::NaiveDate::from_ymd_opt(2099, 1, 1)
    );
    assert_eq!(
        (first.amount, first.units.as_deref()),
        (Some(0.5), Some("mL"))
    );
    assert_eq!(
        first.route.as_ref().map(|c| c.code.as_str()),
        Some("C28161")
    );
    assert_eq!(first.site.as_ref().map(|c| c.code.as_str()), Some("LT"));
    assert_eq!(
        first
            .administering_provider
            .as_ref()
            .map(|c| c.code.as_str()),
        Some("RN Okafor")
    );
    assert_eq!(
        first.funding_eligibility.as_ref().map(|c| c.code.as_str()),
        Some("V02")
    );
    assert_eq!(
        first.funding_source.as_ref().map(|c| c.code.as_str()),
        Some("VXC1")
    );
    assert_eq!(first.vis.len(), 1);
    assert_eq!(
        first.vis[0].presented,
        chrono::NaiveDate::from_ymd_opt(2024, 3, 1)
    );

    // The correction form shows every stored detail.
    let edit_path = format!("{chart}/doses/{source}/edit");
    let edit = b.get(&edit_path).await;
    assert_eq!(edit.status, StatusCode::OK);
    let values = form_values(&edit.body, &edit_path);
    let value = |k: &str| {
        values
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no field {k} in the correction form"))
    };
    for (k, v) in [
        ("date", "2024-03-01"),
        ("cvx", "10"),
        ("lot_number", "IPV-90"),
        ("mvx", "PMC"),
        ("expiration", "2099-01-01"),
        ("route", "C28161"),
        ("site", "LT"),
        ("amount_ml", "0.5"),
        ("given_by", "RN Okafor"),
        ("funding_eligibility", "V02"),
        ("funding_source", "VXC1"),
        ("vis_document_0", "Polio"),
        ("vis_published_0", "2023-08-06"),
        ("vis_presented_0", "2024-03-01"),
    ] {
        assert_eq!(value(k), v, "pre-filled {k}");
    }

    // Saving it as shown (with a reason) makes no new version.
    let submit = |extra: &[(&str, &str)]| {
        let mut form: Vec<(String, String)> = values
            .iter()
            .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
            .cloned()
            .collect();
        form.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        form
    };
    let form = submit(&[("reason", "checked the card")]);
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let p = b.post(&edit_path, &pairs).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert!(p
        .location
        .as_deref()
        .unwrap_or("")
        .contains("done=unchanged"));
    let (same_id, same) = stored_dose(&h, &source).await;
    assert_eq!(same_id, first_id, "an unchanged save wrote a new version");
    assert_eq!(same, first);
    assert!(!b.get(&chart).await.body.contains("checked the card"));

    // Changing one field keeps every other detail.
    let form = submit(&[("lot_number", "IPV-91"), ("reason", "lot typed wrong")]);
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let p = b.post(&edit_path, &pairs).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert!(p.location.as_deref().unwrap_or("").contains("done=update"));
    let (new_id, corrected) = stored_dose(&h, &source).await;
    assert_ne!(new_id, first_id);
    assert_eq!(corrected.lot_number.as_deref(), Some("IPV-91"));
    let expected = immunis_model::VaccinationEvent {
        lot_number: Some("IPV-91".into()),
        ..first.clone()
    };
    assert_eq!(corrected, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_session_expires_with_a_message() {
    let h = harness().await;
    h.reg.set_security_policy(SecurityPolicy {
        session_idle: Duration::from_millis(600),
        ..SecurityPolicy::default()
    });
    let mut b = logged_in(&h, "nurse-a").await;
    assert_eq!(b.get("/portal/search").await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(900)).await;
    let p = b.get("/portal/search").await;
    assert_eq!(p.location.as_deref(), Some("/portal/login?expired=1"));
    let p = b.get("/portal/login?expired=1").await;
    assert!(p.body.contains("inactivity"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_chart_links_to_the_official_record_as_pdf_and_health_card() {
    let h = harness().await;
    h.reg
        .set_document_settings(immunis_registry::DocumentSettings {
            public_url: Some("https://iis.example.org".into()),
            ..Default::default()
        });
    let base = format!("/portal/patients/{}", h.patient.0);
    let mut a = logged_in(&h, "nurse-a").await;
    let chart = a.get(&base).await;
    assert!(chart.body.contains(&format!("{base}/record.pdf")));
    let pdf = a.get(&format!("{base}/record.pdf")).await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert!(pdf.body.starts_with("%PDF-"), "a PDF document");
    let card = a.get(&format!("{base}/record.smart-health-card")).await;
    assert_eq!(card.status, StatusCode::OK);
    assert!(
        card.body.contains("\"verifiableCredential\""),
        "{}",
        card.body
    );
    // A provider who may not see the person gets no document either.
    h.reg
        .record_consent(
            &console_admin(),
            h.patient,
            ConsentKind::ObjectionFiled,
            None,
            None,
        )
        .expect("objection");
    let mut c = logged_in(&h, "nurse-c").await;
    let p = c.get(&format!("{base}/record.pdf")).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert!(!p.body.starts_with("%PDF-"));
    // Without a session: the login page, not a document.
    let mut anon = Browser::new(app(&h.reg, PortalConfig::unlimited()));
    let p = anon.get(&format!("{base}/record.smart-health-card")).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_school_nurse_sees_the_roster_against_the_requirements_and_exports_csv() {
    let mut h = harness().await;
    let admin = console_admin();
    h.reg
        .add_organization(&admin, "Springfield Elementary", OrganizationKind::School)
        .expect("school");
    let nurse = h
        .reg
        .add_user(
            &admin,
            "school-nurse",
            Some("Springfield Elementary"),
            None,
            Some(PASSWORD),
        )
        .expect("user");
    h.secrets.insert("school-nurse".into(), nurse.totp_secret);
    let grade = immunis_schools::Grade::parse("K").expect("grade");
    tokio::task::block_in_place(|| {
        h.reg
            .set_school_grade(&admin, "Springfield Elementary", h.patient, &grade, None)
    })
    .expect("rostered in kindergarten");

    let mut s = logged_in(&h, "school-nurse").await;
    let p = s.get("/portal/school").await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(p.body.contains("Springfield Elementary"));
    assert!(p.body.contains("Rivera, Sofia"), "{}", p.body);
    // Two doses on file: a kindergartner is far from compliant.
    assert!(p.body.contains("not compliant"), "{}", p.body);
    assert!(p.body.contains("1 students"));
    let p = s.get("/portal/school?grade=7").await;
    assert!(p.body.contains("No students on the roster in this grade"));
    let p = s.get("/portal/school?grade=Z9").await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    let csv = s.get("/portal/school/report.csv?grade=K").await;
    assert_eq!(csv.status, StatusCode::OK);
    let mut lines = csv.body.lines();
    assert!(lines
        .next()
        .expect("header")
        .starts_with("registry_id,name"));
    let row = lines.next().expect("one student");
    assert!(
        row.contains("Rivera") && row.contains("not compliant"),
        "{row}"
    );

    // Under an objection the school gets no data, only "not available".
    h.reg
        .record_consent(&admin, h.patient, ConsentKind::ObjectionFiled, None, None)
        .expect("objection");
    let p = s.get("/portal/school").await;
    assert!(p.body.contains("record not available to school"));
    assert!(!p.body.contains("Rivera"));

    // Not a school user: no school report.
    let mut a = logged_in(&h, "nurse-a").await;
    let p = a.get("/portal/school").await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_changes_their_own_password_and_other_sessions_end() {
    let h = harness().await;
    // Two sessions of the same user (two browsers): codes of the previous
    // and the current 30-second step (each code logs in once).
    let mut b = Browser::new(app(&h.reg, PortalConfig::unlimited()));
    let secret = totp::base32_decode(&h.secrets["nurse-c"]).expect("base32");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let p = b
        .login("nurse-c", PASSWORD, &totp::code_at(&secret, now - 30))
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let mut other = Browser::new(app(&h.reg, PortalConfig::unlimited()));
    let p = other
        .login("nurse-c", PASSWORD, &totp::code_at(&secret, now))
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let page = b.get("/portal/account").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Change your password"));
    let csrf = page.csrf();
    let new = "quiet-lantern-93-mesa";
    // The current password must be right, the two new ones alike, the new
    // one acceptable.
    for (current, first, second, why) in [
        (
            "not-my-password-000",
            new,
            new,
            "current password is not right",
        ),
        (
            PASSWORD,
            new,
            "quiet-lantern-93-mess",
            "two new passwords differ",
        ),
        (
            PASSWORD,
            "password1234",
            "password1234",
            "common or breached",
        ),
    ] {
        let p = b
            .post(
                "/portal/account/password",
                &[
                    ("_csrf", &csrf),
                    ("current", current),
                    ("new", first),
                    ("repeat", second),
                ],
            )
            .await;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{why}");
        assert!(p.body.contains(why), "{why}: {}", p.body);
    }
    let p = b
        .post(
            "/portal/account/password",
            &[
                ("_csrf", &csrf),
                ("current", PASSWORD),
                ("new", new),
                ("repeat", new),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(p.body.contains("Your password was changed"));
    // This session goes on; the other one has ended.
    assert_eq!(b.get("/portal/search").await.status, StatusCode::OK);
    let gone = other.get("/portal/search").await;
    assert_eq!(gone.status, StatusCode::SEE_OTHER);
    // The old password no longer logs in; the new one does.
    let next = totp::code_at(&secret, now + 30);
    let mut fresh = Browser::new(app(&h.reg, PortalConfig::unlimited()));
    let p = fresh.login("nurse-c", PASSWORD, &next).await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    assert!(p.body.contains("Login failed"), "{}", p.body);
    let p = fresh.login("nurse-c", new, &next).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reused_code_gets_its_own_message() {
    let h = harness().await;
    let used = code(&h, "nurse-b", 0);
    let mut b = Browser::new(app(&h.reg, PortalConfig::unlimited()));
    let p = b.login("nurse-b", PASSWORD, &used).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let mut again = Browser::new(app(&h.reg, PortalConfig::unlimited()));
    let p = again.login("nurse-b", PASSWORD, &used).await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    assert!(p.body.contains("already used"), "{}", p.body);
    // With a wrong password the same code gets the common message.
    let p = again.login("nurse-b", "wrong-password-1234", &used).await;
    assert!(
        !p.body.contains("already used") && p.body.contains("Login failed"),
        "{}",
        p.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_administrator_resets_a_users_password_and_totp_in_the_portal() {
    let h = harness().await;
    let mut nurse = logged_in(&h, "nurse-a").await;
    let mut admin = logged_in(&h, "registrar").await;
    let users = admin.get("/portal/admin/users").await;
    assert!(users.body.contains("/portal/admin/users/nurse-a/reset"));
    let p = admin
        .post(
            "/portal/admin/users/nurse-a/reset",
            &[("_csrf", &users.csrf())],
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(p.body.contains("shown only once") && p.body.contains("TOTP secret"));
    // The nurse's session ended with the reset.
    assert_eq!(
        nurse.get("/portal/search").await.status,
        StatusCode::SEE_OTHER
    );
    // Not for a non-administrator.
    let mut other = logged_in(&h, "nurse-b").await;
    let page = other.get("/portal/search").await;
    let p = other
        .post(
            "/portal/admin/users/nurse-a/reset",
            &[("_csrf", &page.csrf())],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
}
