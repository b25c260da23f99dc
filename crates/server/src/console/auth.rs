//! Console sessions: the admin token, once, at the login form; then an HttpOnly, SameSite=Strict
//! cookie holding a random id whose hash (never the id) is kept in the database with the
//! session's CSRF token and a fingerprint of the admin token — so every instance on the database
//! knows the session, and changing `RG_ADMIN_TOKEN` ends every session made with the old one.

use super::page::{Lang, layout_bare};
use crate::state::AppState;
use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use rewardgate_core::clock;
use rewardgate_store::SessionRecord;
use std::collections::HashMap;
use subtle::ConstantTimeEq;

const SESSION_COOKIE: &str = "rg_session";
const LANG_COOKIE: &str = "rg_lang";
/// How long a session lasts from its login.
const SESSION_MS: i64 = 12 * 3600 * 1000;
/// The largest form the console takes (a catalogue object with its PEMs fits easily).
const MAX_FORM_BYTES: usize = 256 * 1024;

/// A logged-in operator: the session's CSRF token and the chosen language.
pub struct Operator {
    pub csrf: String,
    pub lang: Lang,
    id_hash: String,
}

fn sha256_hex(s: &str) -> String {
    hex::encode(digest::digest(&digest::SHA256, s.as_bytes()))
}

fn random_hex() -> String {
    let mut b = [0u8; 32];
    SystemRandom::new()
        .fill(&mut b)
        .expect("the system RNG works");
    hex::encode(b)
}

fn fingerprint(token: &str) -> String {
    sha256_hex(&format!(
        "rewardgate console session for admin token {token}"
    ))
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

pub fn lang_of(headers: &HeaderMap) -> Lang {
    match cookie(headers, LANG_COOKIE) {
        Some("zh") => Lang::Zh,
        _ => Lang::En,
    }
}

/// Behind a TLS-terminating proxy the cookie is also `Secure`.
fn secure(headers: &HeaderMap) -> &'static str {
    match headers.get("x-forwarded-proto").map(|v| v.as_bytes()) {
        Some(b"https") => "; Secure",
        _ => "",
    }
}

fn console_off() -> Response {
    (
        StatusCode::NOT_FOUND,
        "the console is off: set RG_ADMIN_TOKEN",
    )
        .into_response()
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Response> {
        let Some(token) = &s.admin_token else {
            return Err(console_off());
        };
        let lang = lang_of(&parts.headers);
        let Some(id) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(Redirect::to("/console/login").into_response());
        };
        let id_hash = sha256_hex(id);
        let rec = s
            .store
            .session(id_hash.clone(), clock::now_ms())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "console session read failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
            })?;
        match rec {
            Some(r)
                if bool::from(
                    r.token_fingerprint
                        .as_bytes()
                        .ct_eq(fingerprint(token.expose()).as_bytes()),
                ) =>
            {
                Ok(Operator {
                    csrf: r.csrf,
                    lang,
                    id_hash,
                })
            }
            _ => Err(Redirect::to("/console/login").into_response()),
        }
    }
}

/// A submitted console form (`application/x-www-form-urlencoded`), at most 256 KiB.
pub struct FormData(pub HashMap<String, String>);

impl FormData {
    pub fn get(&self, k: &str) -> &str {
        self.0.get(k).map(String::as_str).unwrap_or("")
    }
}

