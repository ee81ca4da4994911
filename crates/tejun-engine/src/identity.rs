//! Who runs tejun, as written into every event: `user@host`.

/// The operator: `$USER` (else the account name of the uid) `@` hostname.
pub fn operator() -> String {
    format!("{}@{}", user(), hostname())
}

pub fn user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.name)
        })
        .unwrap_or_else(|| format!("uid{}", nix::unistd::getuid()))
}

pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown-host".to_string())
}
