//! `perkgate webhooks …`: endpoints from the command line, audited as the console's are.

use std::process::ExitCode;

use super::{endpoints, parse_events};
use crate::admin::audit;
use crate::cli::{failed, prepare};
use crate::config::WebhookSettings;
use crate::db::{self, Db};

pub fn run(args: &[&str]) -> ExitCode {
    match args {
        ["add", url, "--events", events] | ["add", "--events", events, url] => {
            let events = match parse_events(events) {
                Ok(e) => e,
                Err(why) => {
                    eprintln!("perkgate: --events: {why}");
                    return ExitCode::from(2);
                }
            };
            let url = url.to_string();
            with_db(move |db, settings| {
                Box::pin(async move { add(db, settings, &url, &events).await })
            })
        }
        ["list"] => with_db(|db, _| Box::pin(list(db))),
        [command @ ("remove" | "rotate" | "enable" | "disable"), id] => {
            let Ok(id) = id.parse::<i64>() else {
                eprintln!(
                    "perkgate: expected an endpoint id (see `perkgate webhooks list`), got {id:?}"
                );
                return ExitCode::from(2);
            };
            let command = command.to_string();
            with_db(move |db, settings| Box::pin(change(db, settings, command, id)))
        }
        _ => {
            eprintln!("perkgate: unrecognised command\n\n{}", crate::cli::USAGE);
            ExitCode::from(2)
        }
    }
}

type Future<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = ExitCode> + 'a>>;

fn with_db(f: impl for<'a> FnOnce(&'a Db, &'a WebhookSettings) -> Future<'a>) -> ExitCode {
    let (config, runtime) = match prepare() {
        Ok(ready) => ready,
        Err(code) => return code,
    };
    runtime.block_on(async {
        match db::connect(&config.database_url).await {
            Ok(db) => f(&db, &config.webhooks).await,
            Err(e) => failed(e),
        }
    })
}

async fn add(
    db: &Db,
    settings: &WebhookSettings,
    url: &str,
    events: &[super::EventType],
) -> ExitCode {
    let now = crate::clock::now();
    let (endpoint, secret) =
        match endpoints::create(db, settings, url, events, audit::CLI, now).await {
            Ok(made) => made,
            Err(e) => return failed(e),
        };
    let names = events
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let details = format!("endpoint {} {} ({names})", endpoint.id, endpoint.url);
    if let Err(e) = audit::record(db, audit::CLI, "", "webhook endpoint added", &details, now).await
    {
        return failed(e);
    }
    println!(
        "added webhook endpoint {} for {names}; its signing secret is shown only now:\n{secret}",
        endpoint.id
    );
    ExitCode::SUCCESS
}

async fn list(db: &Db) -> ExitCode {
    let all = match endpoints::list(db).await {
        Ok(all) => all,
        Err(e) => return failed(e),
    };
    println!("{:<5} {:<9} {:<58} url", "id", "state", "events");
    for e in all {
        let events = e
            .events
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let state = if e.enabled { "enabled" } else { "disabled" };
        println!("{:<5} {:<9} {:<58} {}", e.id, state, events, e.url);
        if let Some(why) = e.disabled_reason.filter(|_| !e.enabled) {
            println!("      disabled: {why}");
        }
    }
    ExitCode::SUCCESS
}

async fn change(db: &Db, settings: &WebhookSettings, command: String, id: i64) -> ExitCode {
    let now = crate::clock::now();
    let done = match command.as_str() {
        "remove" => endpoints::remove(db, id)
            .await
            .map(|found| found.then(String::new)),
        "rotate" => endpoints::rotate(db, id, settings.rotation_grace, now).await,
        "enable" => endpoints::set_enabled(db, id, true, "", now)
            .await
            .map(|found| found.then(String::new)),
        _ => endpoints::set_enabled(db, id, false, "disabled from the command line", now)
            .await
            .map(|found| found.then(String::new)),
    };
    let secret = match done {
        Ok(Some(secret)) => secret,
        Ok(None) => return failed(format!("no webhook endpoint {id}")),
        Err(e) => return failed(e),
    };
    let action = match command.as_str() {
        "remove" => "webhook endpoint removed",
        "rotate" => "webhook secret rotated",
        "enable" => "webhook endpoint enabled",
        _ => "webhook endpoint disabled",
    };
    let details = format!("endpoint {id}");
    if let Err(e) = audit::record(db, audit::CLI, "", action, &details, now).await {
        return failed(e);
    }
    if command == "rotate" {
        let hours = settings.rotation_grace.as_secs() / 3600;
        println!(
            "rotated the secret of webhook endpoint {id}; the previous one also signs for {hours} \
             more hours. The new secret is shown only now:\n{secret}"
        );
    } else {
        println!("{action}: {id}");
    }
    ExitCode::SUCCESS
}