impl<S: Send + Sync> FromRequest<S> for FormData {
    type Rejection = Response;
    async fn from_request(req: Request, _: &S) -> Result<Self, Response> {
        let bytes = axum::body::to_bytes(req.into_body(), MAX_FORM_BYTES)
            .await
            .map_err(|_| (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response())?;
        Ok(FormData(
            form_urlencoded::parse(&bytes).into_owned().collect(),
        ))
    }
}

impl Operator {
    /// The refusal (HTTP 403) of a form whose CSRF token is not this session's; None if it is.
    pub fn refuse_forged(&self, f: &FormData) -> Option<Response> {
        if bool::from(f.get("csrf").as_bytes().ct_eq(self.csrf.as_bytes())) && !self.csrf.is_empty()
        {
            None
        } else {
            tracing::warn!("console form refused: missing or wrong CSRF token");
            Some((
                StatusCode::FORBIDDEN,
                "this form is stale or was not sent from the console: reload the page and try again",
            )
                .into_response())
        }
    }
}

fn login_page(lang: Lang, error: Option<&str>) -> maud::Markup {
    layout_bare(
        lang,
        lang.t("Sign in", "登录"),
        html! {
            form.login method="post" action="/console/login" {
                h1 { "rewardgate " (lang.t("console", "运营控制台")) }
                @if let Some(e) = error { p.error role="alert" { (e) } }
                label for="token" { (lang.t("Admin token", "管理令牌")) }
                input #token type="password" name="token" autocomplete="current-password" autofocus required;
                button type="submit" { (lang.t("Sign in", "登录")) }
                p.muted { (lang.t("The token is RG_ADMIN_TOKEN of this server.", "令牌即本服务的 RG_ADMIN_TOKEN。")) }
            }
        },
    )
}

pub async fn login_form(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if s.admin_token.is_none() {
        return console_off();
    }
    login_page(lang_of(&headers), None).into_response()
}

/// Failed sign-ins this process saw in the current minute (the minute, the count): past
/// `MAX_FAILURES_PER_MINUTE`, every sign-in is refused until the minute is over, so guessing the
/// token online goes no faster than that.
static FAILURES: std::sync::Mutex<(i64, u32)> = std::sync::Mutex::new((0, 0));
const MAX_FAILURES_PER_MINUTE: u32 = 20;

pub async fn login(State(s): State<AppState>, req: Request) -> Response {
    let Some(token) = s.admin_token.clone() else {
        return console_off();
    };
    let (parts, body) = req.into_parts();
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_default();
    let headers = parts.headers.clone();
    let f = match FormData::from_request(Request::from_parts(parts, body), &()).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let lang = lang_of(&headers);
    let minute = clock::now_ms() / 60_000;
    {
        let mut w = FAILURES.lock().unwrap_or_else(|p| p.into_inner());
        if w.0 != minute {
            *w = (minute, 0);
        }
        if w.1 >= MAX_FAILURES_PER_MINUTE {
            tracing::warn!(peer = %peer, "console sign-in refused: too many failed sign-ins this minute");
            let msg = lang.t(
                "Too many failed sign-ins: wait a minute and try again.",
                "登录失败次数过多，请一分钟后再试。",
            );
            let mut r = login_page(lang, Some(msg)).into_response();
            *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            return r;
        }
    }
    let given = f.get("token");
    if given.is_empty() || !bool::from(given.as_bytes().ct_eq(token.expose().as_bytes())) {
        FAILURES.lock().unwrap_or_else(|p| p.into_inner()).1 += 1;
        tracing::warn!(peer = %peer, "console sign-in refused: wrong admin token");
        let mut r = login_page(lang, Some(lang.t("Wrong token.", "令牌错误。"))).into_response();
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        return r;
    }
    let id = random_hex();
    let now = clock::now_ms();
    let rec = SessionRecord {
        id_hash: sha256_hex(&id),
        csrf: random_hex(),
        token_fingerprint: fingerprint(token.expose()),
        created_at: now,
        expires_at: now + SESSION_MS,
    };
    if let Err(e) = s.store.create_session(rec, now).await {
        tracing::error!(error = %e, "console session not stored");
        return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
    }
    tracing::info!("console sign-in");
    let mut r = Redirect::to("/console").into_response();
    let c = format!(
        "{SESSION_COOKIE}={id}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={}{}",
        SESSION_MS / 1000,
        secure(&headers)
    );
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&c).expect("cookie text"),
    );
    r
}

pub async fn logout(State(s): State<AppState>, op: Operator, f: FormData) -> Response {
    if let Some(r) = op.refuse_forged(&f) {
        return r;
    }
    if let Err(e) = s.store.delete_session(op.id_hash.clone()).await {
        tracing::error!(error = %e, "console session not deleted");
    }
    let mut r = Redirect::to("/console/login").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "rg_session=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    r
}

/// Switches the labels' language (a cookie; nothing on the server changes).
pub async fn set_lang(Path(lang): Path<String>, headers: HeaderMap) -> Response {
    let v = if lang == "zh" { "zh" } else { "en" };
    let back = headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| r.find("/console").map(|i| r[i..].to_string()))
        .unwrap_or_else(|| "/console".to_string());
    let mut r = Redirect::to(&back).into_response();
    let c = format!("{LANG_COOKIE}={v}; Path=/console; SameSite=Strict; Max-Age=31536000");
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&c).expect("cookie text"),
    );
    r
}
