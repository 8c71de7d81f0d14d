//! Status mapping for responses: `status_map = { "404" = 410 }`.

use std::collections::BTreeMap;

use portico_sdk::http::StatusCode;
use serde::Deserialize;

/// Response status codes replaced, keyed by the status as received.
#[derive(Debug, Default, Deserialize)]
#[serde(try_from = "BTreeMap<String, u16>")]
pub struct StatusMap(BTreeMap<u16, StatusCode>);

impl TryFrom<BTreeMap<String, u16>> for StatusMap {
    type Error = String;

    fn try_from(raw: BTreeMap<String, u16>) -> Result<Self, String> {
        let mut map = BTreeMap::new();
        for (from, to) in raw {
            let from_code = from
                .parse::<u16>()
                .ok()
                .and_then(|code| StatusCode::from_u16(code).ok())
                .ok_or_else(|| format!("{from:?} is not a status code (100 to 999)"))?;
            let to_code = StatusCode::from_u16(to)
                .map_err(|_| format!("{from:?} maps to {to}, not a status code (100 to 999)"))?;
            map.insert(from_code.as_u16(), to_code);
        }
        Ok(StatusMap(map))
    }
}

impl StatusMap {
    /// Whether no status is mapped.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The replacement for `status`, if any.
    pub fn get(&self, status: StatusCode) -> Option<StatusCode> {
        self.0.get(&status.as_u16()).copied()
    }
}
