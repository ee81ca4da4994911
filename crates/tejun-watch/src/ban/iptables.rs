//! iptables/ip6tables: one DROP rule per banned network in the INPUT chain,
//! tagged with a comment. iptables has no per-rule timeout, so expiry is
//! entirely tejun's (on every start, overdue bans are lifted first).

use ipnet::IpNet;

use super::exec::run;
use super::{Backend, BanError};

pub struct Iptables {
    wrapper: Vec<String>,
}

impl Iptables {
    pub fn new(wrapper: Vec<String>) -> Iptables {
        Iptables { wrapper }
    }

    fn rule(op: &str, net: &IpNet) -> Vec<String> {
        let tool = match net {
            IpNet::V4(_) => "iptables",
            IpNet::V6(_) => "ip6tables",
        };
        [
            tool,
            "-w",
            op,
            "INPUT",
            "-s",
            &net.trunc().to_string(),
            "-m",
            "comment",
            "--comment",
            "tejun",
            "-j",
            "DROP",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }
}

impl Backend for Iptables {
    fn name(&self) -> &'static str {
        "iptables"
    }

    fn prepare(&self) -> Result<(), BanError> {
        run(
            &self.wrapper,
            &[
                "iptables".into(),
                "-w".into(),
                "-L".into(),
                "INPUT".into(),
                "-n".into(),
            ],
            None,
        )
    }

    fn add(&self, net: IpNet, _timeout_s: i64) -> Result<(), BanError> {
        // -C first: adding the same rule twice would need two deletes later.
        if run(&self.wrapper, &Self::rule("-C", &net), None).is_ok() {
            return Ok(());
        }
        run(&self.wrapper, &Self::rule("-I", &net), None)
    }

    fn remove(&self, net: IpNet) -> Result<(), BanError> {
        if run(&self.wrapper, &Self::rule("-C", &net), None).is_err() {
            return Ok(());
        }
        run(&self.wrapper, &Self::rule("-D", &net), None)
    }
}
