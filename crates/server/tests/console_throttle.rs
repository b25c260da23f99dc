//! Guessing the admin token at the console's sign-in goes no faster than 20 tries a minute per
//! process: past that, even the right token is refused (429) until the minute is over. (A test
//! binary of its own: the count is the process's.)

mod common;
use common::*;

async fn sign_in(app: &TestApp, token: &str) -> u16 {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("token", token)
        .finish();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/console/login", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_guesses_are_throttled() {
    let db = TestDb::new(Backend::Sqlite);
    let app = spawn_app(&db.url).await;
    // Start at the top of a minute's window if the clock is about to turn.
    let into_minute = rewardgate_core::clock::now_ms() % 60_000;
    if into_minute > 50_000 {
        tokio::time::sleep(std::time::Duration::from_millis(
            (61_000 - into_minute) as u64,
        ))
        .await;
    }
    for _ in 0..20 {
        assert_eq!(sign_in(&app, "a-wrong-guess").await, 401);
    }
    assert_eq!(sign_in(&app, "another-guess").await, 429);
    assert_eq!(
        sign_in(&app, TOKEN).await,
        429,
        "even the right token waits"
    );
    app.stop().await;
}
