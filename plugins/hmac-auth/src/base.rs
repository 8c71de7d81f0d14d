//! The signature base (RFC 9421, section 2.5): one line per covered
//! component, `"<identifier>": <value>`, then the `@signature-params` line.

use portico_sdk::Request;

use crate::fields::{Component, Input};

/// The signature base of `input` over `req`. `Err` names a component that
/// cannot be covered (unknown, repeated, absent from the request, or with
/// parameters this verifier does not implement).
pub fn signature_base(req: &Request<'_>, input: &Input) -> Result<String, String> {
    let mut base = String::new();
    for (i, component) in input.components.iter().enumerate() {
        if input.components[..i]
            .iter()
            .any(|c| c.name == component.name && c.params == component.params)
        {
            return Err(format!("`{}` is covered twice", component.raw));
        }
        let value = value(req, component)?;
        base.push_str(&component.raw);
        base.push_str(": ");
        base.push_str(&value);
        base.push('\n');
    }
    base.push_str("\"@signature-params\": ");
    base.push_str(&input.raw);
    Ok(base)
}

/// One component's value (section 2.1 for fields, 2.2 for derived ones).
fn value(req: &Request<'_>, component: &Component) -> Result<String, String> {
    if !component.params.is_empty() {
        return Err(format!(
            "`{}`: component parameters (`sf`, `key`, `bs`, `req`, `tr`, `name`) are not supported",
            component.raw
        ));
    }
    let query = || req.query().map(|q| format!("?{q}"));
    let authority = || {
        let authority = req
            .authority()
            .ok_or("the request has no authority")?
            .to_ascii_lowercase();
        let default_port = if req.scheme() == "https" {
            ":443"
        } else {
            ":80"
        };
        Ok::<_, String>(
            authority
                .strip_suffix(default_port)
                .map(str::to_owned)
                .unwrap_or(authority),
        )
    };
    Ok(match component.name.as_str() {
        "@method" => req.method().as_str().to_owned(),
        "@scheme" => req.scheme().to_ascii_lowercase(),
        "@authority" => authority()?,
        "@path" => req.path(),
        "@query" => query().unwrap_or_else(|| "?".to_owned()),
        "@request-target" => format!("{}{}", req.path(), query().unwrap_or_default()),
        "@target-uri" => format!(
            "{}://{}{}{}",
            req.scheme().to_ascii_lowercase(),
            authority()?,
            req.path(),
            query().unwrap_or_default()
        ),
        name if name.starts_with('@') => {
            return Err(format!(
                "`{name}` is not a request component this verifier derives"
            ));
        }
        name if name.bytes().any(|b| b.is_ascii_uppercase()) || name.is_empty() => {
            return Err(format!("`{name}`: field names are covered in lowercase"));
        }
        name => {
            let values = req.header_all(name);
            if values.is_empty() {
                return Err(format!("`{name}` is covered but absent"));
            }
            values
                .iter()
                .map(|v| v.trim_matches([' ', '\t']))
                .collect::<Vec<_>>()
                .join(", ")
        }
    })
}
