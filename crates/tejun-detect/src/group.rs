//! The capture groups tejun interprets.
//!
//! Filters name their groups (`<HOST>` expands to `(?P<host>…)`, `<F-USER>`
//! to `(?P<user>…)`). The names are resolved to a [`Group`] once, when a
//! pattern compiles, so the per-line path compares one byte where it used
//! to compare strings (`memcmp` was 7% of a scan's cycles).

use std::fmt;

/// A group name tejun gives meaning to; other names are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    Host,
    Ip4,
    Ip6,
    Dns,
    Fid,
    User,
    AltUser,
    Mlfid,
    Content,
    Nofail,
    Mlfforget,
    Mlfgained,
    Cidr,
    Fport,
}

impl Group {
    const ALL: [Group; 14] = [
        Group::Host,
        Group::Ip4,
        Group::Ip6,
        Group::Dns,
        Group::Fid,
        Group::User,
        Group::AltUser,
        Group::Mlfid,
        Group::Content,
        Group::Nofail,
        Group::Mlfforget,
        Group::Mlfgained,
        Group::Cidr,
        Group::Fport,
    ];

    /// The groups that name an offender, in the order fail2ban prefers.
    pub const OFFENDER: [Group; 5] = [Group::Host, Group::Ip4, Group::Ip6, Group::Dns, Group::Fid];

    /// The group a regex group name stands for. fail2ban merges
    /// `alt_user`, `alt_user_1`, … into `user` when that is empty, so all
    /// of them are [`Group::AltUser`].
    pub fn of_name(name: &str) -> Option<Group> {
        if name.starts_with("alt_user") {
            return Some(Group::AltUser);
        }
        Group::ALL.into_iter().find(|group| group.name() == name)
    }

    /// The name as written in a regex.
    pub fn name(self) -> &'static str {
        match self {
            Group::Host => "host",
            Group::Ip4 => "ip4",
            Group::Ip6 => "ip6",
            Group::Dns => "dns",
            Group::Fid => "fid",
            Group::User => "user",
            Group::AltUser => "alt_user",
            Group::Mlfid => "mlfid",
            Group::Content => "content",
            Group::Nofail => "nofail",
            Group::Mlfforget => "mlfforget",
            Group::Mlfgained => "mlfgained",
            Group::Cidr => "cidr",
            Group::Fport => "fport",
        }
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::Group;

    #[test]
    fn every_group_is_found_by_its_own_name() {
        for group in Group::ALL {
            assert_eq!(Group::of_name(group.name()), Some(group));
        }
        assert_eq!(Group::of_name("alt_user_2"), Some(Group::AltUser));
        assert_eq!(Group::of_name("port"), None);
    }
}
