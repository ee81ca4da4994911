//! Paths normalised to endpoint templates: `/users/42/orders/9f86d081…`
//! becomes `/users/:id/orders/:id`, so one endpoint is counted once.

/// Which path segments are ids.
#[derive(Debug, Clone)]
pub struct Templates {
    /// Off: paths are counted as written.
    pub enabled: bool,
    /// Hex runs at least this long (with a digit) are ids: 9f86d081.
    pub hex_min: usize,
    /// More segments to read as ids, matched whole (`--id-pattern`).
    pub patterns: Vec<regex::Regex>,
}

impl Default for Templates {
    fn default() -> Templates {
        Templates {
            enabled: true,
            hex_min: 8,
            patterns: Vec::new(),
        }
    }
}

/// What replaces an id segment.
pub const ID: &str = ":id";

impl Templates {
    /// Appends the template of `path` to `out`.
    pub fn push(&self, path: &str, out: &mut String) {
        if !self.enabled {
            out.push_str(path);
            return;
        }
        for (i, segment) in path.split('/').enumerate() {
            if i > 0 {
                out.push('/');
            }
            if self.is_id(segment) {
                out.push_str(ID);
            } else if segment.contains('.') {
                // Fingerprinted assets: app.9f86d081884c7d65.js.
                for (j, part) in segment.split('.').enumerate() {
                    if j > 0 {
                        out.push('.');
                    }
                    out.push_str(if j > 0 && self.is_hex_id(part.as_bytes()) {
                        ID
                    } else {
                        part
                    });
                }
            } else {
                out.push_str(segment);
            }
        }
    }

    fn is_id(&self, segment: &str) -> bool {
        let b = segment.as_bytes();
        if b.is_empty() {
            return false;
        }
        if b.iter().all(u8::is_ascii_digit) || is_uuid(b) {
            return true;
        }
        if self.is_hex_id(b) {
            return true;
        }
        self.patterns.iter().any(|p| {
            p.find(segment)
                .is_some_and(|m| m.start() == 0 && m.end() == segment.len())
        })
    }
}

impl Templates {
    fn is_hex_id(&self, b: &[u8]) -> bool {
        b.len() >= self.hex_min
            && b.iter().all(u8::is_ascii_hexdigit)
            && b.iter().any(u8::is_ascii_digit)
    }
}

/// `8-4-4-4-12` hex digits.
fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(t: &Templates, path: &str) -> String {
        let mut out = String::new();
        t.push(path, &mut out);
        out
    }

    #[test]
    fn numbers_uuids_and_hex_ids_become_id() {
        let t = Templates::default();
        assert_eq!(template(&t, "/users/42/orders"), "/users/:id/orders");
        assert_eq!(
            template(
                &t,
                "/o/3f2a1c9e-58b4-4c1e-9d7a-0b6e5f4d3c2b/items/9f86d081884c7d65"
            ),
            "/o/:id/items/:id"
        );
        // Words made of hex letters are not ids; short hex is not either.
        assert_eq!(template(&t, "/cafe/beef/add/ab12"), "/cafe/beef/add/ab12");
        assert_eq!(template(&t, "/"), "/");
        assert_eq!(
            template(&t, "/static/app.9f86d081884c7d65.js"),
            "/static/app.:id.js"
        );
        assert_eq!(template(&t, "/v1.2/x"), "/v1.2/x");
    }

    #[test]
    fn extra_patterns_and_switching_off() {
        let t = Templates {
            patterns: vec![regex::Regex::new("[a-z]+-[0-9]+").unwrap()],
            ..Templates::default()
        };
        assert_eq!(template(&t, "/tickets/abc-123/x-1y"), "/tickets/:id/x-1y");
        let off = Templates {
            enabled: false,
            ..Templates::default()
        };
        assert_eq!(template(&off, "/users/42"), "/users/42");
    }
}
