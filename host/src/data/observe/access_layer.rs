//! A `tracing` layer that writes each `portico::access` event as one JSON
//! object per line. Strings are JSON-escaped (control characters become
//! `\u00XX`); the fields listed in [`JSON_FIELDS`] carry JSON the gateway
//! rendered itself and are embedded as values.

use std::fmt::Write as _;
use std::io::Write as _;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::Context;

/// The target of access log events.
pub(crate) const TARGET: &str = "portico::access";

/// Fields whose (string) value is already JSON.
pub(crate) const JSON_FIELDS: [&str; 3] = ["plugins", "request_headers", "response_headers"];

/// Writes `portico::access` events to `W` as JSON lines; other events are
/// ignored.
pub(crate) struct AccessLayer<W> {
    writer: W,
}

impl<W> AccessLayer<W> {
    /// A layer writing to `writer` (one `write_all` per line).
    pub fn new(writer: W) -> Self {
        AccessLayer { writer }
    }
}

impl<S, W> Layer<S> for AccessLayer<W>
where
    S: Subscriber,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != TARGET {
            return;
        }
        let mut line = JsonLine::default();
        event.record(&mut line);
        line.text.push_str("}\n");
        let _ = self.writer.make_writer().write_all(line.text.as_bytes());
    }
}

/// One JSON object being written, field by field.
#[derive(Default)]
struct JsonLine {
    text: String,
}

impl JsonLine {
    fn key(&mut self, field: &Field) {
        self.text.push(if self.text.is_empty() { '{' } else { ',' });
        push_string(&mut self.text, field.name());
        self.text.push(':');
    }
}

impl Visit for JsonLine {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        if JSON_FIELDS.contains(&field.name()) {
            self.text.push_str(value);
        } else {
            push_string(&mut self.text, value);
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        let _ = write!(self.text, "{value}");
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        let _ = write!(self.text, "{value}");
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        let _ = write!(self.text, "{value}");
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.key(field);
        match serde_json::Number::from_f64(value) {
            Some(number) => {
                let _ = write!(self.text, "{number}");
            }
            None => self.text.push_str("null"),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.key(field);
        push_string(&mut self.text, &format!("{value:?}"));
    }
}

/// `value` as a JSON string: quotes, backslashes and every control
/// character escaped.
fn push_string(text: &mut String, value: &str) {
    match serde_json::to_string(value) {
        Ok(json) => text.push_str(&json),
        Err(_) => text.push_str("null"),
    }
}
