//! `perkgate keys add|list|revoke`: the key is printed once, works, is listed by its prefix
//! only, and is refused once revoked; each change is in the audit log.

use perkgate::admin::{api_keys, audit};

use super::Sandbox;

async fn db(s: &Sandbox) -> perkgate::db::Db {
    perkgate::db::connect(&format!("sqlite://{}", s.db_file().display()))
        .await
        .unwrap()
}

#[tokio::test]
async fn keys_are_added_shown_once_listed_and_revoked() {
    let s = Sandbox::new();
    let run = s.run(&["keys", "add", "shop backend", "--scope", "redeem"]);
    run.assert_code(0);
    let secret = run.stdout.lines().last().unwrap().to_owned();
    assert!(
        secret.starts_with("pk_live_") && secret.len() == 51,
        "{run:#?}"
    );
    assert!(
        run.stdout
            .starts_with("added API key shop backend (redeem), id 1")
    );
    let key = api_keys::authenticate(&db(&s).await, &secret, 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(key.scope, api_keys::Scope::Redeem);

    s.run(&["keys", "add", "--scope", "read", "reports"])
        .assert_code(0);
    let dup = s.run(&["keys", "add", "reports", "--scope", "read"]);
    dup.assert_code(1);
    assert!(dup.stderr.contains("exists already"), "{dup:#?}");
    s.run(&["keys", "add", "x", "--scope", "admin"])
        .assert_code(2);

    let list = s.run(&["keys", "list"]);
    list.assert_code(0);
    assert!(list.stdout.contains("shop backend") && list.stdout.contains("reports"));
    assert!(
        list.stdout.contains(&format!("{}…", &secret[..12])),
        "{list:#?}"
    );
    assert!(
        !list.stdout.contains(&secret[12..]),
        "the key is never shown again"
    );

    s.run(&["keys", "revoke", "shop backend"]).assert_code(0);
    assert_eq!(
        api_keys::authenticate(&db(&s).await, &secret, 2)
            .await
            .unwrap(),
        None
    );
    let again = s.run(&["keys", "revoke", "shop backend"]);
    again.assert_code(1);
    s.run(&["keys", "revoke", "2"]).assert_code(0);
    let list = s.run(&["keys", "list"]);
    assert_eq!(list.stdout.lines().count(), 3);
    assert!(
        !list.stdout.lines().skip(1).any(|l| l.ends_with(" -")),
        "{list:#?}"
    );

    let actions: Vec<String> = audit::recent(&db(&s).await, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {} {}", e.actor, e.action, e.details))
        .collect();
    assert!(
        actions
            .iter()
            .any(|a| a.starts_with("cli api key added shop backend (redeem, pk_live_"))
    );
    assert!(
        actions
            .iter()
            .any(|a| a.starts_with("cli api key revoked reports (read, pk_live_"))
    );
    assert!(!actions.iter().any(|a| a.contains(&secret)));
}
