//! A config document under one etcd key: read with its revision, written
//! only over the revision the writer started from.
//!
//! The revision of a document is its key's `mod_revision`: it changes on
//! every write and never goes back, so "the instance applied revision N"
//! and "the latest is N" compare directly.

use etcd_client::{Compare, CompareOp, GetOptions, Txn, TxnOp, TxnOpResponse};

use super::{Etcd, EtcdError};

/// A document read from etcd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The text (a TOML config).
    pub text: String,
    /// The key's `mod_revision`.
    pub revision: i64,
}

/// A write refused.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// etcd could not be reached or failed the call.
    #[error(transparent)]
    Etcd(#[from] EtcdError),
    /// Someone wrote the key after the revision the write was based on.
    #[error(
        "conflict: `{key}` is at revision {}, not {expected} as expected; someone else changed it — read it again, reapply your change and push with that revision",
        current.map_or_else(|| "none (deleted)".to_owned(), |r| r.to_string())
    )]
    Conflict {
        /// The key.
        key: String,
        /// The revision the writer expected (0: that the key is absent).
        expected: i64,
        /// The key's revision now (`None`: it does not exist).
        current: Option<i64>,
    },
    /// The value is not UTF-8 text.
    #[error("`{key}` (revision {revision}) is not UTF-8 text")]
    NotText {
        /// The key.
        key: String,
        /// Its revision.
        revision: i64,
    },
}

/// The document at `key`, `None` when the key does not exist.
pub async fn get(etcd: &Etcd, key: &str) -> Result<Option<Document>, PushError> {
    let mut client = etcd.client();
    let response = etcd
        .call(format!("get {key}"), client.get(key, None))
        .await?;
    response.kvs().first().map(|kv| decode(key, kv)).transpose()
}

/// Writes `text` at `key` if the key is still at `expected` (its
/// `mod_revision`; 0: the key must not exist yet), in one transaction.
/// Returns the document's new revision.
pub async fn put(etcd: &Etcd, key: &str, text: &str, expected: i64) -> Result<i64, PushError> {
    let txn = Txn::new()
        .when([Compare::mod_revision(key, CompareOp::Equal, expected)])
        .and_then([TxnOp::put(key, text, None)])
        .or_else([TxnOp::get(key, None::<GetOptions>)]);
    let mut client = etcd.client();
    let response = etcd.call(format!("put {key}"), client.txn(txn)).await?;
    if response.succeeded() {
        return Ok(response.header().map_or(0, |h| h.revision()));
    }
    let current = response.op_responses().into_iter().find_map(|op| match op {
        TxnOpResponse::Get(get) => Some(get.kvs().first().map(|kv| kv.mod_revision())),
        _ => None,
    });
    Err(PushError::Conflict {
        key: key.to_owned(),
        expected,
        current: current.flatten(),
    })
}

/// A key's value as a document.
pub(crate) fn decode(key: &str, kv: &etcd_client::KeyValue) -> Result<Document, PushError> {
    match std::str::from_utf8(kv.value()) {
        Ok(text) => Ok(Document {
            text: text.to_owned(),
            revision: kv.mod_revision(),
        }),
        Err(_) => Err(PushError::NotText {
            key: key.to_owned(),
            revision: kv.mod_revision(),
        }),
    }
}
