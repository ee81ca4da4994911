//! Slow-query logs and query fingerprints.
