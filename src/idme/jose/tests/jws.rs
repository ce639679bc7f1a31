//! JWS: verification against the JWKS, forged and confused signatures, tampering, and the
//! exp, nbf, iss and aud checks.

use super::*;
use crate::sandbox::keys::{b64, compact};

#[tokio::test]
async fn rs256_and_es256_verify_against_the_jwks() {
    let (server, opener) = served().await;
    for alg in [JwsAlg::Rs256, JwsAlg::Es256] {
        let token = jws(alg, json!({}));
        let (json, format) = opener.open(token.as_bytes()).await.unwrap();
        assert_eq!(format, PayloadFormat::Signed);
        let value: Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value["attributes"][1]["value"], "u-1");
        // Quoted, with whitespace, as some ID.me answers come.
        let quoted = format!(" \"{token}\"\n");
        assert_eq!(
            opener.open(quoted.as_bytes()).await.unwrap().1,
            PayloadFormat::Signed
        );
    }
    assert_eq!(server.hits(), 1, "one fetch, then the cache");
    assert_eq!(opener.jwks().fetches(), 1);
}

#[tokio::test]
async fn forged_and_confused_signatures_are_refused() {
    let (_server, opener) = served().await;
    let payload = claims(json!({}));
    let kid = idme_keys().kid(JwsAlg::Rs256);

    // Another key under ID.me's kid.
    let forged = forger_keys().sign(JwsAlg::Rs256, &payload).unwrap();
    assert_eq!(refused(&opener, &forged).await, JoseError::BadSignature);
    let forged = forger_keys().sign(JwsAlg::Es256, &payload).unwrap();
    assert_eq!(refused(&opener, &forged).await, JoseError::BadSignature);

    // The forger's key embedded in the header: never consulted.
    let mut header = json!({"alg": "RS256", "kid": kid});
    header["jwk"] = forger_keys().jwks_keys()[0].clone();
    header["jku"] = Value::from("https://attacker.invalid/jwks");
    header["x5u"] = Value::from("https://attacker.invalid/cert");
    let forged = forger_keys()
        .sign_with_header(JwsAlg::Rs256, &header, &payload)
        .unwrap();
    assert_eq!(refused(&opener, &forged).await, JoseError::BadSignature);

    // alg none, with and without a signature part.
    let none = compact(&json!({"alg": "none", "kid": kid}), &payload, b"");
    assert_eq!(
        refused(&opener, &none).await,
        JoseError::DisallowedAlgorithm
    );
    let none = compact(&json!({"alg": "none"}), &payload, b"x");
    assert_eq!(
        refused(&opener, &none).await,
        JoseError::DisallowedAlgorithm
    );
    let no_alg = compact(&json!({"kid": kid}), &payload, b"x");
    assert_eq!(
        refused(&opener, &no_alg).await,
        JoseError::DisallowedAlgorithm
    );

    // HS256 keyed with the RSA public key (DER, and its JWK modulus): the classic confusion.
    use hmac::Mac;
    let n = URL_SAFE_NO_PAD_decode(idme_keys().jwks_keys()[0]["n"].as_str().unwrap());
    for secret in [idme_keys().rsa_public_der(), n] {
        for alg in ["HS256", "HS384", "HS512"] {
            let header = json!({"alg": alg, "kid": kid});
            let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(&payload));
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&secret).unwrap();
            mac.update(input.as_bytes());
            let token = format!("{input}.{}", b64(&mac.finalize().into_bytes()));
            assert_eq!(
                refused(&opener, &token).await,
                JoseError::DisallowedAlgorithm
            );
        }
    }

    // Other asymmetric algorithms are not ours either.
    for alg in ["PS256", "RS512", "ES384", "EdDSA"] {
        let token = compact(&json!({"alg": alg, "kid": kid}), &payload, b"sig");
        assert_eq!(
            refused(&opener, &token).await,
            JoseError::DisallowedAlgorithm
        );
    }

    // The EC key's kid with RS256 (and the reverse): algorithm and key type must agree.
    let header = json!({"alg": "RS256", "kid": idme_keys().kid(JwsAlg::Es256)});
    let token = idme_keys()
        .sign_with_header(JwsAlg::Rs256, &header, &payload)
        .unwrap();
    assert_eq!(
        refused(&opener, &token).await,
        JoseError::AlgorithmKeyMismatch
    );
    let header = json!({"alg": "ES256", "kid": kid});
    let token = idme_keys()
        .sign_with_header(JwsAlg::Es256, &header, &payload)
        .unwrap();
    assert_eq!(
        refused(&opener, &token).await,
        JoseError::AlgorithmKeyMismatch
    );

    // A critical extension we do not implement.
    let header = json!({"alg": "RS256", "kid": kid, "crit": ["b64"], "b64": false});
    let token = idme_keys()
        .sign_with_header(JwsAlg::Rs256, &header, &payload)
        .unwrap();
    assert_eq!(
        refused(&opener, &token).await,
        JoseError::UnsupportedHeader("crit")
    );
}

