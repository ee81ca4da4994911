//! Access logs: formats, requests, per-window statistics.
