//! Every algorithm verifies with its own key, from PEM, a secret or a JWK,
//! and with nothing else.

use serde_json::json;

use super::mint::{ALGS, attacker, issuer};
use super::*;

#[test]
fn every_algorithm_verifies_with_its_pem_or_secret_key() -> TestResult {
    let (_host, mut plugin) = load_all();
    for alg in ALGS {
        let token = issuer().mint(&header(alg), &good_claims());
        assert!(passes(&mut plugin, &mut bearer(&token))?, "{alg}");
    }
    Ok(())
}

#[test]
fn every_algorithm_verifies_with_its_jwk() -> TestResult {
    let keys: Vec<_> = ALGS
        .iter()
        .map(|alg| json!({ "jwk": issuer().jwk(alg) }))
        .collect();
    let (_host, mut plugin) = load(json!({ "keys": keys }));
    for alg in ALGS {
        let token = issuer().mint(&header(alg), &good_claims());
        assert!(passes(&mut plugin, &mut bearer(&token))?, "{alg}");
    }
    Ok(())
}

#[test]
fn every_algorithm_verifies_from_a_jwks() -> TestResult {
    let jwks = json!({ "keys": ALGS.map(|alg| issuer().jwk(alg)) }).to_string();
    let (_host, mut plugin) = load(json!({ "jwks": jwks }));
    for alg in ALGS {
        // Without `kid`, every key bound to the alg is tried.
        let token = issuer().mint(&json!({ "alg": alg }), &good_claims());
        assert!(passes(&mut plugin, &mut bearer(&token))?, "{alg}");
    }
    Ok(())
}

#[test]
fn another_key_of_the_same_kind_does_not_verify() -> TestResult {
    let (_host, mut plugin) = load_all();
    for alg in ALGS {
        let forged = attacker().mint(&header(alg), &good_claims());
        assert!(!passes(&mut plugin, &mut bearer(&forged))?, "{alg}");
    }
    Ok(())
}

#[test]
fn a_changed_payload_breaks_the_signature() -> TestResult {
    let (_host, mut plugin) = load_all();
    for alg in ALGS {
        let token = issuer().mint(&header(alg), &good_claims());
        let mut claims = good_claims();
        claims["sub"] = json!("mallory");
        let other = issuer().mint(&header(alg), &claims);
        let parts: Vec<&str> = token.split('.').collect();
        let others: Vec<&str> = other.split('.').collect();
        let spliced = format!("{}.{}.{}", parts[0], others[1], parts[2]);
        assert!(!passes(&mut plugin, &mut bearer(&spliced))?, "{alg}");
    }
    Ok(())
}

#[test]
fn a_token_is_checked_only_against_keys_of_its_alg() -> TestResult {
    // One RSA key bound to RS256: a PS256 signature by that very key fails.
    let (_host, mut plugin) = load(json!({ "keys": [issuer().key_entry("RS256")] }));
    let ps = issuer().mint(&json!({ "alg": "PS256", "kid": "RS256" }), &good_claims());
    assert!(!passes(&mut plugin, &mut bearer(&ps))?);
    let rs = issuer().mint(&header("RS256"), &good_claims());
    assert!(passes(&mut plugin, &mut bearer(&rs))?);
    Ok(())
}
