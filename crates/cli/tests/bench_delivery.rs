//! `rewardgate bench-delivery` at a tiny size: every phase runs to its end and prints its figure,
//! so that the benchmark issue 12's figures come from cannot break unnoticed.

use std::process::Command;

#[test]
fn every_phase_reports_its_figure() {
    let out = Command::new(env!("CARGO_BIN_EXE_rewardgate"))
        .args(["bench-delivery", "--red-packets", "4"])
        .args(["--coupons", "30", "--md5-reports", "30"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for figure in [
        "SECOND_OVER_LIMITED 0",
        "the backlog of 30 granted",
        "status reports: 30 signed (SHA256-RSA)",
        "status reports of an MD5-only business: 30 signed (MD5)",
    ] {
        assert!(text.contains(figure), "no {figure:?} in:\n{text}");
    }
}
