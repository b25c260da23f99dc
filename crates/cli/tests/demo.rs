//! `rewardgate demo` runs end to end and exits 0; `import-openids` loads a CSV through the admin API.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_rewardgate");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn demo_runs_to_the_end() {
    let out = Command::new(BIN)
        .args([
            "demo",
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
            "--sandbox-listen",
            &format!("127.0.0.1:{}", free_port()),
        ])
        .env("RG_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("RECEIVED") && stdout.contains("ledger balanced: true"),
        "{stdout}"
    );
    assert_eq!(
        stdout.matches("delivered (").count(),
        6,
        "every order's callback arrived: {stdout}"
    );
    // The 商家转账 went through the user's confirmation, reported while waiting and at its end.
    assert!(
        stdout.contains("商家转账 waits for its user: userConfirm {mchId 1900000109")
            && stdout.contains("delivered (PROCESSING, SUCCESS)"),
        "{stdout}"
    );
}

#[test]
fn demo_names_the_failed_step() {
    // Bound on a port the system picks (a free port looked up first can be taken by a test
    // running beside this one before it is bound).
    let _busy = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = _busy.local_addr().unwrap().port();
    let out = Command::new(BIN)
        .args([
            "demo",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--sandbox-listen",
            &format!("127.0.0.1:{}", free_port()),
        ])
        .env("RG_LOG", "warn")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("demo step failed: start the sandbox and serve"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn import_openids_from_csv() {
    use serde_json::{Value, json};
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut serve = Command::new(BIN)
        .arg("serve")
        .env("RG_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "RG_DATABASE_URL",
            format!("sqlite://{}/rg.db", dir.path().display()),
        )
        .env("RG_ADMIN_TOKEN", "import-test-token")
        .env("RG_PLATFORM_KEY_FILE", dir.path().join("platform.pem"))
        .env("RG_LOG", "warn")
        .spawn()
        .unwrap();
    let http = reqwest::blocking::Client::new();
    for _ in 0..100 {
        if http.get(format!("{base}/healthz")).send().is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let put = |path: &str, body: Value| {
        let v: Value = http
            .put(format!("{base}/admin/v1{path}"))
            .bearer_auth("import-test-token")
            .json(&body)
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(v["status"], 200, "{v}");
    };
    put(
        "/channel-accounts/wx2",
        json!({"kind": "WECHAT_V2", "mchId": "1900000109", "appId": "wx8888888888888888", "apiKey": "k".repeat(32)}),
    );
    put("/merchants/M1", json!({"name": "m"}));
    put(
        "/businesses/B1",
        json!({"merchantId": "M1", "name": "b", "md5Key": "0123456789abcdef0123"}),
    );
    put(
        "/rabbitpre-integrations/rp",
        json!({"apiSecretKey": "secret-secret-secret", "businessId": "B1", "channelAccountId": "wx2", "openidMapping": "MAPPED"}),
    );
    let csv = dir.path().join("map.csv");
    // Three thousand more lines: several batches under the 64 KiB body limit (one 5000-row batch
    // used to be refused above ~800 rows).
    let mut text =
        "userId,openid\nu1,oOpen1\n\"u2\",\"oOpen2\"\nbroken line\nu3,oOpen3\n".to_string();
    for i in 0..3000 {
        text.push_str(&format!(
            "rabbitpre-user-{i:08},oOpenidOfAWeChatUser_{i:012}\n"
        ));
    }
    std::fs::write(&csv, text).unwrap();
    let out = Command::new(BIN)
        .args(["import-openids", "--integration", "rp", "--url", &base])
        .arg(&csv)
        .env("RG_ADMIN_TOKEN", "import-test-token")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("imported 3003 mappings")
            && stdout.contains("1 bad lines skipped (lines [4])"),
        "{stdout}"
    );
    let v: Value = http
        .get(format!(
            "{base}/admin/v1/rabbitpre-integrations/rp/openids/u2"
        ))
        .bearer_auth("import-test-token")
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(v["data"]["openid"], "oOpen2", "{v}");
    // The platform key lives in the configured file, readable by its owner only.
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(dir.path().join("platform.pem")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let v: Value = http
        .get(format!("{base}/v1/openapi/platform/publicKey"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(
        v["data"]["publicKey"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    let _ = serve.kill();
    let _ = serve.wait();
}
