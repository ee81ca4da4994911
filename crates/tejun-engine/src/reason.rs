//! The words the engine journals about a step or a run (a failure reason,
//! a rollback or pause reason, an automatic answer) in the operator's
//! language. The journal keeps them in English, as data; screens and
//! reports read them through [`localize`].

use tejun_locale::Lang;

/// `text` in `lang`; text this module does not know is returned as is.
pub fn localize(text: &str, lang: Lang) -> String {
    if lang == Lang::En {
        return text.to_string();
    }
    japanese(text).unwrap_or_else(|| text.to_string())
}

fn japanese(text: &str) -> Option<String> {
    let fixed = match text {
        "answered automatically (non-interactive run, `auto:` in the runbook)" => {
            Some("自動で回答 (非対話の実行、手順書の `auto:`)")
        }
        "step-failed" => Some("ステップの失敗"),
        "aborted" => Some("中断"),
        "unknown-step" => Some("状態不明のステップ"),
        "operator" => Some("運用者の指示"),
        "unanswered" => Some("未回答 (非対話の実行)"),
        "pending" => Some("保留"),
        "waiting-for-approval" => Some("承認待ち"),
        "trigger" => Some("トリガーの発火"),
        "stopped: a trigger fired (command killed)" => {
            Some("停止: トリガーが発火しました (コマンドを停止)")
        }
        "aborted by the operator (command killed)" => Some("運用者による中断 (コマンドを停止)"),
        _ => None,
    };
    if let Some(fixed) = fixed {
        return Some(fixed.to_string());
    }
    if let Some(why) = text.strip_prefix("health-gate: ") {
        let why = bake_failure_ja(why).unwrap_or_else(|| why.to_string());
        return Some(format!("ヘルスゲート不合格: {why}"));
    }
    if let Some(rest) = text.strip_prefix("exit code ") {
        let (code, expected) = rest.split_once(", expected ")?;
        return Some(format!(
            "終了コード {code} (期待値 {})",
            expected.replace(" or ", " または ")
        ));
    }
    for stream in ["stdout", "stderr"] {
        if let Some(pattern) = text.strip_prefix(&format!("{stream} did not match ")) {
            return Some(format!(
                "{stream} がパターン {pattern} に一致しませんでした"
            ));
        }
        if let Some(error) = text.strip_prefix(&format!("invalid {stream} regex: ")) {
            return Some(format!("{stream} の正規表現が不正です: {error}"));
        }
    }
    if let Some(rest) = text.strip_prefix("timed out after ") {
        let secs = rest.strip_suffix("s (process group killed)")?;
        return Some(format!("{secs} 秒でタイムアウト (プロセスグループを停止)"));
    }
    if let Some(signal) = text.strip_prefix("killed by signal ") {
        return Some(format!("シグナル {signal} で終了"));
    }
    None
}

/// `probe `P` unhealthy 1.2s into the 60s bake of batch 2: WHY` (the
/// runner's gate reason) in Japanese.
fn bake_failure_ja(text: &str) -> Option<String> {
    let rest = text.strip_prefix("probe `")?;
    let (probe, rest) = rest.split_once("` unhealthy ")?;
    let (at, rest) = rest.split_once("s into the ")?;
    let (bake, rest) = rest.split_once("s bake of batch ")?;
    let (batch, why) = rest.split_once(": ")?;
    let why = japanese(why).unwrap_or_else(|| why.to_string());
    Some(format!(
        "バッチ {batch} の {bake} 秒のベイク中、{at} 秒の時点でプローブ `{probe}` が異常: {why}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_reasons_read_in_japanese() {
        let ja = |t| localize(t, Lang::Ja);
        assert_eq!(
            ja("exit code 1, expected 0 or 2"),
            "終了コード 1 (期待値 0 または 2)"
        );
        assert_eq!(
            ja("stdout did not match /ok/"),
            "stdout がパターン /ok/ に一致しませんでした"
        );
        assert_eq!(
            ja("timed out after 1.5s (process group killed)"),
            "1.5 秒でタイムアウト (プロセスグループを停止)"
        );
        assert_eq!(ja("something new"), "something new");
        assert_eq!(
            localize("exit code 1, expected 0", Lang::En),
            "exit code 1, expected 0"
        );
    }

    #[test]
    fn trigger_gate_and_kill_reasons_read_in_japanese() {
        let ja = |t| localize(t, Lang::Ja);
        assert_eq!(ja("trigger"), "トリガーの発火");
        assert_eq!(
            ja("health-gate: 5xx on web-1"),
            "ヘルスゲート不合格: 5xx on web-1"
        );
        assert_eq!(
            ja(
                "health-gate: probe `health` unhealthy 0.4s into the 60s bake of batch 2: timed out after 1s"
            ),
            "ヘルスゲート不合格: バッチ 2 の 60 秒のベイク中、0.4 秒の時点でプローブ `health` が異常: timed out after 1s"
        );
        assert_eq!(
            ja("stopped: a trigger fired (command killed)"),
            "停止: トリガーが発火しました (コマンドを停止)"
        );
        assert_eq!(
            ja("aborted by the operator (command killed)"),
            "運用者による中断 (コマンドを停止)"
        );
    }
}
