//! `perkgate webhooks add|list|rotate|disable|enable|remove`: the secret is printed once and
//! signs; unknown events and refused targets are clear errors; each change is audited.

use perkgate::admin::audit;
use perkgate::webhooks::{EventType, endpoints};

use super::Sandbox;

async fn db(s: &Sandbox) -> perkgate::db::Db {
    perkgate::db::connect(&format!("sqlite://{}", s.db_file().display()))
        .await
        .unwrap()
}

const LOOPBACK: &[(&str, &str)] = &[
    ("PERKGATE_WEBHOOKS_ALLOW_HTTP", "1"),
    ("PERKGATE_WEBHOOKS_ALLOW_PRIVATE", "1"),
];

#[tokio::test]
async fn endpoints_are_added_listed_rotated_paused_and_removed() {
    let s = Sandbox::new();
    let add = ["webhooks", "add", "http://127.0.0.1:9/hook", "--events"];
    let run = s.run_with(
        &[&add[..], &["code.redeemed,benefit.unlocked"]].concat(),
        LOOPBACK,
    );
    run.assert_code(0);
    assert!(
        run.stdout
            .starts_with("added webhook endpoint 1 for benefit.unlocked,code.redeemed"),
        "{run:#?}"
    );
    let secret = run.stdout.lines().last().unwrap().to_owned();
    assert!(
        secret.starts_with("whsec_") && secret.len() == 50,
        "{run:#?}"
    );
    // The printed secret is the one that signs.
    let sig = perkgate::webhooks::sign::signature(&secret, "msg_1", 1, "{}").unwrap();
    let reference = standardwebhooks::Webhook::new(&secret)
        .unwrap()
        .sign("msg_1", 1, b"{}")
        .unwrap();
    assert_eq!(sig, reference);

    let unknown = s.run_with(
        &[&add[..], &["benefit.unlocked,code.used"]].concat(),
        LOOPBACK,
    );
    unknown.assert_code(2);
    assert!(
        unknown.stderr.contains("unknown event \"code.used\"")
            && unknown.stderr.contains("pool.empty"),
        "{unknown:#?}"
    );
    // Without the operator's permission: https only, public addresses only.
    let plain = s.run(&[&add[..], &["pool.low"]].concat());
    plain.assert_code(1);
    assert!(
        plain.stderr.contains("must be an https:// URL"),
        "{plain:#?}"
    );
    let private = s.run(&[
        "webhooks",
        "add",
        "https://10.0.0.1/h",
        "--events",
        "pool.low",
    ]);
    private.assert_code(1);
    assert!(
        private.stderr.contains("not a public address"),
        "{private:#?}"
    );

    let list = s.run(&["webhooks", "list"]);
    list.assert_code(0);
    assert!(
        list.stdout.contains("benefit.unlocked,code.redeemed"),
        "{list:#?}"
    );
    assert!(list.stdout.contains("http://127.0.0.1:9/hook") && !list.stdout.contains("whsec_"));

    let rotated = s.run(&["webhooks", "rotate", "1"]);
    rotated.assert_code(0);
    let new_secret = rotated.stdout.lines().last().unwrap();
    assert!(
        new_secret.starts_with("whsec_") && new_secret != secret,
        "{rotated:#?}"
    );
    s.run(&["webhooks", "disable", "1"]).assert_code(0);
    let db = db(&s).await;
    let e = endpoints::get(&db, 1).await.unwrap().unwrap();
    assert!(!e.enabled && e.previous_until.is_some());
    assert_eq!(
        e.events,
        [EventType::BenefitUnlocked, EventType::CodeRedeemed]
    );
    assert!(
        s.run(&["webhooks", "list"])
            .stdout
            .contains("disabled: disabled from the command line")
    );
    s.run(&["webhooks", "enable", "1"]).assert_code(0);
    assert!(endpoints::get(&db, 1).await.unwrap().unwrap().enabled);
    s.run(&["webhooks", "remove", "1"]).assert_code(0);
    let missing = s.run(&["webhooks", "remove", "1"]);
    missing.assert_code(1);
    assert!(missing.stderr.contains("no webhook endpoint 1"));
    s.run(&["webhooks", "rotate", "one"]).assert_code(2);

    let actions: Vec<String> = audit::recent(&db, 20)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    for action in [
        "webhook endpoint added",
        "webhook secret rotated",
        "webhook endpoint disabled",
        "webhook endpoint enabled",
        "webhook endpoint removed",
    ] {
        assert!(actions.iter().any(|a| a == action), "{action}: {actions:?}");
    }
}
