//! [`Action`] and [`Reply`]: what the gateway does after a phase.

use http::StatusCode;
use serde::Serialize;

use crate::Error;

/// What the gateway does after [`on_request`](crate::Plugin::on_request) or
/// [`on_response`](crate::Plugin::on_response).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Go on: the next plugin, then the upstream (in `on_request`) or the
    /// client (in `on_response`), with the changes this plugin made.
    Continue,
    /// Stop here and send this reply. In `on_request` the upstream is not
    /// called and later plugins do not run; the reply passes back through
    /// `on_response` of this plugin and those before it. In `on_response` the
    /// reply replaces the response.
    Respond(Reply),
}

impl Action {
    /// Answers with `status` and `body` (no headers).
    pub fn respond(status: StatusCode, body: impl Into<Vec<u8>>) -> Self {
        Action::Respond(Reply::new(status).body(body))
    }

    /// Whether this is [`Action::Continue`].
    pub fn is_continue(&self) -> bool {
        matches!(self, Action::Continue)
    }

    /// The reply, if this is [`Action::Respond`].
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            Action::Continue => None,
            Action::Respond(reply) => Some(reply),
        }
    }
}

impl From<Reply> for Action {
    fn from(reply: Reply) -> Self {
        Action::Respond(reply)
    }
}

/// A complete reply a plugin sends instead of forwarding the request (or
/// instead of the upstream's response).
///
/// ```
/// # use portico_sdk::{Action, Reply, http::StatusCode};
/// let reply = Reply::new(StatusCode::TOO_MANY_REQUESTS)
///     .header("retry-after", "30")
///     .json(&serde_json::json!({ "error": "slow down" }))?;
/// assert_eq!(reply.header_value("content-type"), Some("application/json"));
/// let action = Action::Respond(reply);
/// # Ok::<(), portico_sdk::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    /// A reply with `status`, no headers and an empty body.
    pub fn new(status: StatusCode) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header; repeated names are appended. The gateway checks names
    /// and values when it sends the reply: an invalid one fails the request
    /// like an [`Error`].
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets the body to `value` as JSON and `content-type` to
    /// `application/json`.
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Result<Self, Error> {
        self.body = serde_json::to_vec(value)?;
        self.headers
            .retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
        Ok(self.header("content-type", "application/json"))
    }

    /// An `application/problem+json` reply (RFC 9457) shaped like the
    /// gateway's own errors: `type` `urn:portico:problem:<kind>`, `title`,
    /// `status`, `detail`, `source` `"plugin"`, `plugin` (pass
    /// `env!("CARGO_PKG_NAME")`) and `retryable` (true for 429 and 503),
    /// with `Cache-Control: no-store`. Add a challenge or `Retry-After`
    /// with [`Reply::header`].
    ///
    /// ```
    /// use portico_sdk::{Reply, http::StatusCode};
    /// let reply = Reply::problem(StatusCode::FORBIDDEN, "forbidden", "Forbidden", "Not for you.", "acl");
    /// assert_eq!(reply.header_value("content-type"), Some("application/problem+json"));
    /// let body: serde_json::Value = serde_json::from_slice(reply.body_bytes()).unwrap();
    /// assert_eq!(body["type"], "urn:portico:problem:forbidden");
    /// assert_eq!(body["status"], 403);
    /// ```
    pub fn problem(
        status: StatusCode,
        kind: &str,
        title: &str,
        detail: &str,
        plugin: &str,
    ) -> Self {
        let retryable = matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        );
        let body = serde_json::json!({
            "type": format!("urn:portico:problem:{kind}"),
            "title": title,
            "status": status.as_u16(),
            "detail": detail,
            "source": "plugin",
            "retryable": retryable,
            "plugin": plugin,
        });
        Reply::new(status)
            .header("content-type", "application/problem+json")
            .header("cache-control", "no-store")
            .body(body.to_string())
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers, in the order they were added.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The first value of the named header (case-insensitive).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body.
    pub fn body_bytes(&self) -> &[u8] {
        &self.body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_replaces_content_type() -> Result<(), Error> {
        let reply = Reply::new(StatusCode::OK)
            .header("Content-Type", "text/plain")
            .header("x-a", "1")
            .json(&[1, 2])?;
        let headers = [
            ("x-a".to_owned(), "1".to_owned()),
            ("content-type".to_owned(), "application/json".to_owned()),
        ];
        assert_eq!(reply.headers(), headers);
        assert_eq!(reply.header_value("Content-Type"), Some("application/json"));
        assert_eq!(reply.body_bytes(), b"[1,2]");
        Ok(())
    }

    #[test]
    fn respond_helper_and_accessors() {
        let action = Action::respond(StatusCode::FORBIDDEN, "no");
        assert!(!action.is_continue());
        let reply = action.reply().cloned();
        assert_eq!(
            reply.as_ref().map(Reply::status),
            Some(StatusCode::FORBIDDEN)
        );
        assert_eq!(reply.as_ref().map(Reply::body_bytes), Some(&b"no"[..]));
        assert!(Action::Continue.is_continue());
        assert_eq!(Action::Continue.reply(), None);
    }
}
