//! The users: names, password hashes (argon2id PHC strings or bcrypt) and
//! groups, from the config's `users` and an htpasswd-style `htpasswd` text.

use std::collections::BTreeMap;

use argon2::password_hash::{PasswordHash, PasswordVerifier};

/// A password hash, parsed when the route loads.
#[derive(Debug, Clone)]
pub enum Hash {
    /// `$argon2id$v=19$m=...,t=...,p=...$salt$hash`.
    Argon2(String),
    /// `$2a$`, `$2b$` or `$2y$` bcrypt.
    Bcrypt(String),
}

impl Hash {
    /// Parses a hash, refusing anything else (a plain password above all).
    pub fn parse(text: &str) -> Result<Hash, String> {
        let text = text.trim();
        if text.starts_with("$argon2id$") {
            PasswordHash::new(text).map_err(|e| format!("not an argon2id PHC string: {e}"))?;
            return Ok(Hash::Argon2(text.to_owned()));
        }
        if ["$2a$", "$2b$", "$2y$"].iter().any(|p| text.starts_with(p)) {
            if text.len() != 60 {
                return Err("a bcrypt hash is 60 characters".to_owned());
            }
            return Ok(Hash::Bcrypt(text.to_owned()));
        }
        Err("not an argon2id (`$argon2id$...`) or bcrypt (`$2b$...`) hash; store hashes, never passwords".to_owned())
    }

    /// Whether `password` matches (the libraries compare in constant time).
    pub fn verify(&self, password: &[u8]) -> bool {
        match self {
            Hash::Argon2(text) => PasswordHash::new(text).is_ok_and(|hash| {
                argon2::Argon2::default()
                    .verify_password(password, &hash)
                    .is_ok()
            }),
            Hash::Bcrypt(text) => bcrypt::verify(password, text).unwrap_or(false),
        }
    }
}

/// One user.
#[derive(Debug, Clone)]
pub struct User {
    /// The password hash.
    pub hash: Hash,
    /// Groups, for the context's `consumer.groups`.
    pub groups: Vec<String>,
}

/// Users by name.
pub type Users = BTreeMap<String, User>;

/// Reads htpasswd lines (`name:hash`, `#` comments, blank lines) into
/// `users`; a name already there, or a line that does not parse, is an
/// error naming its line.
pub fn read_htpasswd(text: &str, users: &mut Users) -> Result<(), String> {
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, hash)) = line.split_once(':') else {
            return Err(format!("line {}: not `name:hash`", i + 1));
        };
        check_name(name).map_err(|e| format!("line {}: {e}", i + 1))?;
        let hash = Hash::parse(hash).map_err(|e| format!("line {}: {e}", i + 1))?;
        if users.contains_key(name) {
            return Err(format!("line {}: user `{name}` is defined twice", i + 1));
        }
        users.insert(
            name.to_owned(),
            User {
                hash,
                groups: Vec::new(),
            },
        );
    }
    Ok(())
}

/// A user name: non-empty, no `:` (the Basic separator), printable.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.contains(':')
        || name.contains(',')
        || name.chars().any(char::is_control)
    {
        return Err(format!(
            "`{name}` is not a user name (non-empty, no `:` or `,`)"
        ));
    }
    Ok(())
}
