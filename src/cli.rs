//! The command line besides `serve`: checking and explaining rules, managing code pools.
//! Each command returns its exit status; output goes to stdout, problems to stderr.

use std::path::Path;
use std::process::ExitCode;

use crate::rules::explain::{AttributesError, explain, facts_from_json, parse_time};
use crate::rules::{Rules, live, parse};
use crate::{Config, db, rewards};

pub const USAGE: &str = "\
usage:
  perkgate [serve]                                  run the service
  perkgate rules check FILE                         validate a rules file; lists every problem
  perkgate rules eval FILE ATTRIBUTES.json [--at TIME]
                                                    which offer applies to these ID.me attributes, and why not the others
  perkgate rules export [--version N]               print the live rules document (or version N) to stdout
  perkgate rules import FILE [--note TEXT]          validate FILE like `rules check`, then publish it as a new version
  perkgate codes import POOL FILE.csv               add single-use codes to a pool (duplicates skipped)
  perkgate codes status                             codes left per pool, unlocks per offer
  perkgate codes redeemed FILE.csv                  mark codes as used at checkout
  perkgate admin add EMAIL --role owner|editor|viewer
                                                    add a console account; prints its one-time set-password link
  perkgate admin list                               console accounts, roles, password and 2FA state
  perkgate admin remove EMAIL                       remove a console account (and end its sessions)
  perkgate admin reset EMAIL                        clear its password and 2FA, end its sessions; prints a new link
  perkgate keys add NAME --scope read|redeem        make a merchant API key; prints it once
  perkgate keys list                                merchant API keys: name, scope, prefix, last use
  perkgate keys revoke ID|NAME                      revoke a merchant API key at once
  perkgate webhooks add URL --events TYPE,TYPE…     register a webhook endpoint; prints its secret once
                                                    (benefit.unlocked, code.redeemed, pool.low, pool.empty, rules.published)
  perkgate webhooks list                            endpoints: id, state, events, URL
  perkgate webhooks rotate ID                       a new signing secret (the old one signs a day longer); prints it once
  perkgate webhooks enable|disable ID               resume (retrying what is pending) or pause an endpoint
  perkgate webhooks remove ID                       delete an endpoint and its delivery log

Configuration comes from PERKGATE_* environment variables and an optional perkgate.toml;
see the README for the table. TIME is 2026-12-31 or 2026-12-31T12:00:00Z.";

