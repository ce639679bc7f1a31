//! The payload policy, its labels, and what passes through to the payload parser.

use super::*;
use crate::sandbox::keys;

#[tokio::test]
async fn the_policy_refuses_weaker_payloads() {
    let to = recipient(merchant_key());
    let json = claims(json!({}));
    let signed = jws(JwsAlg::Rs256, json!({}));
    let encrypted = keys::encrypt(&json, &to, None).unwrap();
    let nested = keys::encrypt(signed.as_bytes(), &to, Some("JWT")).unwrap();
    let bodies = [
        (
            String::from_utf8(json.clone()).unwrap(),
            PayloadFormat::Json,
        ),
        (signed, PayloadFormat::Signed),
        (encrypted, PayloadFormat::Encrypted { signed: false }),
        (nested, PayloadFormat::Encrypted { signed: true }),
    ];
    for (policy, admitted) in [
        (PayloadPolicy::Any, [true, true, true, true]),
        (PayloadPolicy::Json, [true, true, true, true]),
        (PayloadPolicy::Signed, [false, true, false, true]),
        (PayloadPolicy::Encrypted, [false, false, true, true]),
    ] {
        let (_server, opener) = served_with(Setup {
            policy,
            ..Setup::default()
        })
        .await;
        for ((body, format), ok) in bodies.iter().zip(admitted) {
            let got = opener.open(body.as_bytes()).await;
            if ok {
                assert_eq!(got.map(|(_, f)| f), Ok(*format), "{policy:?}");
            } else {
                let e = refused(&opener, body).await;
                assert_eq!(
                    e,
                    JoseError::WeakerThanRequired {
                        required: policy,
                        got: *format
                    }
                );
                assert_eq!(e.kind(), "weaker_than_required");
            }
        }
    }
}

#[test]
fn policy_and_format_labels() {
    for s in ["any", "json", "signed", "encrypted"] {
        assert_eq!(s.parse::<PayloadPolicy>().unwrap().as_str(), s);
    }
    let err = "jwe".parse::<PayloadPolicy>().unwrap_err();
    assert!(err.contains("\"signed\""), "{err}");
    assert_eq!(PayloadPolicy::default(), PayloadPolicy::Any);
    assert_eq!(
        PayloadFormat::Encrypted { signed: true }.as_str(),
        "encrypted_signed"
    );
}

#[tokio::test]
async fn plain_json_and_garbage_pass_through_to_the_payload_parser() {
    let (server, opener) = served().await;
    let (json, format) = opener.open(b"  {\"status\": []}\n").await.unwrap();
    assert_eq!(
        (json.as_slice(), format),
        (&b"{\"status\": []}"[..], PayloadFormat::Json)
    );
    // Not JOSE-shaped: left for `Payload::parse` to call malformed.
    assert_eq!(
        opener.open(b"<html>Sunny</html>").await.unwrap().1,
        PayloadFormat::Json
    );
    // JOSE-shaped but broken.
    for body in [
        "eyJhbGciOiJSUzI1NiJ9",
        "eyJhbGci OiJ.e30.x",
        "\"eyJ.a.b.c\"",
        "a.b.c.d.e.f",
    ] {
        assert!(
            matches!(refused(&opener, body).await, JoseError::Malformed(_)),
            "{body}"
        );
    }
    assert_eq!(server.hits(), 0, "no JWKS needed for any of these");
}
