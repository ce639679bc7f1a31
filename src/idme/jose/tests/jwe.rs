//! JWE: the RFC 7518 B.3 vector, RSA-OAEP, tampering, the headers refused, a missing key, a
//! JWS nested in a JWE, and reading the decryption key.

use super::*;
// `jwe` here would name this module: the one under test is the parent's.
use crate::idme::jose::jwe;
use crate::sandbox::keys::{self, b64};

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

// RFC 7518 Appendix B.3 (AES_256_CBC_HMAC_SHA_512).
const B3_P: &str = "41 20 63 69 70 68 65 72 20 73 79 73 74 65 6d 20 6d 75 73 74 20 6e 6f 74 20 62 65 20 72 65 71 75
    69 72 65 64 20 74 6f 20 62 65 20 73 65 63 72 65 74 2c 20 61 6e 64 20 69 74 20 6d 75 73 74 20 62
    65 20 61 62 6c 65 20 74 6f 20 66 61 6c 6c 20 69 6e 74 6f 20 74 68 65 20 68 61 6e 64 73 20 6f 66
    20 74 68 65 20 65 6e 65 6d 79 20 77 69 74 68 6f 75 74 20 69 6e 63 6f 6e 76 65 6e 69 65 6e 63 65";
const B3_IV: &str = "1a f3 8c 2d c2 b9 6f fd d8 66 94 09 23 41 bc 04";
const B3_A: &str = "54 68 65 20 73 65 63 6f 6e 64 20 70 72 69 6e 63 69 70 6c 65 20 6f 66 20 41 75 67 75 73 74 65 20
    4b 65 72 63 6b 68 6f 66 66 73";
const B3_E: &str = "4a ff aa ad b7 8c 31 c5 da 4b 1b 59 0d 10 ff bd 3d d8 d5 d3 02 42 35 26 91 2d a0 37 ec bc c7 bd
    82 2c 30 1d d6 7c 37 3b cc b5 84 ad 3e 92 79 c2 e6 d1 2a 13 74 b7 7f 07 75 53 df 82 94 10 44 6b
    36 eb d9 70 66 29 6a e6 42 7e a7 5c 2e 08 46 a1 1a 09 cc f5 37 0d c8 0b fe cb ad 28 c7 3f 09 b3
    a3 b7 5e 66 2a 25 94 41 0a e4 96 b2 e2 e6 60 9e 31 e6 e0 2c c8 37 f0 53 d2 1f 37 ff 4f 51 95 0b
    be 26 38 d0 9d d7 a4 93 09 30 80 6d 07 03 b1 f6";
const B3_T: &str = "4d d3 b4 c0 88 a7 f4 5c 21 68 39 64 5b 20 12 bf 2e 62 69 a8 c5 6a 81 6d bc 1b 26 77 61 95 5b c5";

fn b3_key() -> [u8; 64] {
    std::array::from_fn(|i| i as u8)
}

#[test]
fn a256cbc_hs512_decrypts_the_rfc_7518_b3_vector() {
    let iv: [u8; 16] = hex(B3_IV).try_into().unwrap();
    let plaintext =
        jwe::a256cbc_hs512_decrypt(&b3_key(), &hex(B3_A), &iv, hex(B3_E), &hex(B3_T)).unwrap();
    assert_eq!(plaintext, hex(B3_P));
    assert!(plaintext.starts_with(b"A cipher system must not be required to be secret"));

    // One flipped bit anywhere authenticated: refused before any decryption.
    let mut tag = hex(B3_T);
    tag[31] ^= 1;
    assert_eq!(
        jwe::a256cbc_hs512_decrypt(&b3_key(), &hex(B3_A), &iv, hex(B3_E), &tag),
        Err(JoseError::Undecryptable)
    );
    let mut e = hex(B3_E);
    e[0] ^= 0x80;
    assert_eq!(
        jwe::a256cbc_hs512_decrypt(&b3_key(), &hex(B3_A), &iv, e, &hex(B3_T)),
        Err(JoseError::Undecryptable)
    );
    let mut aad = hex(B3_A);
    aad.push(b'!');
    assert_eq!(
        jwe::a256cbc_hs512_decrypt(&b3_key(), &aad, &iv, hex(B3_E), &hex(B3_T)),
        Err(JoseError::Undecryptable)
    );
}