pub fn run(args: &[String]) -> ExitCode {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["rules", "check", file] => rules_check(file),
        ["rules", "eval", file, attributes] => rules_eval(file, attributes, None),
        ["rules", "eval", file, attributes, "--at", at] => rules_eval(file, attributes, Some(at)),
        ["rules", "export"] => with_db(|db, _, mode| Box::pin(rules_export(db, mode, None))),
        ["rules", "export", "--version", n] => {
            let Ok(n) = n.parse::<i64>() else {
                eprintln!("perkgate: --version: expected a version number, got {n:?}");
                return ExitCode::from(2);
            };
            with_db(move |db, _, mode| Box::pin(rules_export(db, mode, Some(n))))
        }
        ["rules", "import", file] => {
            with_db(|db, _, mode| Box::pin(rules_import(db, mode, file.to_string(), None)))
        }
        ["rules", "import", file, "--note", note] | ["rules", "import", "--note", note, file] => {
            with_db(|db, _, mode| {
                Box::pin(rules_import(
                    db,
                    mode,
                    file.to_string(),
                    Some(note.to_string()),
                ))
            })
        }
        ["codes", "import", pool, file] => with_db(|db, rules, _| {
            Box::pin(codes_import(db, rules, pool.to_string(), file.to_string()))
        }),
        ["codes", "status"] => with_db(|db, rules, _| Box::pin(codes_status(db, rules))),
        ["codes", "redeemed", file] => {
            with_db(|db, _, _| Box::pin(codes_redeemed(db, file.to_string())))
        }
        ["admin", "add", email, "--role", role] | ["admin", "add", "--role", role, email] => {
            let Some(role) = crate::admin::Role::parse(role) else {
                eprintln!("perkgate: --role: expected owner, editor or viewer, got {role:?}");
                return ExitCode::from(2);
            };
            with_console(|db, url| Box::pin(admin_add(db, url, email.to_string(), role)))
        }
        ["admin", "list"] => with_console(|db, _| Box::pin(admin_list(db))),
        ["admin", "remove", email] => {
            with_console(|db, _| Box::pin(admin_remove(db, email.to_string())))
        }
        ["admin", "reset", email] => {
            with_console(|db, url| Box::pin(admin_reset(db, url, email.to_string())))
        }
        ["keys", "add", name, "--scope", scope] | ["keys", "add", "--scope", scope, name] => {
            let Some(scope) = crate::admin::api_keys::Scope::parse(scope) else {
                eprintln!("perkgate: --scope: expected read or redeem, got {scope:?}");
                return ExitCode::from(2);
            };
            with_console(|db, _| Box::pin(keys_add(db, name.to_string(), scope)))
        }
        ["keys", "list"] => with_console(|db, _| Box::pin(keys_list(db))),
        ["keys", "revoke", which] => {
            with_console(|db, _| Box::pin(keys_revoke(db, which.to_string())))
        }
        ["webhooks", rest @ ..] => crate::webhooks::cli::run(rest),
        ["-h" | "--help" | "help"] => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("perkgate: unrecognised command\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn load_rules(file: &str) -> Result<(Rules, Vec<String>), Vec<String>> {
    let text =
        std::fs::read_to_string(file).map_err(|e| vec![format!("{file}: cannot read: {e}")])?;
    let loaded = parse(file, &text, Path::new(file).parent())
        .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    Ok((
        loaded.rules,
        loaded.warnings.iter().map(ToString::to_string).collect(),
    ))
}

fn rules_check(file: &str) -> ExitCode {
    match load_rules(file) {
        Ok((rules, warnings)) => {
            for w in &warnings {
                println!("warning: {w}");
            }
            let pools = rules.pools.len();
            println!("{file}: OK, {} offers, {pools} pools", rules.offers.len());
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            eprintln!("{file}: {} error(s)", errors.len());
            ExitCode::FAILURE
        }
    }
}

fn rules_eval(file: &str, attributes: &str, at: Option<&str>) -> ExitCode {
    // Usage errors first: they do not depend on the files.
    let at = match at.map(parse_time) {
        None => crate::clock::now(),
        Some(Some(t)) => t,
        Some(None) => {
            eprintln!("perkgate: --at: expected 2026-12-31 or 2026-12-31T12:00:00Z");
            return ExitCode::from(2);
        }
    };
    let rules = match load_rules(file) {
        Ok((rules, warnings)) => {
            for w in &warnings {
                eprintln!("warning: {w}");
            }
            rules
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            eprintln!("{file}: {} error(s)", errors.len());
            return ExitCode::FAILURE;
        }
    };
    let facts = match std::fs::read(attributes) {
        Err(e) => Err(format!("cannot read: {e}")),
        Ok(b) => facts_from_json(&b).map_err(|e| match e {
            AttributesError::Jwt => "the attributes payload is a JWT (signed or encrypted): \
                                     `rules eval` reads the plain JSON attributes object"
                .to_owned(),
            e => e.to_string(),
        }),
    };
    match facts {
        Ok(facts) => {
            print!("{}", explain(&rules, &facts, at));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{attributes}: {e}");
            ExitCode::FAILURE
        }
    }
}

type CliFuture<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = ExitCode> + 'a>>;

/// The configuration and a runtime, for a command that uses the database.
pub(crate) fn prepare() -> Result<(Config, tokio::runtime::Runtime), ExitCode> {
    let config = Config::from_env().map_err(|e| {
        eprintln!("perkgate: configuration error: {e}");
        ExitCode::from(2)
    })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(failed)?;
    Ok((config, runtime))
}

/// Opens the configured database and the live rules (the file named by `PERKGATE_RULES`, else
/// the database's live version; for pool names) and runs `f`.
fn with_db(
    f: impl for<'a> FnOnce(&'a db::Db, &'a Rules, &'a live::Mode) -> CliFuture<'a>,
) -> ExitCode {
    let (config, runtime) = match prepare() {
        Ok(ready) => ready,
        Err(code) => return code,
    };
    let mode = live::Mode::of(&config);
    runtime.block_on(async {
        let db = match db::connect(&config.database_url).await {
            Ok(db) => db,
            Err(e) => return failed(e),
        };
        let rules = match live::open(&config, &db).await {
            Ok(set) => set.get(),
            Err(errors) => {
                for e in errors.lines() {
                    eprintln!("error: {e}");
                }
                return ExitCode::FAILURE;
            }
        };
        f(&db, &rules, &mode).await
    })
}

