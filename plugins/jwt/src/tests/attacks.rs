//! The known attacks on JWT verifiers, each refused with `invalid_token`.

use serde_json::json;

use super::mint::{attacker, b64, issuer, mint_with};
use super::*;

#[test]
fn alg_none_is_refused_in_every_spelling() -> TestResult {
    let (_host, mut plugin) = load_all();
    for alg in ["none", "None", "NONE", "nOnE", ""] {
        let token = mint_with(&json!({ "alg": alg }), &good_claims(), |_| Vec::new());
        assert!(!passes(&mut plugin, &mut bearer(&token))?, "{alg:?}");
        // ... also with a kid of a real key and a junk signature.
        let token = mint_with(
            &json!({ "alg": alg, "kid": "HS256" }),
            &good_claims(),
            |_| b"x".to_vec(),
        );
        assert!(!passes(&mut plugin, &mut bearer(&token))?, "{alg:?}");
    }
    Ok(())
}

#[test]
fn hmac_signed_with_a_public_key_is_refused() -> TestResult {
    // Algorithm confusion: the attacker knows the RSA/EC/Ed public keys and
    // uses their PEM (or DER-ish bytes) as an HMAC secret.
    let (_host, mut plugin) = load_all();
    for public in ["RS256", "PS256", "ES256", "ES384", "EdDSA"] {
        let pem = issuer().pem(public);
        for hs in ["HS256", "HS384", "HS512"] {
            for header in [json!({ "alg": hs, "kid": public }), json!({ "alg": hs })] {
                let token = mint_with(&header, &good_claims(), |input| {
                    mint::hmac(hs, pem.as_bytes(), input)
                });
                assert!(
                    !passes(&mut plugin, &mut bearer(&token))?,
                    "{hs} with {public}'s PEM"
                );
            }
        }
    }
    Ok(())
}

#[test]
fn unknown_crit_is_refused() -> TestResult {
    let (_host, mut plugin) = load_all();
    for crit in [
        json!(["exp"]),
        json!(["http://example.com/x"]),
        json!([]),
        json!(null),
    ] {
        let token = issuer().mint(
            &json!({ "alg": "ES256", "kid": "ES256", "crit": crit, "http://example.com/x": 1 }),
            &good_claims(),
        );
        assert!(!passes(&mut plugin, &mut bearer(&token))?, "{crit}");
    }
    Ok(())
}

#[test]
fn an_ecdsa_signature_of_zeros_is_refused() -> TestResult {
    let (_host, mut plugin) = load_all();
    let mut half_zero = vec![0u8; 32];
    half_zero.extend([1u8; 32]);
    let mut other_half = vec![1u8; 32];
    other_half.extend([0u8; 32]);
    for (alg, sig) in [
        ("ES256", vec![0u8; 64]),
        ("ES256", half_zero),
        ("ES256", other_half),
        ("ES384", vec![0u8; 96]),
    ] {
        let token = mint_with(&header(alg), &good_claims(), |_| sig.clone());
        assert!(!passes(&mut plugin, &mut bearer(&token))?, "{alg} zeros");
        // The verifying key itself refuses it (RustCrypto rejects zero r/s).
        assert!(!crate::alg::verify(
            crate::alg::Alg::ES256,
            &crate::alg::Material::P256(*issuer().p256.verifying_key()),
            b"anything",
            &sig,
        ));
    }
    Ok(())
}

#[test]
fn kid_is_only_a_lookup_key() -> TestResult {
    let (_host, mut plugin) = load_all();
    for kid in [
        "../../../../dev/null",
        "/etc/passwd",
        "https://attacker.example/key.pem",
        "' OR '1'='1",
        "hs256",
        "",
    ] {
        let token = issuer().mint(&json!({ "alg": "HS256", "kid": kid }), &good_claims());
        assert!(!passes(&mut plugin, &mut bearer(&token))?, "kid {kid:?}");
    }
    let token = issuer().mint(&json!({ "alg": "HS256", "kid": 7 }), &good_claims());
    assert!(
        !passes(&mut plugin, &mut bearer(&token))?,
        "kid must be a string"
    );
    Ok(())
}

#[test]
fn jku_x5u_x5c_and_jwk_headers_are_never_trusted() -> TestResult {
    let (_host, mut plugin) = load_all();
    let evil = attacker();
    for alg in ["RS256", "ES256", "EdDSA"] {
        for extra in [
            json!({ "jku": "https://attacker.example/jwks.json" }),
            json!({ "x5u": "https://attacker.example/cert.pem" }),
            json!({ "x5c": ["MIIBattacker"] }),
            json!({ "jwk": evil.jwk(alg) }),
        ] {
            for kid in [json!(alg), json!(null)] {
                let mut header = extra.clone();
                header["alg"] = json!(alg);
                if !kid.is_null() {
                    header["kid"] = kid;
                }
                let token = evil.mint(&header, &good_claims());
                assert!(!passes(&mut plugin, &mut bearer(&token))?, "{header}");
            }
        }
        // The same headers on a token the issuer signed change nothing.
        let mut header = header(alg);
        header["jku"] = json!("https://attacker.example/jwks.json");
        assert!(passes(
            &mut plugin,
            &mut bearer(&issuer().mint(&header, &good_claims()))
        )?);
    }
    Ok(())
}

#[test]
fn malformed_tokens_are_refused() -> TestResult {
    let (_host, mut plugin) = load_all();
    let good = issuer().mint(&header("HS256"), &good_claims());
    let parts: Vec<&str> = good.split('.').collect();
    let dup_header = r#"{"alg":"HS256","alg":"none","kid":"HS256"}"#;
    let dup_claims =
        r#"{"iss":"https://id.example","aud":"api","exp":9999999999,"sub":"a","sub":"b"}"#;
    let cases = [
        "abc".to_owned(),
        format!("{}.{}", parts[0], parts[1]),
        format!("{good}.extra.parts"),
        format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
        format!("{}.{}.{}", b64(b"[1]"), parts[1], parts[2]),
        mint_with(
            &json!({ "alg": "HS256", "kid": "HS256" }),
            &json!([1, 2]),
            |i| issuer().sign("HS256", i),
        ),
        {
            let input = format!("{}.{}", b64(dup_header.as_bytes()), parts[1]);
            format!("{input}.{}", b64(&issuer().sign("HS256", input.as_bytes())))
        },
        {
            let input = format!("{}.{}", parts[0], b64(dup_claims.as_bytes()));
            format!("{input}.{}", b64(&issuer().sign("HS256", input.as_bytes())))
        },
        "x".repeat(crate::token::MAX_TOKEN_BYTES + 1),
    ];
    for token in cases {
        assert!(!passes(&mut plugin, &mut bearer(&token))?, "{token:.80}");
    }
    Ok(())
}
