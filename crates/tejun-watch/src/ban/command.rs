//! A user's own ban commands, as templates.
//!
//! A template is an argument vector (`["/usr/local/sbin/block", "{ip}",
//! "{bantime}"]`, or a string split like a shell would, without running
//! one). Placeholders are substituted inside each word *after* splitting, so
//! whatever an offender string contains, it stays within its one argument.

use ipnet::IpNet;

use super::exec::run;
use super::{Backend, BanError};

/// Placeholders a template may use.
pub const PLACEHOLDERS: &[&str] = &["{offender}", "{ip}", "{prefix}", "{family}", "{bantime}"];

pub struct CommandBackend {
    add: Vec<String>,
    remove: Vec<String>,
    wrapper: Vec<String>,
}

impl CommandBackend {
    pub fn new(add: Vec<String>, remove: Vec<String>, wrapper: Vec<String>) -> CommandBackend {
        CommandBackend {
            add,
            remove,
            wrapper,
        }
    }
}

/// Substitutes the placeholders in every word of `template`.
pub fn expand(template: &[String], net: &IpNet, bantime_s: i64) -> Vec<String> {
    let net = net.trunc();
    let offender = if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    };
    let family = match net {
        IpNet::V4(_) => "inet",
        IpNet::V6(_) => "inet6",
    };
    template
        .iter()
        .map(|word| {
            word.replace("{offender}", &offender)
                .replace("{ip}", &net.addr().to_string())
                .replace("{prefix}", &net.prefix_len().to_string())
                .replace("{family}", family)
                .replace("{bantime}", &bantime_s.to_string())
        })
        .collect()
}

impl Backend for CommandBackend {
    fn name(&self) -> &'static str {
        "command"
    }

    fn prepare(&self) -> Result<(), BanError> {
        Ok(())
    }

    fn add(&self, net: IpNet, timeout_s: i64) -> Result<(), BanError> {
        run(&self.wrapper, &expand(&self.add, &net, timeout_s), None)
    }

    fn remove(&self, net: IpNet) -> Result<(), BanError> {
        run(&self.wrapper, &expand(&self.remove, &net, 0), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitution_keeps_each_argument_one_word() {
        let template: Vec<String> =
            shlex::split("block --addr '{offender}' --for {bantime}s").unwrap();
        let net: IpNet = "2001:db8:1:2::/64".parse().unwrap();
        assert_eq!(
            expand(&template, &net, 60),
            ["block", "--addr", "2001:db8:1:2::/64", "--for", "60s"]
        );
        let v4: IpNet = "192.0.2.7/32".parse().unwrap();
        assert_eq!(
            expand(&["x{ip}/{prefix}:{family}".to_string()], &v4, 0),
            ["x192.0.2.7/32:inet"]
        );
    }
}
