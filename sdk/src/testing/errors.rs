//! Mirrors of the WIT error types the mock's stores return, below both the
//! stores and the import mirrors (`imports.rs`) that hand them to the SDK.

/// Mirror of the WIT `kv-error`.
pub(crate) enum KvError {
    NotANumber,
    TooLarge,
    Unavailable,
}

/// Mirror of the WIT `metrics-error`.
pub(crate) enum MetricsError {
    InvalidName(String),
    InvalidLabel(String),
    TooManySeries,
}

/// Mirror of the WIT `http-error`.
pub(crate) enum HttpError {
    Denied(String),
    InvalidRequest(String),
    Timeout,
    Connect(String),
    Tls(String),
    TooLarge,
    Other(String),
}
