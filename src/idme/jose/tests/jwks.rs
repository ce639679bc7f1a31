//! The JWKS cache: refetches of unknown key ids, key rotation, one fetch shared by concurrent
//! callbacks, outages, and entries skipped.

use super::*;
use crate::sandbox::keys::b64;

#[tokio::test]
async fn an_unknown_kid_refetches_at_most_once_per_interval() {
    let (server, opener) = served_with(Setup {
        min_refetch: Duration::from_millis(400),
        ..Setup::default()
    })
    .await;
    let payload = claims(json!({}));
    let header = json!({"alg": "RS256", "kid": "nobody"});
    let unknown = idme_keys()
        .sign_with_header(JwsAlg::Rs256, &header, &payload)
        .unwrap();
    // The first fetch already looked for it: no second fetch right after.
    assert_eq!(refused(&opener, &unknown).await, JoseError::UnknownKey);
    assert_eq!(server.hits(), 1);
    for _ in 0..5 {
        assert_eq!(refused(&opener, &unknown).await, JoseError::UnknownKey);
    }
    assert_eq!(server.hits(), 1, "throttled");
    // Known keys keep working meanwhile, from the cache.
    assert!(
        opener
            .open(jws(JwsAlg::Rs256, json!({})).as_bytes())
            .await
            .is_ok()
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(refused(&opener, &unknown).await, JoseError::UnknownKey);
    assert_eq!(server.hits(), 2, "one refetch once the interval passed");

    // No kid: only an unambiguous key of the right type will do.
    let bare = idme_keys()
        .sign_with_header(JwsAlg::Es256, &json!({"alg": "ES256"}), &payload)
        .unwrap();
    assert!(opener.open(bare.as_bytes()).await.is_ok());
}

#[tokio::test]
async fn a_key_rotation_is_picked_up_with_one_refetch() {
    let (server, opener) = served().await;
    assert!(
        opener
            .open(jws(JwsAlg::Rs256, json!({})).as_bytes())
            .await
            .is_ok()
    );
    assert_eq!(server.hits(), 1);

    let rotated = SigningKeys::generate("idme-2").unwrap();
    server.set(200, rotated.jwks_json());
    let token = rotated.sign(JwsAlg::Rs256, &claims(json!({}))).unwrap();
    assert!(opener.open(token.as_bytes()).await.is_ok());
    assert_eq!(server.hits(), 2);
    // The old key is gone with the new set; yet another kid waits for the interval.
    assert_eq!(
        refused(&opener, &jws(JwsAlg::Rs256, json!({}))).await,
        JoseError::UnknownKey
    );
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn concurrent_callbacks_share_one_fetch() {
    let (server, opener) = served().await;
    *server.delay.lock().unwrap() = Duration::from_millis(300);
    let token = jws(JwsAlg::Rs256, json!({}));
    let opens: Vec<_> = (0..8)
        .map(|_| {
            let (opener, token) = (opener.clone(), token.clone());
            tokio::spawn(async move { opener.open(token.as_bytes()).await })
        })
        .collect();
    for open in opens {
        assert!(open.await.unwrap().is_ok());
    }
    assert_eq!(server.hits(), 1);

    // A failing JWKS is shared the same way: one fetch, everyone told.
    let (server, opener) = served().await;
    server.set(500, "{}".into());
    *server.delay.lock().unwrap() = Duration::from_millis(300);
    let opens: Vec<_> = (0..8)
        .map(|_| {
            let (opener, token) = (opener.clone(), token.clone());
            tokio::spawn(async move { opener.open(token.as_bytes()).await })
        })
        .collect();
    for open in opens {
        assert_eq!(
            open.await.unwrap(),
            Err(JoseError::JwksUnavailable("HTTP 500".into()))
        );
    }
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn jwks_outages_and_garbage_are_typed() {
    let (server, opener) = served().await;
    let token = jws(JwsAlg::Rs256, json!({}));
    server.set(503, "down".into());
    let e = refused(&opener, &token).await;
    assert_eq!(e, JoseError::JwksUnavailable("HTTP 503".into()));
    assert_eq!(e.kind(), "jwks_unavailable");
    server.set(200, "<html>".into());
    assert_eq!(refused(&opener, &token).await, JoseError::JwksInvalid);
    // Once it is back, the next callback fetches again (failures are not cached).
    server.set(200, idme_keys().jwks_json());
    assert!(opener.open(token.as_bytes()).await.is_ok());

    let gone = Url::parse("http://127.0.0.1:9/jwks").unwrap();
    let opener = Setup::default().opener(&gone);
    assert_eq!(
        refused(&opener, &token).await,
        JoseError::JwksUnavailable("unreachable".into())
    );
}

#[tokio::test]
async fn odd_jwks_entries_are_skipped_not_fatal() {
    let mut keys = idme_keys().jwks_keys();
    let rsa = keys[0].clone();
    let mut enc = rsa.clone();
    enc["use"] = "enc".into();
    enc["kid"] = "enc-key".into();
    let mut pss = rsa.clone();
    pss["alg"] = "PS256".into();
    pss["kid"] = "pss-key".into();
    let mut small = rsa.clone();
    small["n"] = b64(&[0xff; 128]).into();
    small["kid"] = "small-key".into();
    keys.extend([
        enc,
        pss,
        small,
        json!({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}),
        json!({"kty": "EC", "crv": "P-384", "kid": "p384", "x": "AA", "y": "AA"}),
        json!({"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": "AA"}),
        json!({"kty": "RSA", "kid": "broken", "n": 12, "e": true}),
        json!("not even an object"),
    ]);
    let server = JwksServer::start(json!({ "keys": keys }).to_string()).await;
    let opener = Setup::default().opener(&server.url);
    assert!(
        opener
            .open(jws(JwsAlg::Rs256, json!({})).as_bytes())
            .await
            .is_ok()
    );
    assert!(
        opener
            .open(jws(JwsAlg::Es256, json!({})).as_bytes())
            .await
            .is_ok()
    );
    let payload = claims(json!({}));
    for kid in ["enc-key", "pss-key", "small-key", "hmac"] {
        let header = json!({"alg": "RS256", "kid": kid});
        let token = idme_keys()
            .sign_with_header(JwsAlg::Rs256, &header, &payload)
            .unwrap();
        assert_eq!(
            refused(&opener, &token).await,
            JoseError::UnknownKey,
            "{kid}"
        );
    }
}
