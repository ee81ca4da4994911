//! The small vocabularies of an incident: status, role, cause layer, action
//! term and hypothesis verdict. Each parses from the word an operator types
//! and labels itself in both languages.

use serde::{Deserialize, Serialize};
use tejun_locale::Lang;

use crate::error::Error;

macro_rules! vocabulary {
    ($name:ident, $what_en:literal, $what_ja:literal, { $($variant:ident = $word:literal / $en:literal / $ja:literal $(| $alias:literal)*),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The word stored in events and typed on the command line.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }

            /// A label for people.
            pub fn label(self, lang: Lang) -> &'static str {
                match self { $($name::$variant => lang.pick($en, $ja)),+ }
            }

            /// Parses the operator's word (case-insensitive).
            pub fn parse(input: &str) -> Result<$name, Error> {
                let lower = input.trim().to_ascii_lowercase();
                match lower.as_str() {
                    $($word $(| $alias)* => Ok($name::$variant),)+
                    _ => {
                        let words = [$($word),+].join(", ");
                        Err(Error::input(
                            format!("unknown {} {input:?}; expected one of: {words}", $what_en),
                            format!("不明な{} {input:?} です。次のいずれかを指定してください: {words}", $what_ja),
                        ))
                    }
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary!(Status, "status", "状態", {
    Detected = "detected" / "detected" / "検知" | "opened" | "open",
    Investigating = "investigating" / "investigating" / "調査中",
    Identified = "identified" / "identified" / "原因特定",
    Mitigated = "mitigated" / "mitigated" / "緩和済み",
    Resolved = "resolved" / "resolved" / "復旧",
    Closed = "closed" / "closed" / "クローズ",
});

impl Status {
    /// Position in the normal life of an incident.
    pub fn rank(self) -> u8 {
        match self {
            Status::Detected => 0,
            Status::Investigating => 1,
            Status::Identified => 2,
            Status::Mitigated => 3,
            Status::Resolved => 4,
            Status::Closed => 5,
        }
    }

    /// Still being worked on (not resolved or closed).
    pub fn is_active(self) -> bool {
        self.rank() < Status::Resolved.rank()
    }
}

vocabulary!(Role, "role", "役割", {
    Commander = "commander" / "commander" / "指揮者" | "ic",
    Scribe = "scribe" / "scribe" / "記録係",
    Comms = "comms" / "comms" / "連絡係" | "communications",
    Responder = "responder" / "responder" / "対応者",
});

vocabulary!(Layer, "cause layer", "原因の層", {
    Technical = "technical" / "Technical" / "技術的",
    Process = "process" / "Process" / "プロセス",
    Organisational = "organisational" / "Organisational" / "組織的" | "organizational",
});

vocabulary!(Term, "action term", "対策の期間", {
    Short = "short" / "short term" / "短期",
    Mid = "mid" / "mid term" / "中期" | "medium",
    Long = "long" / "long term" / "長期",
});

vocabulary!(Verdict, "verdict", "判定", {
    Confirmed = "confirmed" / "confirmed" / "確認済み",
    Rejected = "rejected" / "rejected" / "棄却",
});

vocabulary!(ActionStatus, "action status", "対策の状態", {
    Open = "open" / "open" / "未完了" | "todo",
    Done = "done" / "done" / "完了" | "closed",
    Dropped = "dropped" / "dropped" / "取り下げ" | "cancelled" | "canceled",
});

// The enum comes from `vocabulary!`, which cannot mark a `#[default]` variant.
#[allow(clippy::derivable_impls)]
impl Default for ActionStatus {
    fn default() -> ActionStatus {
        ActionStatus::Open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_aliases_and_refuses_unknown_words() {
        assert_eq!(
            Layer::parse("Organizational").unwrap(),
            Layer::Organisational
        );
        assert_eq!(Status::parse("opened").unwrap(), Status::Detected);
        let err = Status::parse("fixed").unwrap_err();
        assert!(err.to_string().contains("investigating"), "{err}");
    }
}