#[test]
fn the_issuer_side_produces_the_b3_vector_too() {
    let iv: [u8; 16] = hex(B3_IV).try_into().unwrap();
    let (e, t) = keys::a256cbc_hs512_encrypt(&b3_key(), &hex(B3_A), &iv, &hex(B3_P)).unwrap();
    assert_eq!(e, hex(B3_E));
    assert_eq!(t.to_vec(), hex(B3_T));
}

#[tokio::test]
async fn rsa_oaep_round_trip_and_the_wrong_key() {
    let (_server, opener) = served().await;
    let json = claims(json!({}));
    let token = keys::encrypt(&json, &recipient(merchant_key()), None).unwrap();
    assert_eq!(token.split('.').count(), 5);
    assert_eq!(
        opener.open(token.as_bytes()).await.unwrap(),
        (json.clone(), PayloadFormat::Encrypted { signed: false })
    );

    // Encrypted to someone else: the random-CEK path fails at the tag, like a tampered tag.
    let other = DecryptionKey::generate().unwrap();
    let token = keys::encrypt(&json, &recipient(&other), None).unwrap();
    assert_eq!(refused(&opener, &token).await, JoseError::Undecryptable);
}

#[tokio::test]
async fn tampered_jwe_parts_are_undecryptable() {
    let (_server, opener) = served().await;
    let token = keys::encrypt(&claims(json!({})), &recipient(merchant_key()), None).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let flip = |part: &str| {
        let mut bytes = URL_SAFE_NO_PAD_decode(part);
        bytes[0] ^= 1;
        b64(&bytes)
    };
    for i in 1..5 {
        let mut tampered: Vec<String> = parts.iter().map(|p| p.to_string()).collect();
        tampered[i] = flip(parts[i]);
        let e = refused(&opener, &tampered.join(".")).await;
        assert_eq!(e, JoseError::Undecryptable, "part {i}");
    }
    // The header is the AAD: a changed header (still valid) fails the tag.
    let header = b64(br#"{"alg":"RSA-OAEP","enc":"A256CBC-HS512","kid":"x"}"#);
    let swapped = format!("{header}.{}", parts[1..].join("."));
    assert_eq!(refused(&opener, &swapped).await, JoseError::Undecryptable);
    // Truncated: a part missing, a short tag.
    assert!(matches!(
        refused(&opener, &parts[..4].join(".")).await,
        JoseError::Malformed(_)
    ));
    let short_tag = format!("{}.{}", parts[..4].join("."), &parts[4][..20]);
    assert!(matches!(
        refused(&opener, &short_tag).await,
        JoseError::Malformed(_)
    ));
}

#[tokio::test]
async fn jwe_headers_other_than_rsa_oaep_a256cbc_hs512_are_refused() {
    let (_server, opener) = served().await;
    let to = recipient(merchant_key());
    let json = claims(json!({}));
    for (header, expected) in [
        (
            json!({"alg": "RSA-OAEP", "enc": "A256CBC-HS512", "zip": "DEF"}),
            JoseError::Compressed,
        ),
        (
            json!({"alg": "RSA1_5", "enc": "A256CBC-HS512"}),
            JoseError::UnsupportedEncryption,
        ),
        (
            json!({"alg": "RSA-OAEP-256", "enc": "A256CBC-HS512"}),
            JoseError::UnsupportedEncryption,
        ),
        (
            json!({"alg": "dir", "enc": "A256CBC-HS512"}),
            JoseError::UnsupportedEncryption,
        ),
        (
            json!({"alg": "RSA-OAEP", "enc": "A128GCM"}),
            JoseError::UnsupportedEncryption,
        ),
        (
            json!({"alg": "RSA-OAEP", "enc": "A256CBC-HS512", "crit": ["exp"]}),
            JoseError::UnsupportedHeader("crit"),
        ),
    ] {
        let token = keys::encrypt_with_header(&json, &to, &header).unwrap();
        assert_eq!(refused(&opener, &token).await, expected, "{header}");
    }
}

#[tokio::test]
async fn a_jwe_without_a_configured_key_is_refused() {
    let (_server, opener) = served_with(Setup {
        key: None,
        ..Setup::default()
    })
    .await;
    let token = keys::encrypt(&claims(json!({})), &recipient(merchant_key()), None).unwrap();
    let e = refused(&opener, &token).await;
    assert_eq!(e, JoseError::NoDecryptionKey);
    assert_eq!(e.kind(), "no_decryption_key");
}

#[tokio::test]
async fn nested_jwe_of_a_jws_is_verified_inside() {
    let (_server, opener) = served().await;
    let to = recipient(merchant_key());
    let inner = jws(JwsAlg::Rs256, json!({}));
    let token = keys::encrypt(inner.as_bytes(), &to, Some("JWT")).unwrap();
    assert_eq!(
        opener.open(token.as_bytes()).await.unwrap().1,
        PayloadFormat::Encrypted { signed: true }
    );
    // A forged JWS inside a perfectly decryptable JWE is still a forgery.
    let forged = forger_keys()
        .sign(JwsAlg::Rs256, &claims(json!({})))
        .unwrap();
    let token = keys::encrypt(forged.as_bytes(), &to, Some("JWT")).unwrap();
    assert_eq!(refused(&opener, &token).await, JoseError::BadSignature);
    // A JWE inside a JWE is not a payload.
    let outer = keys::encrypt(token.as_bytes(), &to, None).unwrap();
    assert!(matches!(
        refused(&opener, &outer).await,
        JoseError::Malformed(_)
    ));
}

#[test]
fn the_decryption_key_reads_pkcs8_pem_and_says_what_is_wrong_otherwise() {
    use aws_lc_rs::encoding::AsDer;
    use base64::Engine;
    let key =
        aws_lc_rs::rsa::PrivateDecryptingKey::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der = key.as_der().unwrap();
    let body = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    );
    let loaded = DecryptionKey::from_pem(&pem).unwrap();
    assert_eq!(format!("{loaded:?}"), "DecryptionKey([redacted])");
    assert!(!loaded.public_key_der().is_empty());

    for (text, expected) in [
        (pem.replace("PRIVATE KEY", "RSA PRIVATE KEY"), "PKCS#1"),
        (
            pem.replace("PRIVATE KEY", "ENCRYPTED PRIVATE KEY"),
            "encrypted",
        ),
        ("just text".to_owned(), "not a PEM file"),
        (pem.replace(&lines[3][..10], "!!!!!!!!!!"), "base64"),
        (pem.replace("-----END PRIVATE KEY-----", ""), "END"),
        (
            format!(
                "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
                base64::engine::general_purpose::STANDARD.encode(b"not a key at all, Sunny")
            ),
            "not a PKCS#8 RSA private key",
        ),
    ] {
        let err = DecryptionKey::from_pem(&text).unwrap_err();
        assert!(err.contains(expected), "{err}");
        assert!(
            !err.contains(&lines[3][..20]) && !err.contains("Sunny"),
            "{err}"
        );
    }

    // An EC key is PKCS#8 too, but not RSA.
    let ec = aws_lc_rs::signature::EcdsaKeyPair::generate(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
    )
    .unwrap();
    let ec_der = ec.to_pkcs8v1().unwrap();
    assert!(DecryptionKey::from_pkcs8_der(ec_der.as_ref()).is_err());
}