async fn rules_export(db: &db::Db, mode: &live::Mode, version: Option<i64>) -> ExitCode {
    match live::document(db, mode, version).await {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => failed(e),
    }
}

async fn rules_import(
    db: &db::Db,
    mode: &live::Mode,
    file: String,
    note: Option<String>,
) -> ExitCode {
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) => return failed(format!("{file}: cannot read: {e}")),
    };
    let note = note.unwrap_or_else(|| format!("imported from {file}"));
    let published = live::publish(
        db,
        mode,
        live::Publish {
            name: &file,
            document: &text,
            based_on: None,
            author: crate::admin::audit::CLI,
            address: "",
            note: &note,
            action: "rules imported",
        },
    )
    .await;
    match published {
        Ok(p) => {
            let counts = p.diff.lines().next().unwrap_or_default();
            println!("{file}: published as version {} ({counts})", p.version);
            ExitCode::SUCCESS
        }
        Err(live::Refused::Invalid(errors)) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            eprintln!("{file}: {} error(s); nothing published", errors.len());
            ExitCode::FAILURE
        }
        Err(e) => failed(e),
    }
}

async fn codes_import(db: &db::Db, rules: &Rules, pool: String, file: String) -> ExitCode {
    if !rules.pools.contains_key(&pool) {
        eprintln!(
            "warning: no pool {pool:?} in the rules; declare [pools.{pool}] for an offer to use these codes"
        );
    }
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{file}: cannot read: {e}");
            return ExitCode::FAILURE;
        }
    };
    let parsed = rewards::parse_codes(&text);
    if !parsed.rejected.is_empty() {
        for (line, why) in &parsed.rejected {
            eprintln!("{file}:{line}: {why}");
        }
        eprintln!(
            "{file}: {} malformed line(s); nothing imported",
            parsed.rejected.len()
        );
        return ExitCode::FAILURE;
    }
    match rewards::import(db, &pool, &parsed.codes, crate::clock::now()).await {
        Ok((added, skipped)) => {
            let left = rewards::remaining(db, &pool).await.unwrap_or(0);
            println!(
                "{pool}: added {added}, skipped {skipped} duplicate(s); {left} code(s) available"
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("perkgate: import failed, nothing imported: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn codes_status(db: &db::Db, rules: &Rules) -> ExitCode {
    let pools = match rewards::pool_status(db).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("perkgate: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("pool                 remaining   issued  low at");
    let mut names: Vec<&str> = rules.pools.keys().map(String::as_str).collect();
    for p in &pools {
        if !names.contains(&p.pool.as_str()) {
            names.push(&p.pool);
        }
    }
    for name in names {
        let (remaining, issued) = pools
            .iter()
            .find(|p| p.pool == name)
            .map_or((0, 0), |p| (p.remaining, p.issued));
        let threshold = rules.pools.get(name).map(|p| p.low_threshold);
        let flag = match threshold {
            Some(t) if remaining <= t => "  LOW",
            None => "  (not in the rules)",
            _ => "",
        };
        println!(
            "{name:<20} {remaining:>9} {issued:>8} {:>7}{flag}",
            threshold.map_or("-".to_owned(), |t| t.to_string())
        );
    }
    if let Ok(unlocks) = rewards::unlock_counts(db).await {
        println!("\noffer                  claimed  re-shown");
        for (offer, claimed, reshown) in unlocks {
            println!("{offer:<22} {claimed:>8} {reshown:>9}");
        }
    }
    ExitCode::SUCCESS
}

async fn codes_redeemed(db: &db::Db, file: String) -> ExitCode {
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{file}: cannot read: {e}");
            return ExitCode::FAILURE;
        }
    };
    let parsed = rewards::parse_codes(&text);
    for (line, why) in &parsed.rejected {
        eprintln!("{file}:{line}: {why}");
    }
    if !parsed.rejected.is_empty() {
        return ExitCode::FAILURE;
    }
    match rewards::mark_redeemed(db, &parsed.codes, crate::clock::now()).await {
        Ok(n) => {
            println!("marked {n} claim(s) as redeemed");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("perkgate: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Opens the configured database for the console's commands, with the public URL their links
/// start with (`PERKGATE_PUBLIC_URL`, else the listen address). The rules are not read.
fn with_console(f: impl for<'a> FnOnce(&'a db::Db, &'a url::Url) -> CliFuture<'a>) -> ExitCode {
    let (config, runtime) = match prepare() {
        Ok(ready) => ready,
        Err(code) => return code,
    };
    let url = match config.public_url.clone() {
        Some(url) => url,
        None => match url::Url::parse(&format!("http://{}", config.listen)) {
            Ok(url) => url,
            Err(e) => {
                eprintln!("perkgate: PERKGATE_PUBLIC_URL: {e}");
                return ExitCode::from(2);
            }
        },
    };
    runtime.block_on(async {
        match db::connect(&config.database_url).await {
            Ok(db) => f(&db, &url).await,
            Err(e) => failed(e),
        }
    })
}

pub(crate) fn failed(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("perkgate: {e}");
    ExitCode::FAILURE
}

async fn find_account(db: &db::Db, email: &str) -> Result<crate::admin::Account, ExitCode> {
    let email = crate::admin::accounts::normalise_email(email).map_err(failed)?;
    match crate::admin::accounts::by_email(db, &email).await {
        Ok(Some(a)) => Ok(a),
        Ok(None) => Err(failed(format!("no console account {email}"))),
        Err(e) => Err(failed(e)),
    }
}

async fn admin_add(
    db: &db::Db,
    url: &url::Url,
    email: String,
    role: crate::admin::Role,
) -> ExitCode {
    use crate::admin::{accounts, audit};
    let now = crate::clock::now();
    let account = match accounts::create(db, &email, role, now).await {
        Ok(a) => a,
        Err(e) => return failed(e),
    };
    let token = match accounts::issue_link(db, account.id, now).await {
        Ok(t) => t,
        Err(e) => return failed(e),
    };
    let details = format!("{} ({role})", account.email);
    if let Err(e) = audit::record(db, audit::CLI, "", "account added", &details, now).await {
        return failed(e);
    }
    println!(
        "added {} ({role}); set-password link (one use, valid 30 minutes):\n{}",
        account.email,
        accounts::link_url(url, &token)
    );
    ExitCode::SUCCESS
}

async fn admin_list(db: &db::Db) -> ExitCode {
    let all = match crate::admin::accounts::list(db).await {
        Ok(a) => a,
        Err(e) => return failed(e),
    };
    println!("email                                    role     password  2fa");
    for a in all {
        println!(
            "{:<40} {:<8} {:<9} {}",
            a.email,
            a.role.as_str(),
            if a.password_hash.is_some() {
                "set"
            } else {
                "not set"
            },
            if a.has_2fa() { "on" } else { "off" }
        );
    }
    ExitCode::SUCCESS
}

async fn admin_remove(db: &db::Db, email: String) -> ExitCode {
    use crate::admin::{accounts, audit};
    let account = match find_account(db, &email).await {
        Ok(a) => a,
        Err(code) => return code,
    };
    if let Err(e) = accounts::remove(db, &account).await {
        return failed(e);
    }
    let details = format!("{} ({})", account.email, account.role);
    let now = crate::clock::now();
    if let Err(e) = audit::record(db, audit::CLI, "", "account removed", &details, now).await {
        return failed(e);
    }
    println!("removed {}", account.email);
    ExitCode::SUCCESS
}

async fn admin_reset(db: &db::Db, url: &url::Url, email: String) -> ExitCode {
    use crate::admin::{accounts, audit};
    let account = match find_account(db, &email).await {
        Ok(a) => a,
        Err(code) => return code,
    };
    // From the command line even the last owner may be reset: that is how one gets back in.
    if let Err(e) = accounts::reset(db, &account, true).await {
        return failed(e);
    }
    let now = crate::clock::now();
    let token = match accounts::issue_link(db, account.id, now).await {
        Ok(t) => t,
        Err(e) => return failed(e),
    };
    if let Err(e) = audit::record(db, audit::CLI, "", "account reset", &account.email, now).await {
        return failed(e);
    }
    println!(
        "reset {}: password and 2FA cleared, sessions ended; set-password link (one use, valid 30 minutes):\n{}",
        account.email,
        accounts::link_url(url, &token)
    );
    ExitCode::SUCCESS
}

async fn keys_add(db: &db::Db, name: String, scope: crate::admin::api_keys::Scope) -> ExitCode {
    use crate::admin::{api_keys, audit};
    let now = crate::clock::now();
    let (key, secret) = match api_keys::create(db, &name, scope, audit::CLI, now).await {
        Ok(made) => made,
        Err(e) => return failed(e),
    };
    let details = format!("{} ({scope}, {}…)", key.name, key.prefix);
    if let Err(e) = audit::record(db, audit::CLI, "", "api key added", &details, now).await {
        return failed(e);
    }
    println!(
        "added API key {} ({scope}), id {}; the key is shown only now:\n{secret}",
        key.name, key.id
    );
    ExitCode::SUCCESS
}

async fn keys_list(db: &db::Db) -> ExitCode {
    let all = match crate::admin::api_keys::list(db).await {
        Ok(k) => k,
        Err(e) => return failed(e),
    };
    let when = |at: Option<i64>| {
        at.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
            .and_then(|t| {
                t.format(time::macros::format_description!(
                    "[year]-[month]-[day] [hour]:[minute]"
                ))
                .ok()
            })
            .unwrap_or_else(|| "-".to_owned())
    };
    println!(
        "{:<5} {:<24} {:<7} {:<14} {:<17} {:<17} revoked",
        "id", "name", "scope", "prefix", "created", "last used"
    );
    for k in all {
        println!(
            "{:<5} {:<24} {:<7} {:<14} {:<17} {:<17} {}",
            k.id,
            k.name,
            k.scope.as_str(),
            format!("{}…", k.prefix),
            when(Some(k.created_at)),
            when(k.last_used_at),
            when(k.revoked_at)
        );
    }
    ExitCode::SUCCESS
}

async fn keys_revoke(db: &db::Db, which: String) -> ExitCode {
    use crate::admin::{api_keys, audit};
    let key = match api_keys::find_live(db, &which).await {
        Ok(Some(k)) => k,
        Ok(None) => return failed(format!("no live API key {which:?}")),
        Err(e) => return failed(e),
    };
    let now = crate::clock::now();
    if let Err(e) = api_keys::revoke(db, key.id, now).await {
        return failed(e);
    }
    let details = format!("{} ({}, {}…)", key.name, key.scope, key.prefix);
    if let Err(e) = audit::record(db, audit::CLI, "", "api key revoked", &details, now).await {
        return failed(e);
    }
    println!("revoked API key {} (id {})", key.name, key.id);
    ExitCode::SUCCESS
}
