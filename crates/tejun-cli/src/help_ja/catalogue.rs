//! The Japanese help texts, keyed by command path and by what they replace
//! (see [`Text`]). The English stays in the clap derive attributes; the
//! test `every_command_and_argument_has_japanese_help` lists every missing
//! entry in this syntax, with the English text in place of the Japanese:
//! paste the lines here and translate them.
//!
//! Examples blocks: translate the prose, keep the commands as they are.
//! "runbook" is 手順書.

use super::Text::{self, *};

#[rustfmt::skip]
pub(super) const CATALOGUE: &[(&str, Text<'static>, &str)] = &[
    ("tejun", About, "自分で実行し自分で確かめる手順書、ガード付きの変更、ログ検知、インシデント対応を、改ざんを検出できる一つのジャーナルで。"),
    ("tejun", AfterHelp, "例:
  tejun check examples/quickstart.yaml
  tejun plan examples/quickstart.yaml --env dev
  tejun run examples/quickstart.yaml --env dev
  tejun runs --json
  tejun scan /var/log/auth.log --fail2ban-filter /etc/fail2ban/filter.d/sshd.conf
  tejun audit verify"),
    ("tejun", Help("lang"), "メッセージの言語: ja または en (既定: LANG から)"),
    ("tejun", Help("db"), "ジャーナルのデータベース (既定: インベントリの隣の .tejun/journal.db)"),
    ("tejun", Help("inventory"), "インベントリファイル (既定: このディレクトリか親の tejun.yaml)"),
    ("tejun", Help("allow_unverified_journal"), "先頭が検証できないジャーナルにも書き込みます (書き込むすべてのコマンド)。この上書き自体もジャーナルに記録されます"),
    ("tejun check", About, "手順書を何も実行せずに検査します"),
    ("tejun check", AfterHelp, "例:
  tejun check examples/quickstart.yaml
  tejun check tejun.yaml                 # インベントリ (形から判別)
  tejun check watch.yaml                 # watch 設定 (`sources:` で判別)
  tejun check --inventory envs/prod.yaml # インベントリ (明示)
  tejun check runbook.yaml --json
  tejun check runbook.yaml --env staging --var conf_dir=/etc/nginx
  tejun --lang ja check runbook.yaml

最上位に `environments:` (または `incidents:`) があり、手順書のキー (name, env,
各フェーズ) がないファイルはインベントリとして、最上位に `sources:` があるファイルは
watch 設定として (`tejun watch` と同じくルールと手順書アクションまで読み込んで)
検査します。それ以外は手順書として、
見つかったインベントリ (--inventory、なければここか親の tejun.yaml) に照らして
検査します。手順書は `plan` や `run` と同じ環境ガードを通ります: --env ENV の
環境について、--env がなければ手順書が宣言するすべての環境について。
FILE がなければインベントリ自体を検査します。

終了ステータス: 0 正常、2 不正または読めない。"),
    ("tejun check", Help("file"), "検査する手順書、インベントリまたは watch 設定 (既定: インベントリ)"),
    ("tejun check", Help("json"), "結果を JSON で標準出力に出します"),
    ("tejun check", Help("env"), "この環境についてだけ検査します (既定: 手順書が宣言するすべての環境)"),
    ("tejun check", Help("vars"), "変数を設定します (複数可): `type` に照らして検査し、ガードがコマンドを読むときに使います。未設定の必須変数は空として読みます"),
    ("tejun plan", About, "各ステップを実行するとおりに表示します。何も実行しません"),
    ("tejun plan", AfterHelp, "例:
  tejun plan examples/quickstart.yaml --env dev
  tejun plan change.yaml --env staging --var weight=5 --var ticket=CHG-42
  tejun plan change.yaml --env staging --json

終了ステータス: 0 計画を表示、2 不正な手順書、環境の誤り、または変数の不足。"),
    ("tejun plan", Help("file"), "計画を表示する手順書"),
    ("tejun plan", Help("env"), "計画の対象環境。手順書が対象とし、インベントリが定義している環境であること"),
    ("tejun plan", Help("vars"), "変数を設定します (複数可)"),
    ("tejun plan", Help("json"), "計画を JSON で標準出力に出します"),
    ("tejun run", About, "手順書を実行します"),
    ("tejun run", AfterHelp, "例:
  tejun run examples/quickstart.yaml --env dev
  tejun run change.yaml --env staging --var upstream=10.0.0.7:8080
  tejun run change.yaml --env production --confirm-env production --yes
  tejun run change.yaml --env staging --incident INC-42 --json

終了コード:
  0    成功
  1    失敗 (pre のステップ、またはロールバック計画のない execute/post のステップ)
  2    不正な入力または拒否 (ガード、インベントリ、承認の拒否)
  3    ロールバックした
  4    ロールバックに失敗、または後始末が未完了 (exit のステップが失敗): すぐ確認してください
  5    一時停止: 人の確認待ち (tejun resume RUN) または承認待ち (tejun approve RUN)
  130  中止 (Ctrl-C、SIGTERM)
終了フェーズはどの結果の後にも実行します。確認の入力中やコマンドの実行中に
Ctrl-C を押すと中止します: コマンドを停止し、ロールバック計画を実行し、それから
終了フェーズを実行します。ロールバック中と終了フェーズ中は、1 回目の Ctrl-C は
記録するだけです。2 回目で待つのをやめ、ロールバックするコマンド
(tejun rollback RUN) を表示します。"),
    ("tejun run", Help("file"), "手順書のファイル"),
    ("tejun run", Help("env"), "実行する環境。手順書が名指しし、インベントリが定義している環境であること"),
    ("tejun run", Help("vars"), "手順書の変数を設定します (複数可)"),
    ("tejun run", Help("yes"), "非対話: 入力を求めません。`auto:` のない確認ステップでは実行を一時停止します"),
    ("tejun run", Help("confirm_env"), "保護された環境を、名前を入力する確認なしで承認します (--env と同じであること)"),
    ("tejun run", Help("confirm_destructive"), "保護された環境での破壊的ステップを、ステップ ID を一つずつ入力せずに許可します"),
    ("tejun run", Help("incident"), "実行をインシデントに紐づけます (イベントに `incident/ID` の参照が付きます)"),
    ("tejun run", Help("json"), "1 行に 1 つの JSON イベントを標準出力に出します"),
    ("tejun run", Help("limit"), "手順書の `hosts:` のうち、これらのホストだけ (カンマ区切り)"),
    ("tejun resume", About, "中断した実行を続けます"),
    ("tejun resume", AfterHelp, "例:
  tejun resume 0k3m9q2a
  tejun resume 0k3m9q2a --on-unknown skip --yes
  tejun resume 0k3m9q2a --var db_password=... --confirm-env production

完了したステップは二度と実行しません。開始したのに終了の記録がないステップは
状態不明です: retry、skip、rollback から選びます (端末なら質問します。または
--on-unknown)。秘密の変数はジャーナルに記録しないので、--var でもう一度渡すか、
聞かれたときに入力します (入力は表示されません)。秘密の変数が足りず質問できる
端末もないとき、実行開始後に手順書ファイルが変わったとき、実行がすでに終わって
いるとき、別のプロセスがまだ実行しているときは、何も実行せずに拒否します
(終了コード 2)。承認待ちの実行は、必要な人数が `tejun approve RUN` を実行すると
続きます (それまでは終了コード 5)。--on-unknown rollback は確認ステップで一時停止
した実行もロールバックします。それ以外の実行をロールバックするには
`tejun rollback RUN` を使います。フリートでは、再試行するステップはそれを
終えていなかったホストでだけもう一度実行します: 失敗していたホストは失敗の
まま (max_fail_percentage に数え、ロールアウトの設定どおりロールバック)、
--retry-failed を付けたときだけ再実行します。実行開始時に接続できなかった
ホストは外れたままです。終了コードは `tejun run` と同じです。"),
    ("tejun resume", Help("on_unknown"), "状態不明のステップを、対話で聞けないときにどうするか"),
    ("tejun resume", Help("retry_failed"), "フリート: 再試行するステップを、停止前に失敗していたホストでももう一度実行します (既定では失敗のまま)"),
    ("tejun resume", Help("run"), "実行 ID (`tejun runs` を参照)。一意な先頭部分だけでも可"),
    ("tejun resume", Help("yes"), "非対話: 入力を求めません"),
    ("tejun resume", Help("vars"), "秘密の変数はジャーナルに記録しないので、もう一度渡します (なければ端末で質問します)"),
    ("tejun resume", Help("confirm_env"), "保護された環境を、名前を入力する確認なしで承認します"),
    ("tejun resume", Help("confirm_destructive"), "保護された環境での破壊的ステップを許可します"),
    ("tejun resume", Help("json"), "1 行に 1 つの JSON イベントを標準出力に出します"),
    ("tejun rollback", About, "実行のロールバック計画を実行します (その後に終了フェーズ)"),
    ("tejun rollback", AfterHelp, "例:
  tejun rollback 0k3m9q2a
  tejun rollback 0k3m9q2a --yes --confirm-env production

ロールバック計画をすべて実行し (復元は何度実行しても同じ結果です)、それから
終了フェーズを実行します。2 回目の Ctrl-C で表示されるのがこのコマンドです。
実行開始後に手順書ファイルが変わったとき、すでにロールバック済みのとき、
手順書にロールバック計画がないとき、別のプロセスがまだ実行しているときは
拒否します (終了コード 2)。終了コードは `tejun run` と同じです: 3 ロールバック
した、4 ロールバックに失敗または後始末が未完了、5 ロールバックの質問で一時停止、
130 中止。"),
    ("tejun rollback", Help("run"), "実行 ID (`tejun runs` を参照)。一意な先頭部分だけでも可"),
    ("tejun rollback", Help("yes"), "非対話: 入力を求めません"),
    ("tejun rollback", Help("vars"), "秘密の変数はジャーナルに記録しないので、もう一度渡します (なければ端末で質問します)"),
    ("tejun rollback", Help("confirm_env"), "保護された環境を、名前を入力する確認なしで承認します"),
    ("tejun rollback", Help("confirm_destructive"), "保護された環境での破壊的ステップを許可します"),
    ("tejun rollback", Help("json"), "1 行に 1 つの JSON イベントを標準出力に出します"),
    ("tejun approve", About, "承認待ちの実行を承認します (二人承認)"),
    ("tejun approve", AfterHelp, "例:
  tejun approve 0k3m9q2a --reason \"checked the diff with sato\"
  tejun reject 0k3m9q2a --reason \"not during the sale\"

あなたが誰かは SUDO_USER (sudo で root として実行したとき)、なければログイン
uid、なければ $USER から決めます。その実行の実行者、すでに判断した人、承認待ち
でない実行に対しては拒否します (終了コード 2)。"),
    ("tejun approve", Help("run"), "実行 ID (`tejun runs` を参照)。一意な先頭部分だけでも可"),
    ("tejun approve", Help("reason"), "理由 (判断とともにジャーナルに記録します)"),
    ("tejun abort", About, "実行中の実行を別の端末から中止します: ロールバックし、終了フェーズを実行します"),
    ("tejun abort", AfterHelp, "例:
  tejun abort 0k3m9q2a --reason \"error rate up on the canary\"

要求をその実行のストリームに記録し (abort.requested)、実行中の tejun に SIGTERM
を送ります。tejun はこれを Ctrl-C と同じに扱います: 実行中のコマンドを停止し、
変更が始まっていればロールバック計画を実行し、それから終了フェーズを実行します。
終了ステータス: 0 シグナルを送った、1 ジャーナルへの記録かシグナルに失敗、
2 その実行がない、実行中でない、またはジャーナルが検証できない。"),
    ("tejun abort", Help("run"), "実行 ID (`tejun runs` を参照)。一意な先頭部分だけでも可"),
    ("tejun abort", Help("reason"), "理由 (要求とともにジャーナルに記録します)"),
    ("tejun reject", About, "承認待ちの実行を却下します"),
    ("tejun reject", AfterHelp, "例:
  tejun approve 0k3m9q2a --reason \"checked the diff with sato\"
  tejun reject 0k3m9q2a --reason \"not during the sale\"

あなたが誰かは SUDO_USER (sudo で root として実行したとき)、なければログイン
uid、なければ $USER から決めます。その実行の実行者、すでに判断した人、承認待ち
でない実行に対しては拒否します (終了コード 2)。"),
    ("tejun reject", Help("run"), "実行 ID (`tejun runs` を参照)。一意な先頭部分だけでも可"),
    ("tejun reject", Help("reason"), "理由 (判断とともにジャーナルに記録します)"),
    ("tejun runs", About, "実行の一覧を表示します"),
    ("tejun runs", AfterHelp, "例:
  tejun runs
  tejun runs --env production --limit 5
  TZ=Asia/Tokyo tejun runs
  tejun runs --limit 0 --json | jq '.[] | select(.state == \"interrupted\") | .id'

状態: running (実行中)、interrupted (中断。`tejun resume RUN` で再開)、paused
(一時停止)、succeeded (成功)、rolled-back (ロールバック済み)、rollback-failed
(ロールバック失敗)、failed (失敗)、aborted (中止)、refused (拒否)。"),
    ("tejun runs", Help("json"), "実行を JSON 配列 (時刻は UTC) で標準出力に出します"),
    ("tejun runs", Help("env"), "この環境での実行だけ"),
    ("tejun runs", Help("limit"), "最大 N 件 (新しいものから) を表示します。0 ならすべて"),
    ("tejun show", About, "一つの実行のタイムラインを表示します"),
    ("tejun show", AfterHelp, "例:
  tejun show 0k3m9q2a
  tejun show 0k3          # 一意な先頭部分だけでも可
  TZ=Asia/Tokyo tejun --lang ja show 0k3m9q2a
  tejun show 0k3m9q2a --json | jq '.steps[] | select(.state == \"unknown\")'
  tejun show 0k3m9q2a --diff   # 実行がバックアップしたファイルを何に変えたか

終了ステータス: 0 表示した、2 その実行がない (または先頭部分が一意でない)。"),
    ("tejun show", Help("run"), "実行 ID、またはその一意な先頭部分 (`tejun runs` を参照)"),
    ("tejun show", Help("json"), "タイムラインを JSON (時刻は UTC) で標準出力に出します"),
    ("tejun show", Help("diff"), "実行がバックアップしたファイルを何に変えたかを表示します: 各バックアップと現在のファイルの unified diff (--json では、ファイルごとの状態と差分の一覧)"),
    ("tejun audit", About, "ジャーナルを検証し署名します: ハッシュチェーン、チェックポイント、監査鍵"),
    ("tejun audit verify", About, "各イベントのハッシュと連結を検証し、最初の不正なイベントを示します"),
    ("tejun audit verify", AfterHelp, "例:
  tejun audit verify
  tejun --db /srv/tejun/.tejun/journal.db audit verify --json
  tejun audit verify --anchor 1842:3c6d267e7ee2ef1580bd43464232535b569229b436946024c6cf9dcfeb2ec486

終了ステータス: 0 無傷、1 改ざん (最初の不正なイベントを示します) または読めない、2 ジャーナルがない、鍵が使えない、または --witness のファイルがない。

表示された最新の状態 (件数とハッシュ) を別の場所、たとえば変更チケットに控えて
おいてください: 後で `--anchor COUNT:HASH` を渡すと、ジャーナルの末尾を切って
最新の状態を書き換えた者に対しても、イベント 1..COUNT が当時のままであることを
証明できます。"),
    ("tejun audit verify", Help("json"), "結果を JSON で標準出力に出します"),
    ("tejun audit verify", Help("anchor"), "以前に控えた最新の状態 (前回の verify が表示した `COUNT:HASH`): イベント COUNT がそのハッシュのまま残っていること"),
    ("tejun audit verify", Help("key"), "秘密鍵のファイル (既定: $TEJUN_AUDIT_KEY、なければ $XDG_CONFIG_HOME/tejun/audit.key)"),
    ("tejun audit verify", Help("public_key"), "信頼する公開鍵 (既定: 鍵の隣の .pub ファイル)"),
    ("tejun audit verify", Help("witness"), "FILE (証人ファイル) からもチェックポイントを読みます。複数可"),
    ("tejun audit checkpoint", About, "ジャーナルの最新の状態に監査鍵で署名します (実行のたびにも行います)"),
    ("tejun audit checkpoint", AfterHelp, "例:
  tejun audit checkpoint
  tejun audit checkpoint --witness /mnt/audit/web-01.checkpoints

チェックポイントはジャーナルに保存し、鍵の隣のファイル (audit.checkpoints) と
すべての --witness のファイルにも追記します。データベースの行を消しても、
すべてを消すことはできません。"),
    ("tejun audit checkpoint", Help("key"), "秘密鍵のファイル (既定: $TEJUN_AUDIT_KEY、なければ $XDG_CONFIG_HOME/tejun/audit.key)"),
    ("tejun audit checkpoint", Help("witness"), "署名した最新の状態を FILE (証人ファイル: 別のディスクや、監査者だけが書けるマウント) にも追記します。複数可"),
    ("tejun audit checkpoint", Help("json"), "チェックポイントを JSON で標準出力に出します"),
    ("tejun audit key", About, "チェックポイントに署名する監査鍵を管理します"),
    ("tejun audit key init", About, "監査鍵を作成します (データベースの外に、モード 0600 で保存)"),
    ("tejun audit key init", AfterHelp, "例:
  tejun audit key init
  tejun audit key init --key /etc/tejun/audit.key

既定: $TEJUN_AUDIT_KEY、なければ $XDG_CONFIG_HOME/tejun/audit.key (~/.config/tejun/audit.key)。
その隣に audit.pub (公開鍵。検証する人に必要なのはこれだけ) と
audit.checkpoints (この鍵で署名したすべてのチェックポイント) を置きます。"),
    ("tejun audit key init", Help("key"), "秘密鍵のファイル (既定: $TEJUN_AUDIT_KEY、なければ $XDG_CONFIG_HOME/tejun/audit.key)"),
    ("tejun scan", About, "ログファイルを tejun のルールまたは fail2ban のフィルタで走査します"),
    ("tejun scan", Help("journal"), "systemd ジャーナルも読みます (システムのもの、または --journal-directory / --journal-file)。--journal-match も --unit もなければ、fail2ban フィルタの journalmatch でエントリを選びます"),
    ("tejun scan", Help("journal_match"), "fail2ban の journalmatch 形式のジャーナル条件。例: '_SYSTEMD_UNIT=ssh.service + _COMM=sshd' (複数指定可、いずれかに一致)"),
    ("tejun scan", Help("unit"), "この systemd ユニットのジャーナルエントリ (複数指定可)"),
    ("tejun scan", Help("journal_directory"), "システムのジャーナルの代わりに読むジャーナルのディレクトリ"),
    ("tejun scan", Help("journal_file"), "システムのジャーナルの代わりに読むジャーナルファイル (複数指定可)"),
    ("tejun scan", Help("matches"), "攻撃者の表の代わりに、一致した行をルール・ホスト・時刻・ユーザーとともに1行ずつ表示します (--json では1行に1つの JSON オブジェクト)"),
    ("tejun scan", AfterHelp, "例:
  tejun scan /var/log/auth.log --builtin sshd
  tejun scan /var/log/auth.log* --fail2ban-filter /etc/fail2ban/filter.d/sshd.conf
  tejun scan auth.log --fail2ban-filter 'sshd.conf[mode=aggressive]' --jail /etc/fail2ban/jail.local --jail-name sshd
  tejun scan access.log.gz --builtin web-attacks --since 2026-11-21T00:00:00Z --json
  tejun scan app.log --rules rules.yaml --tz Asia/Tokyo

組み込みのルールセット: sshd、web-auth、web-attacks、mysql (docs/rules.md を参照)。
終了コード: 0 走査した、1 読めないファイルがあった、2 ルールまたは引数の誤り。"),
    ("tejun scan", Help("files"), "走査するログファイル (平文または .gz)"),
    ("tejun scan", Help("rules"), "tejun のルールファイル (YAML、docs/rules.md を参照)"),
    ("tejun scan", Help("builtin"), "組み込みのルールセット (カンマ区切り)"),
    ("tejun scan", Help("fail2ban_filter"), "fail2ban のフィルタファイル。オプション付きも可: 'sshd.conf[mode=aggressive]'"),
    ("tejun scan", Help("jail"), "findtime、maxretry、bantime とフィルタのオプションを読む jail.conf / jail.local"),
    ("tejun scan", Help("jail_name"), "読む jail のセクション (既定: フィルタの名前)"),
    ("tejun scan", Help("since"), "この時刻以降の検出だけ (RFC 3339、--tz の 'YYYY-MM-DD HH:MM[:SS]'、または 2h、1d のような経過時間)"),
    ("tejun scan", Help("until"), "この時刻以前の検出だけ"),
    ("tejun scan", Help("tz"), "タイムゾーンのない日時のタイムゾーン (既定: TZ / システムのタイムゾーン)"),
    ("tejun scan", Help("json"), "機械で読める形式で出力します"),
    ("tejun watch", About, "ログファイルを追いかけ、攻撃元に対処します"),
    ("tejun watch", AfterHelp, "例:
  tejun watch --config /etc/tejun/watch.yaml
  tejun watch --config watch.yaml --json | jq -c 'select(.event == \"banned\")'
  TZ=Asia/Tokyo tejun --lang ja watch --config watch.yaml

設定の形式は docs/watch.md にあります。Ctrl-C か SIGTERM で停止します:
読んだ位置を保存するので、再起動するとちょうど止まったところから続けます。"),
    ("tejun watch", Help("config"), "watch の設定 (YAML)"),
    ("tejun watch", Help("json"), "イベントごとに 1 つの JSON オブジェクトを標準出力に出します"),
    ("tejun bans", About, "有効な遮断の一覧を表示します"),
    ("tejun bans", AfterHelp, "例:
  tejun bans
  TZ=Asia/Tokyo tejun bans
  tejun bans --json | jq -r '.[].offender'

遮断は `tejun watch` が行い、期限切れか `tejun unban ADDRESS` で解除されます。"),
    ("tejun bans", Help("json"), "遮断を JSON 配列 (時刻は UTC) で標準出力に出します"),
    ("tejun unban", About, "遮断を解除します"),
    ("tejun unban", AfterHelp, "例:
  tejun unban 192.0.2.7
  tejun unban 2001:db8:1:2::/64
  tejun unban 192.0.2.7 --config /etc/tejun/watch.yaml

遮断したときと同じファイアウォールで解除します (既定は nftables のテーブル `tejun`)。
--config を渡すと、watch.yaml からテーブル名か `command` バックエンドのテンプレートを読みます。"),
    ("tejun unban", Help("offender"), "遮断したアドレスまたはプレフィックス (`tejun bans` の表示のとおり)"),
    ("tejun unban", Help("config"), "watch の設定 (既定でない nftables のテーブルや `command` バックエンドのとき)"),
    ("tejun unban", Help("json"), "結果を JSON で出します"),
    ("tejun incident", About, "インシデントを起票し、対応を記録します"),
    ("tejun incident", Help("by"), "対応者に代わって記録します (NAME のしたことを書記が書き留めるとき)。あなたが NAME の代わりに記録したとしてジャーナルに残ります"),
    ("tejun incident open", About, "インシデントを起票し、短い ID を表示します"),
    ("tejun incident open", AfterHelp, "例:
  tejun incident open --title 'DB connection timeouts' --severity P1 --impact 'checkout fails for all users'
  tejun incident open --title 'AZ degraded' --severity P0 --started-at '2026-11-22 09:15' --at '09:20'"),
    ("tejun incident open", Help("severity"), "P0 (全面停止)、P1 (主要機能の停止)、P2 (一部機能の障害)、P3 (潜在的なリスク)、またはインベントリで定義したもの"),
    ("tejun incident open", Help("impact"), "誰が、何が影響を受けているか"),
    ("tejun incident open", Help("started_at"), "影響が始まった時刻 (既定: 検知した時刻)"),
    ("tejun incident open", Help("at"), "検知した時刻。今より前のとき (後から記入した印が付きます)"),
    ("tejun incident open", Help("env"), "影響を受ける環境: インシデントが有効な間、その環境での実行は自動で紐づきます (インベントリ: incidents.attach_active_runs)"),
    ("tejun incident list", About, "インシデントの一覧を表示します"),
    ("tejun incident list", AfterHelp, "例:
  tejun incident list
  tejun incident list --status active --severity P0,P1
  tejun incident list --json"),
    ("tejun incident list", Help("status"), "これらの状態だけ (カンマ区切り。`active` は解決済みでもクローズ済みでもないもの)"),
    ("tejun incident list", Help("severity"), "これらの重大度だけ (カンマ区切り)"),
    ("tejun incident show", About, "インシデントとそのタイムライン (実行、検知、遮断、メモなど) を表示します"),
    ("tejun incident show", AfterHelp, "例:
  tejun incident show INC-7K3Q
  TZ=Asia/Tokyo tejun incident show 7k
  tejun incident show 7k --json"),
    ("tejun incident status", About, "状態を変えます: investigating (調査中)、identified (原因特定)、mitigated (緩和済み)、resolved (解決済み)、closed (クローズ)"),
    ("tejun incident status", AfterHelp, "例:
  tejun incident status 7k investigating
  tejun incident status 7k mitigated --at '14:45'
  tejun incident status 7k investigating   # 解決済みのインシデントを再開"),
    ("tejun incident status", Help("at"), "起きた時刻。後から分かったことを記録するとき (後から記入した印が付きます)"),
    ("tejun incident role", About, "役割の担当者を指名します: commander (指揮)、scribe (書記)、comms (連絡)、responder (対応者)"),
    ("tejun incident role", AfterHelp, "例:
  tejun incident role 7k commander 'Sato'
  tejun incident role 7k scribe 'Suzuki'"),
    ("tejun incident note", About, "タイムラインにメモを追加します"),
    ("tejun incident note", AfterHelp, "例:
  tejun incident note 7k 'load average 25 on db-1'
  tejun incident note 7k 'customer reported 503s' --at 14:28"),
    ("tejun incident hypothesis", About, "仮説を記録し、その ID を表示します (`verdict` で使います)"),
    ("tejun incident hypothesis", AfterHelp, "例:
  tejun incident hypothesis 7k 'an unindexed query exhausts the connection pool'"),
    ("tejun incident verdict", About, "仮説を証拠とともに支持または棄却します"),
    ("tejun incident verdict", AfterHelp, "例:
  tejun incident verdict INC-7K3Q-H1 confirmed --evidence 'slow log: 50k-row filesort'
  tejun incident verdict 7k-h2 rejected --evidence 'cache hit rate normal'"),
    ("tejun incident cause", About, "一つの層の根本原因を、なぜなぜ (5 回まで) とともに記録します"),
    ("tejun incident cause", AfterHelp, "例:
  tejun incident cause 7k --layer technical 'LIKE query without index' --why 'no index on name' --why 'no query review'
  tejun incident cause 7k --layer process 'no staging load test'"),
    ("tejun incident cause", Help("layer"), "technical (技術)、process (プロセス)、organisational (組織) のいずれか"),
    ("tejun incident cause", Help("whys"), "「なぜ」を一つ、順に。5 回まで繰り返せます"),
    ("tejun incident severity", About, "重大度を見直します"),
    ("tejun incident severity", AfterHelp, "例:
  tejun incident severity 7k P0"),
    ("tejun incident impact", About, "影響 (誰が、何が影響を受けているか) を書きます。書き直しも可"),
    ("tejun incident impact", AfterHelp, "例:
  tejun incident impact 7k 'checkout fails for all users; about 5M JPY per hour'"),
    ("tejun incident lesson", About, "教訓を記録します"),
    ("tejun incident lesson", AfterHelp, "例:
  tejun incident lesson 7k 'trends need alerts, not only thresholds'"),
    ("tejun incident action", About, "改善策を担当者とともに記録します"),
    ("tejun incident action", AfterHelp, "例:
  tejun incident action 7k --term short --owner 'DB team' 'add the missing index'
  tejun incident action 7k --term long --owner SRE 'archive old rows monthly'"),
    ("tejun incident action", Help("term"), "short (短期)、mid (中期)、long (長期) のいずれか"),
    ("tejun incident action", Help("due"), "期限 (YYYY-MM-DD)"),
    ("tejun incident action-status", About, "改善策を open (未完了)、done (完了)、dropped (取りやめ) にします (番号は `incident actions` の表示のとおり)"),
    ("tejun incident action-status", AfterHelp, "例:
  tejun incident action-status 7k 1 done
  tejun incident action-status 7k 2 dropped"),
    ("tejun incident action-status", Help("status"), "open、done、dropped のいずれか"),
    ("tejun incident actions", About, "インシデントをまたいで改善策の一覧を表示します: 未完了のもの、期限の早い順"),
    ("tejun incident actions", AfterHelp, "例:
  tejun incident actions
  tejun incident actions --all --json"),
    ("tejun incident actions", Help("all"), "完了したものと取りやめたものも表示します"),
    ("tejun incident detach", About, "誤って紐づいた実行を、インシデントのタイムラインとポストモーテムから外します (理由とともにジャーナルに記録)"),
    ("tejun incident detach", AfterHelp, "例:
  tejun incident detach 7k 0k3m9q2a --reason 'dev quickstart, unrelated to the outage'"),
    ("tejun collect", About, "読み取り専用で証拠を層ごとに収集します"),
    ("tejun collect", AfterHelp, "例:
  tejun collect --incident INC-7K3Q
  tejun collect --layers os,network --out /var/tmp/evidence
  tejun collect --layers security,boot --redact-ips --redact-users
  tejun collect --catalog ./my-catalog.yaml --layers app
  tejun collect --list"),
    ("tejun collect", Help("layers"), "収集する層 (既定: すべて): os、network、web、mysql、postgres、security、boot、またはカタログで定義したもの"),
    ("tejun collect", Help("incident"), "収集結果をこのインシデントに紐づけます"),
    ("tejun collect", Help("out"), "収集結果を書く場所 (既定: ジャーナルの隣の evidence/)"),
    ("tejun collect", Help("redact_ips"), "IP アドレスを一貫した仮名 ([ip-1]) に置き換えます"),
    ("tejun collect", Help("redact_users"), "ユーザー名を一貫した仮名 ([user-1]) に置き換えます"),
    ("tejun collect", Help("timeout"), "コマンドごとの制限時間 (項目自身の `timeout` が優先)"),
    ("tejun collect", Help("catalog"), "追加のカタログファイル。組み込みと同じ ID の項目はそれを置き換えます"),
    ("tejun collect", Help("list"), "収集せずにカタログの一覧を表示します"),
    ("tejun report", About, "インシデントのポストモーテムを書きます"),
    ("tejun report", AfterHelp, "例:
  tejun report INC-7K3Q --lang ja --slo 99.9 > postmortem.md
  tejun report 7k --lang en --format html --out postmortem.html
  tejun report 7k --skeleton > pm.md     # 原因、教訓、改善策を編集する
  tejun report 7k --from pm.md --lang ja  # それを読み戻して報告書を出す"),
    ("tejun report", Help("id"), "インシデント (一意な先頭部分だけでも可)"),
    ("tejun report", Help("format"), "md または html"),
    ("tejun report", Help("slo"), "エラーバジェットの計算に使う可用性の SLO (パーセント、例: 99.9)"),
    ("tejun report", Help("out"), "標準出力の代わりにこのファイルに書きます"),
    ("tejun report", Help("skeleton"), "編集用の Markdown のひな形 (原因、教訓、改善策) を出します"),
    ("tejun report", Help("from"), "編集したひな形から原因、教訓、改善策を読み戻します"),
    ("tejun completions", About, "シェルの補完スクリプトを出します"),
    ("tejun completions", AfterHelp, "例:
  tejun completions bash > /etc/bash_completion.d/tejun
  tejun completions zsh > ~/.zfunc/_tejun"),
    ("tejun stats", About, "アクセスログのリクエスト統計: 時間窓ごとの件数、レイテンシのパーセンタイル、上位のエンドポイント"),
    ("tejun stats", AfterHelp, "例:
  tejun stats /var/log/nginx/access.log
  tejun stats access.log.1 access.log.2.gz --window 5m --since 2h
  tejun stats access.log --nginx-format \"log_format timed '\\$remote_addr [\\$time_local] \\\"\\$request\\\" \\$status \\$body_bytes_sent \\$request_time';\"
  tejun stats access.log --nginx-format @/etc/nginx/conf.d/log_format.conf
  tejun stats access_log --apache-format '%h %l %u %t \"%r\" %>s %b %D'
  tejun stats app.jsonl --format json --fields time=ts,request_time=dur:ms
  zcat access.log.*.gz | tejun stats - --json
  tejun stats access.log --html report.html --lang ja

終了コード: 0 読み終えた、1 読めない入力があった、2 形式か引数の誤り。"),
    ("tejun stats", Help("files"), "アクセスログ (平文または .gz)。`-` で標準入力を読みます"),
    ("tejun stats", Help("format"), "定義済みの形式: combined (nginx と Apache の既定)、common、json"),
    ("tejun stats", Help("nginx_format"), "nginx.conf に書いた log_format の行 (またはそれを含む @FILE)"),
    ("tejun stats", Help("apache_format"), "Apache の LogFormat 文字列 (またはそれを含む @FILE)"),
    ("tejun stats", Help("fields"), "--format json の JSON キー: PART=KEY[,...]。時間には :s、:ms、:us を付けます"),
    ("tejun stats", Help("window"), "時間窓の長さ (1m、5m、1h など)"),
    ("tejun stats", Help("since"), "この時刻以降のリクエストだけ (RFC 3339、--tz での 'YYYY-MM-DD HH:MM[:SS]'、または 2h のような経過時間)"),
    ("tejun stats", Help("until"), "この時刻以前のリクエストだけ"),
    ("tejun stats", Help("tz"), "タイムゾーンのない時刻とレポートのタイムゾーン (既定: TZ / システムのタイムゾーン)"),
    ("tejun stats", Help("top"), "各上位リストの行数"),
    ("tejun stats", Help("id_pattern"), "この正規表現に (全体が) 一致するパスの要素も ID として扱います。複数指定可"),
    ("tejun stats", Help("no_templates"), "ID を :id に置き換えず、書かれたとおりのパスで数えます"),
    ("tejun stats", Help("json"), "機械可読な出力"),
    ("tejun stats", Help("html"), "グラフ付きの自己完結した HTML ページも書き出します"),
    ("tejun stats", Help("baseline"), "各時間窓を前の日々 (7d) の同じ時刻と比べ、p95 が上がったエンドポイント (stats) やフィンガープリント (digest) を報告します"),
    ("tejun stats", Help("baseline_factor"), "--baseline で: p95 がベースラインの何倍に達したら報告するか"),
    ("tejun stats", Help("baseline_for"), "--baseline で: その状態がどれだけ続いたら報告するか (30m、6h)"),
    ("tejun stats", Help("threads"), "大きな平文ファイルを読むスレッド数 (既定: コア数。1 なら 1 スレッド)"),
    ("tejun digest", About, "スロークエリログをフィンガープリントごとに集計します (pt-query-digest 方式)"),
    ("tejun digest", AfterHelp, "例:
  tejun digest /var/log/mysql/mariadb-slow.log
  tejun digest slow.log.1.gz slow.log --top 20 --redact
  tejun digest postgresql.log --format postgres --json
  tejun digest slow.log --html digest.html
  tejun digest slow.log --since '2026-12-01 09:00' --until '2026-12-01 18:00' --tz Asia/Tokyo
  tejun digest slow.log.2 slow.log.1 slow.log --baseline 7d --window 1h --baseline-for 3h

フィンガープリントは pt-query-digest のものです (--replace-embedded-numbers
を付けない限り --preserve-embedded-numbers 相当)。docs/signals.md を参照。
終了コード: 0 集計した、1 読めないファイルがあった、2 引数の誤り。"),
    ("tejun digest", Help("files"), "スローログ (平文、.gz、または標準入力の -)"),
    ("tejun digest", Help("format"), "ログの種類: auto、mysql (MariaDB も)、postgres"),
    ("tejun digest", Help("top"), "表示するフィンガープリントの数 (合計クエリ時間の順)"),
    ("tejun digest", Help("redact"), "サンプル中のリテラルを `?` に置き換えます"),
    ("tejun digest", Help("index_ratio"), "走査行数が返却行数のこの倍数以上ならインデックス不足の疑いとします"),
    ("tejun digest", Help("index_min_rows"), "…かつ 1 回あたり平均でこの行数以上を走査している場合"),
    ("tejun digest", Help("replace_embedded_numbers"), "pt-query-digest の既定どおり `db1.t2` → `d?t?` にします"),
    ("tejun digest", Help("tz"), "タイムゾーンのないログの日時と、表示する時刻のタイムゾーン (既定: TZ / システムのタイムゾーン)"),
    ("tejun digest", Help("json"), "機械可読な出力"),
    ("tejun digest", Help("html"), "自己完結した HTML ページも書き出します"),
    ("tejun digest", Help("since"), "この時刻以降のクエリだけ (RFC 3339、--tz での 'YYYY-MM-DD HH:MM[:SS]'、または 2h のような経過時間)"),
    ("tejun digest", Help("until"), "この時刻以前のクエリだけ"),
    ("tejun digest", Help("threads"), "大きな平文ファイルを読むスレッド数 (既定: コア数。1 なら 1 スレッド)"),
    ("tejun digest", Help("window"), "--baseline で: 時間窓の長さ (10m、1h など)"),
    ("tejun digest", Help("baseline"), "各時間窓を前の日々 (7d) の同じ時刻と比べ、p95 が上がったフィンガープリントを報告します"),
    ("tejun digest", Help("baseline_factor"), "--baseline で: p95 がベースラインの何倍に達したら報告するか"),
    ("tejun digest", Help("baseline_for"), "--baseline で: その状態がどれだけ続いたら報告するか (30m、6h)"),
    ("tejun collect", Help("access_log"), "web レイヤーで: インシデントの時間帯 (影響開始の 10 分前から解決まで) のこのアクセスログの統計"),
    ("tejun collect", Help("access_format"), "アクセスログの nginx log_format (既定: combined)"),
    ("tejun collect", Help("slow_log"), "mysql レイヤーで: その時間帯のこのスローログの集計 (上位 10 件)"),
    ("tejun incident show", Help("id"), "インシデント: その ID、または一意な先頭部分 (`tejun incident list`)"),
    ("tejun incident status", Help("id"), "インシデント: その ID、または一意な先頭部分 (`tejun incident list`)"),
    ("tejun incident role", Help("id"), "インシデント: その ID、または一意な先頭部分 (`tejun incident list`)"),
    ("tejun incident role", Help("role"), "commander、scribe、comms、responder のいずれか"),
    ("tejun incident role", Help("name"), "その役割を担う人"),
    ("tejun incident note", Help("id"), "インシデント: その ID、または一意な先頭部分 (`tejun incident list`)"),
    ("tejun incident note", Help("text"), "メモ"),
    ("tejun incident hypothesis", Help("id"), "インシデント: その ID、または一意な先頭部分 (`tejun incident list`)"),
    ("tejun incident hypothesis", Help("text"), "仮説 (文で)"),
    ("tejun incident verdict", Help("hypothesis"), "`incident hypothesis` が表示した仮説 ID"),
    ("tejun incident verdict", Help("verdict"), "confirmed または rejected"),
    ("tejun incident cause", Help("id"), "インシデント: その ID、または一意な先頭部分 (`tejun incident list`)"),
    ("tejun incident severity", Help("id"), "インシデント: その ID、または一意な先頭部分 (`tejun incident list`)"),
    ("tejun incident severity", Help("severity"), "新しい重大度 (P0〜P3、またはインベントリの定義)"),
    ("tejun incident impact", Help("id"), "インシデント: その ID、または一意な先頭部分 (`tejun incident list`)"),
    ("tejun incident impact", Help("text"), "誰に何の影響があるか (文で)"),
    ("tejun incident lesson", Help("id"), "インシデント: その ID、または一意な先頭部分 (`tejun incident list`)"),
    ("tejun incident lesson", Help("text"), "教訓 (文で)"),
    ("tejun incident action", Help("id"), "インシデント: その ID、または一意な先頭部分 (`tejun incident list`)"),
    ("tejun incident action", Help("text"), "対策 (文で)"),
    ("tejun incident action-status", Help("id"), "インシデント: その ID、または一意な先頭部分 (`tejun incident list`)"),
    ("tejun incident action-status", Help("number"), "`incident actions` が表示する対策の番号"),
    ("tejun incident detach", Help("id"), "インシデント: その ID、または一意な先頭部分 (`tejun incident list`)"),
    ("tejun incident detach", Help("run"), "タイムラインから外す実行 ID"),
    ("tejun completions", Help("shell"), "bash、zsh、fish、elvish、powershell のいずれか"),
];
