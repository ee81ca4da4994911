//! Who runs tejun, as written into every event: `user@host`.
//!
//! The two-person rule (approvals) compares these names, so the person is
//! taken from what they cannot simply retype, in this order:
//!
//! 1. `SUDO_USER`, only when running as root: sudo set it, and it names the
//!    person behind a shared root shell on a bastion;
//! 2. the kernel's login uid (`/proc/self/loginuid`, set at login by
//!    pam_loginuid, kept across `su`);
//! 3. `$USER`, on hosts without a login uid (containers);
//! 4. the account name of the real uid.
//!
//! Root can always pretend to be anyone (it can set the environment and
//! the login uid): on a bastion, approvals are as trustworthy as its root
//! accounts. That is the trust model until a team server signs approvals.

/// The operator: the person (see above) `@` hostname.
pub fn operator() -> String {
    format!("{}@{}", user(), hostname())
}

pub fn user() -> String {
    let root = nix::unistd::geteuid().is_root();
    let sudo_user = std::env::var("SUDO_USER")
        .ok()
        .filter(|u| root && !u.is_empty());
    sudo_user
        .or_else(login_user)
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .or_else(|| name_of(nix::unistd::getuid()))
        .unwrap_or_else(|| format!("uid{}", nix::unistd::getuid()))
}

/// The account that logged in, when the kernel keeps a login uid.
fn login_user() -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/loginuid").ok()?;
    let uid: u32 = text.trim().parse().ok()?;
    // (uid_t)-1: no login session (daemons, containers).
    if uid == u32::MAX {
        return None;
    }
    name_of(nix::unistd::Uid::from_raw(uid)).or_else(|| Some(format!("uid{uid}")))
}

fn name_of(uid: nix::unistd::Uid) -> Option<String> {
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
}

pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown-host".to_string())
}