#[tokio::test]
async fn tampered_and_truncated_jws_are_refused() {
    let (_server, opener) = served().await;
    let token = jws(JwsAlg::Rs256, json!({}));
    let parts: Vec<&str> = token.split('.').collect();

    // A payload swapped for another person's: the signature no longer matches.
    let other = b64(&claims(
        json!({"attributes": [{"handle": "uuid", "value": "u-2"}]}),
    ));
    let swapped = format!("{}.{other}.{}", parts[0], parts[2]);
    assert_eq!(refused(&opener, &swapped).await, JoseError::BadSignature);

    for truncated in [
        format!("{}.{}", parts[0], parts[1]),
        parts[0].to_owned(),
        token[..token.len() / 2].to_owned(),
        format!("{}.{}.", parts[0], parts[1]),
        format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            &parts[2][..parts[2].len() - 5]
        ),
        format!("{}..{}", parts[0], parts[2]),
        format!("{}.{}.{}!", parts[0], parts[1], parts[2]),
    ] {
        let e = refused(&opener, &truncated).await;
        assert!(
            matches!(e, JoseError::Malformed(_) | JoseError::BadSignature),
            "{e:?}"
        );
    }
}

#[tokio::test]
async fn exp_and_nbf_are_checked_with_a_minute_of_leeway() {
    let (_server, opener) = served().await;
    let t = now();
    for (extra, expected) in [
        (json!({"exp": t - 120}), Err(JoseError::Expired)),
        (json!({"exp": t - 30}), Ok(())),
        (json!({"nbf": t + 120}), Err(JoseError::NotYetValid)),
        (json!({"nbf": t + 30}), Ok(())),
        (
            json!({"exp": "tomorrow"}),
            Err(JoseError::Malformed("JWS claims")),
        ),
    ] {
        let token = jws(JwsAlg::Es256, extra.clone());
        let got = opener.open(token.as_bytes()).await.map(|_| ());
        assert_eq!(got, expected, "{extra}");
    }
    // No exp at all is accepted: ID.me's claims are not documented.
    let mut bare: Value = serde_json::from_slice(&claims(json!({}))).unwrap();
    bare.as_object_mut().unwrap().remove("exp");
    let token = idme_keys()
        .sign(JwsAlg::Rs256, bare.to_string().as_bytes())
        .unwrap();
    assert!(opener.open(token.as_bytes()).await.is_ok());
}

#[tokio::test]
async fn iss_and_aud_are_checked_when_configured() {
    let (_server, opener) = served_with(Setup {
        claims: ClaimChecks {
            issuer: Some("https://api.id.me/oidc".into()),
            audience: Some("client-1".into()),
        },
        ..Setup::default()
    })
    .await;
    let good = json!({"iss": "https://api.id.me/oidc", "aud": "client-1"});
    assert!(
        opener
            .open(jws(JwsAlg::Rs256, good).as_bytes())
            .await
            .is_ok()
    );
    let listed = json!({"iss": "https://api.id.me/oidc", "aud": ["other", "client-1"]});
    assert!(
        opener
            .open(jws(JwsAlg::Rs256, listed).as_bytes())
            .await
            .is_ok()
    );
    for (extra, expected) in [
        (
            json!({"iss": "https://evil.example", "aud": "client-1"}),
            JoseError::WrongIssuer,
        ),
        (json!({"aud": "client-1"}), JoseError::WrongIssuer),
        (
            json!({"iss": "https://api.id.me/oidc", "aud": "client-2"}),
            JoseError::WrongAudience,
        ),
        (
            json!({"iss": "https://api.id.me/oidc"}),
            JoseError::WrongAudience,
        ),
    ] {
        let token = jws(JwsAlg::Rs256, extra.clone());
        assert_eq!(refused(&opener, &token).await, expected, "{extra}");
    }

    // Unconfigured: whatever iss and aud say.
    let (_server, lenient) = served().await;
    let any = json!({"iss": "https://elsewhere.example", "aud": "someone"});
    assert!(
        lenient
            .open(jws(JwsAlg::Rs256, any).as_bytes())
            .await
            .is_ok()
    );
}
