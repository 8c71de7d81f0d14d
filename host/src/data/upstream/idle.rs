//! A backend's idle keep-alive connections, one shard per worker thread
//! (see [`crate::worker`]), so a worker reuses the connections its own
//! runtime drives and takes an uncontended lock. The pool (`pool.rs`)
//! checks connections out and back in.

use std::time::Instant;

use hyper::client::conn::http1::SendRequest;
use parking_lot::Mutex;

use crate::body::Body;
use crate::worker;

/// An idle keep-alive connection.
#[derive(Debug)]
pub struct IdleConnection {
    pub(super) sender: SendRequest<Body>,
    pub(super) since: Instant,
}

/// A backend's idle connections, one shard per worker thread.
#[derive(Debug)]
pub struct IdleConnections {
    shards: Box<[Mutex<Vec<IdleConnection>>]>,
}

impl Default for IdleConnections {
    fn default() -> Self {
        IdleConnections {
            shards: (0..worker::shards()).map(|_| Mutex::default()).collect(),
        }
    }
}

impl IdleConnections {
    pub(super) fn shard(&self) -> &Mutex<Vec<IdleConnection>> {
        &self.shards[worker::current() % self.shards.len()]
    }
}
