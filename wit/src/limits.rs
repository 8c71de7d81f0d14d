//! The bounds the gateway puts on what a plugin stores or sends through a
//! capability. The WIT comments state them; the gateway and the mock host
//! apply these constants.

/// Longest `kv` key accepted, bytes; a longer one is `too-large`.
pub const KV_MAX_KEY: usize = 1024;

/// Largest `kv` value accepted, bytes; a larger one is `too-large`.
pub const KV_MAX_VALUE: usize = 1024 * 1024;

/// Most bytes of one `context` entry (key and value together). The context
/// is shared by a chain's plugins for one request; a `set` past this traps
/// the plugin, failing its request.
pub const CONTEXT_MAX_ENTRY: usize = 64 * 1024;

/// Longest `log` message kept, bytes; the rest is cut (at a character
/// boundary).
pub const LOG_MAX_MESSAGE: usize = 4096;

/// Whether a `kv.set` of `key` and `value` is within the bounds.
pub fn kv_fits(key: &str, value: &[u8]) -> bool {
    key.len() <= KV_MAX_KEY && value.len() <= KV_MAX_VALUE
}

/// Refuses a `context.set` past [`CONTEXT_MAX_ENTRY`], with the message the
/// plugin's failure carries.
pub fn check_context(key: &str, value: &str) -> Result<(), String> {
    if key.len() + value.len() > CONTEXT_MAX_ENTRY {
        return Err(format!(
            "context value for `{key}` exceeds {CONTEXT_MAX_ENTRY} bytes"
        ));
    }
    Ok(())
}

/// Cuts `message` to [`LOG_MAX_MESSAGE`] bytes at a character boundary.
pub fn truncate_log(message: &mut String) {
    if message.len() > LOG_MAX_MESSAGE {
        let mut cut = LOG_MAX_MESSAGE;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_inclusive() {
        assert!(kv_fits(&"k".repeat(KV_MAX_KEY), &vec![0; KV_MAX_VALUE]));
        assert!(!kv_fits(&"k".repeat(KV_MAX_KEY + 1), b""));
        assert!(!kv_fits("k", &vec![0; KV_MAX_VALUE + 1]));
        assert!(check_context("k", &"v".repeat(CONTEXT_MAX_ENTRY - 1)).is_ok());
        let refused = check_context("k", &"v".repeat(CONTEXT_MAX_ENTRY)).unwrap_err();
        assert!(refused.contains("`k`"), "{refused}");
    }

    #[test]
    fn a_long_log_line_is_cut_on_a_character_boundary() {
        let mut message = format!("{}é", "a".repeat(LOG_MAX_MESSAGE - 1));
        truncate_log(&mut message);
        assert_eq!(message.len(), LOG_MAX_MESSAGE - 1);
        let mut short = "short".to_owned();
        truncate_log(&mut short);
        assert_eq!(short, "short");
    }
}
