//! The console as a browser without JavaScript drives it: sign-in, pages, forms with CSRF.
#![allow(dead_code)]

use super::*;

/// An urlencoded form body, as a browser sends it.
pub trait FormBody {
    fn form_body(self, fields: &[(&str, &str)]) -> Self;
}

impl FormBody for reqwest::RequestBuilder {
    fn form_body(self, fields: &[(&str, &str)]) -> Self {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    }
}

pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs in; the session cookie's `name=value`.
pub async fn sign_in(app: &TestApp, token: &str) -> Option<String> {
    let r = no_redirects()
        .post(format!("{}/console/login", app.base))
        .form_body(&[("token", token)])
        .send()
        .await
        .unwrap();
    let c = r.headers().get("set-cookie")?.to_str().unwrap().to_string();
    assert_eq!(r.status(), 303);
    assert!(
        c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Path=/console"),
        "{c}"
    );
    Some(c.split(';').next().unwrap().to_string())
}

pub async fn page(app: &TestApp, cookie: &str, path: &str) -> (u16, String, Option<String>) {
    let r = no_redirects()
        .get(format!("{}{path}", app.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    let loc = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    (r.status().as_u16(), r.text().await.unwrap(), loc)
}

pub async fn post(
    app: &TestApp,
    cookie: &str,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, Option<String>) {
    let r = no_redirects()
        .post(format!("{}{path}", app.base))
        .header("cookie", cookie)
        .form_body(form)
        .send()
        .await
        .unwrap();
    let loc = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    (r.status().as_u16(), loc)
}

pub fn csrf_of(html: &str) -> String {
    let i = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + 19;
    html[i..i + 64].to_string()
}
