//! Builds the service from a `Config`: the binary and the tests share this.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use url::Url;

use crate::config::{Config, Secret, VerifyButton};
use crate::crypto::PersonKeyer;
use crate::db;
use crate::idme::jose::DecryptionKey;
use crate::idme::{Endpoints, IdmeClient};
use crate::rules::watch::RuleSet;
use crate::sandbox::{self, Sandbox};
use crate::session::{Jar, Lifetimes, SessionCookie};
use crate::session_store::Sessions;
use crate::verification::{Verifier, callback_state};
use crate::web::{self, AppState};

/// Why the service did not start. The text says what to fix.
#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

/// A bound, ready-to-serve instance.
pub struct App {
    listener: TcpListener,
    router: Router,
    /// `/metrics` and the detailed `/readyz`, when `PERKGATE_OPS_LISTEN` is set.
    ops: Option<(TcpListener, Router)>,
    connections: crate::serve::Settings,
    state: AppState,
    /// The webhooks' deliverer: stops when serving does (or the app is dropped unserved).
    deliverer: tokio_util::task::AbortOnDropHandle<()>,
}

impl App {
    pub async fn build(config: Config) -> Result<Self, StartError> {
        // One process-wide TLS provider (aws-lc-rs, also our JOSE crypto); a second install is a no-op.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        // jsonwebtoken picks aws-lc-rs from its features alone; installing it explicitly keeps
        // that true should another crate ever turn on its RustCrypto backend as well.
        let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
            &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER,
        );
        crate::metrics::install();
        let db = db::connect(&config.database_url)
            .await
            .map_err(StartError)?;
        // The file named by PERKGATE_RULES, else the database's live version.
        let rules: Arc<RuleSet> = Arc::new(
            crate::rules::live::open(&config, &db)
                .await
                .map_err(StartError)?,
        );
        let store = Sessions::open(config.session_url.as_deref(), &db)
            .await
            .map_err(StartError)?;
        let secret = db::person_key_secret(&db)
            .await
            .map_err(|e| StartError(format!("cannot read the person key secret: {e}")))?;

        let listener = crate::serve::bind(config.listen).map_err(|e| {
            StartError(format!(
                "PERKGATE_LISTEN: cannot bind {}: {e}",
                config.listen
            ))
        })?;
        let ops =
            match config.ops_listen {
                Some(at) => Some(crate::serve::bind(at).map_err(|e| {
                    StartError(format!("PERKGATE_OPS_LISTEN: cannot bind {at}: {e}"))
                })?),
                None => None,
            };
        let connections = crate::serve::Settings::at_start_up(
            &config.connections,
            &config.rate_limit.trusted_proxies,
        );
        let addr = listener
            .local_addr()
            .map_err(|e| StartError(format!("cannot read the bound address: {e}")))?;
        let loopback = reachable(addr);
        let public_url = match &config.public_url {
            Some(url) => url.clone(),
            None => Url::parse(&format!("http://{loopback}"))
                .map_err(|e| StartError(format!("PERKGATE_PUBLIC_URL: {e}")))?,
        };
        let redirect_uri = join(&public_url, "/auth/idme/callback")?;

        // Signed and encrypted payloads: the merchant's key (never logged), else for an
        // encrypting sandbox one of its own; the sandbox encrypts to its public half.
        let payload = &config.idme.payload;
        let mut decryption_key = match &payload.decryption_key {
            Some(path) => Some(read_decryption_key(path)?),
            None => None,
        };
        if config.idme.url.is_none()
            && decryption_key.is_none()
            && matches!(payload.sandbox, sandbox::SandboxPayload::Encrypted(_))
        {
            decryption_key = Some(
                DecryptionKey::generate()
                    .map_err(|e| StartError(format!("sandbox encryption key: {e}")))?,
            );
        }

        let (mut endpoints, groups, client_id, client_secret, sandbox) = match &config.idme.url {
            Some(url) => (
                Endpoints::under(url, url)
                    .map_err(|e| StartError(format!("PERKGATE_IDME_URL: {e}")))?,
                config.groups_url(),
                config.idme.client_id.clone().unwrap_or_default(),
                config.idme.client_secret.clone().unwrap_or(Secret::new("")),
                None,
            ),
            None => {
                let browser = join(&public_url, sandbox::PATH)?;
                let server = Url::parse(&format!("http://{loopback}{}", sandbox::PATH))
                    .map_err(|e| StartError(format!("sandbox URL: {e}")))?;
                let recipient = decryption_key
                    .as_ref()
                    .map(|k| sandbox::keys::RecipientKey::from_spki_der(k.public_key_der()))
                    .transpose()
                    .map_err(|e| StartError(format!("sandbox encryption key: {e}")))?;
                let sandbox = Arc::new(
                    Sandbox::new(redirect_uri.to_string())
                        .with_payload(payload.sandbox, format!("{server}/oidc"), recipient)
                        .map_err(|e| StartError(format!("PERKGATE_SANDBOX_PAYLOAD: {e}")))?,
                );
                (
                    Endpoints::under(&browser, &server)
                        .map_err(|e| StartError(format!("sandbox URL: {e}")))?,
                    // The sandbox emulates the groups endpoint too (pick a community, then a
                    // persona); its store still defaults to a button per community, like
                    // ID.me's own sandbox, which has none.
                    Some(join(&browser, "/groups")?),
                    sandbox.client_id.clone(),
                    sandbox.client_secret.clone(),
                    Some(sandbox),
                )
            }
        };
        if let Some(url) = &payload.jwks_url {
            endpoints.jwks = url.clone();
        }
        let unified = config
            .verify_button
            .unwrap_or(if groups.is_some() && sandbox.is_none() {
                VerifyButton::Unified
            } else {
                VerifyButton::PerGroup
            })
            == VerifyButton::Unified;
        // The browser is sent to these origins after a verify form (the CSP's form-action).
        let mut idme_origin = endpoints.authorize.origin().ascii_serialization();
        if let Some(groups) = groups.as_ref().filter(|_| unified) {
            let origin = groups.origin().ascii_serialization();
            if origin != idme_origin {
                idme_origin = format!("{idme_origin} {origin}");
            }
        }
        let idme = IdmeClient::new(
            &config.idme,
            endpoints,
            &client_id,
            &client_secret,
            redirect_uri,
            groups.filter(|_| unified),
            decryption_key,
        )
        .map_err(|e| StartError(format!("cannot build the HTTP client: {e}")))?;

        let https = public_url.scheme() == "https";
        let cached =
            crate::session_store::CachedSessions::new(store.clone(), config.session.read_cache);
        let cookie = SessionCookie::new(https, config.session.idle);
        let sessions = cookie.layer(cached.clone());

        let verifier = Verifier {
            idme,
            db: db.clone(),
            rules: rules.clone(),
            keyer: PersonKeyer::new(secret.clone()),
            levels: crate::rewards::PoolLevels::default(),
            lifetimes: Lifetimes {
                idle_secs: config.session.idle.as_secs() as i64,
                absolute_secs: config.session.absolute.as_secs() as i64,
            },
            jar: Jar::new(cached, cookie),
            auth_timeout: config.session.auth_timeout,
            // The first request's two ID.me calls, at their longest.
            idme_budget: (config.idme.timeout + config.idme.connect_timeout) * 2
                + Duration::from_secs(1),
            tasks: tokio_util::task::TaskTracker::new(),
            counts: crate::stats::Counts::default(),
        };
        // What a crash left running would otherwise keep its shopper's retries waiting.
        match callback_state::abandon_unfinished(&db, verifier.stale_after()).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(states = n, "callbacks left unfinished marked abandoned"),
            Err(e) => tracing::warn!(error = %e, "could not mark unfinished callbacks"),
        }
        // The console's first owner: a one-time link while no account can sign in yet.
        match crate::admin::bootstrap(&db, &config.admin.email, &public_url, crate::clock::now())
            .await
        {
            Ok(Some(link)) => tracing::warn!(
                link = %link,
                "no merchant console account can sign in yet: open this one-time link (valid \
                 30 minutes, one use) to set the first owner's password"
            ),
            Ok(None) => {}
            Err(e) => return Err(StartError(format!("merchant console accounts: {e}"))),
        }
        let (config_admin, public_url_console) = (config.admin.clone(), public_url.clone());
        let trusted_proxies = config.rate_limit.trusted_proxies.clone();
        let returns = config.returns().map_err(|e| StartError(e.0))?;
        let looks = web::look::Looks::new(
            config.store.clone(),
            returns,
            sandbox.is_some(),
            public_url.clone(),
            idme_origin.clone(),
        );
        // The message catalogs, parsed now rather than on the first shopper's page.
        crate::i18n::load();
        let templates = Arc::new(
            web::templates::Templates::open(config.templates.as_deref()).map_err(StartError)?,
        );
        tokio::spawn(templates.clone().watch());
        let state = AppState::new(web::Inner {
            config,
            public_url,
            idme_origin,
            rules: rules.clone(),
            db: db.clone(),
            sessions: store.clone(),
            forms: web::csrf::AnonymousForms::new(&secret, https),
            verifier: Arc::new(verifier),
            unified,
            sandbox,
            offer_cards: web::OfferCards::default(),
            looks,
            templates,
            console: web::admin::Console::new(
                &secret,
                &config_admin,
                public_url_console,
                web::limits::ClientIp::new(trusted_proxies),
            ),
            dashboard: Default::default(),
        });
        let levels = state.verifier.levels.clone();
        crate::rewards::seed_pools(&db, &rules.get()).await;
        levels.refresh(&db, &rules.get()).await;
        tokio::spawn(housekeeping(
            store,
            db.clone(),
            rules.clone(),
            levels.clone(),
            state.console.lifetimes,
            state.config.admin.audit_retention_days,
        ));
        let (poll, version_poll) = (state.config.rules_poll, state.config.rules_version_poll);
        let follow_db = db.clone();
        tokio::spawn(crate::rules::live::follow(
            rules,
            follow_db,
            poll,
            version_poll,
            move |rules| {
                let (db, levels) = (db.clone(), levels.clone());
                async move {
                    crate::rewards::seed_pools(&db, &rules).await;
                    levels.refresh(&db, &rules).await;
                }
            },
        ));
        tokio::spawn((state.verifier.counts.clone()).keep_flushing(state.verifier.db.clone()));
        let deliverer = crate::webhooks::deliver::Deliverer::new(
            state.verifier.db.clone(),
            state.config.webhooks.clone(),
        )
        .map_err(|e| StartError(format!("cannot build the webhooks' HTTP client: {e}")))?;
        let deliverer = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(deliverer.run()));
        let (router, pruner) = web::router(state.clone(), sessions);
        let ops = ops.map(|l| (l, web::ops_router(state.clone())));
        if let Some(pruner) = pruner {
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(60));
                loop {
                    tick.tick().await;
                    pruner.prune();
                }
            });
        }
        Ok(Self {
            listener,
            router,
            ops,
            connections,
            state,
            deliverer,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        // The listener was bound in `build`, which already read its address once.
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The ops listener's address, when there is one.
    pub fn ops_addr(&self) -> Option<SocketAddr> {
        self.ops.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then finishes the requests in flight.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        tracing::info!(
            listen = %self.local_addr(),
            ops_listen = ?self.ops_addr(),
            max_connections = self.connections.max,
            max_connections_per_address = self.connections.max_per_address,
            public_url = %self.state.public_url,
            sandbox = self.state.sandbox.is_some(),
            offers = self.state.rules().offers.len(),
            rules = %self.state.rules.source.name(),
            "perkgate ready"
        );
        let mut listeners = vec![crate::serve::Listener {
            name: "main",
            listener: self.listener,
            router: self.router,
            max_connections: self.connections.max,
        }];
        if let Some((listener, router)) = self.ops {
            listeners.push(crate::serve::Listener {
                name: "ops",
                listener,
                router,
                max_connections: crate::serve::OPS_MAX_CONNECTIONS.min(self.connections.max),
            });
        }
        let tasks = self.state.verifier.tasks.clone();
        let deliverer = self.deliverer;
        let served = crate::serve::serve(listeners, self.connections, shutdown).await;
        // Deliveries in flight finish in their own tasks; what was not started waits for the
        // next start (or another instance).
        drop(deliverer);
        // A callback whose shopper's connection dropped still runs in a task of its own:
        // finish it (the caller bounds this with the shutdown grace period) rather than
        // leave its state to be found abandoned.
        tasks.close();
        if !tasks.is_empty() {
            tracing::info!(
                callbacks = tasks.len(),
                "waiting for callbacks still answering"
            );
        }
        tasks.wait().await;
        // The counts of the last interval, callbacks included.
        let verifier = &self.state.verifier;
        if let Err(e) = verifier.counts.flush(&verifier.db).await {
            tracing::warn!(error = %e, "could not add the dashboard's last counts");
        }
        served
    }
}

/// Every minute: deletes expired sessions, old callback states and audit entries past their
/// retention, and recounts the pools (codes imported by the CLI or claimed on another instance).
async fn housekeeping(
    store: Sessions,
    db: crate::db::Db,
    rules: Arc<RuleSet>,
    levels: crate::rewards::PoolLevels,
    console: crate::admin::session::Lifetimes,
    audit_retention_days: u64,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        levels.refresh(&db, &rules.get()).await;
        if let Err(e) = store.delete_expired().await {
            tracing::warn!(error = %e, "could not delete expired sessions");
        }
        if let Err(e) = callback_state::prune(&db).await {
            tracing::warn!(error = %e, "could not prune callback states");
        }
        let now = crate::clock::now();
        let pruned = crate::admin::session::prune(&db, now, console).await;
        if let Err(e) = pruned.and(crate::admin::throttle::prune(&db, crate::clock::now_ms()).await)
        {
            tracing::warn!(error = %e, "could not prune console sessions");
        }
        if let Err(e) = crate::rewards::redemptions::prune_idempotency(&db, now).await {
            tracing::warn!(error = %e, "could not forget expired Idempotency-Key answers");
        }
        match crate::admin::audit::prune(&db, now, audit_retention_days).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(entries = n, "audit log entries past retention deleted"),
            Err(e) => tracing::warn!(error = %e, "could not prune the audit log"),
        }
    }
}

/// Reads `PERKGATE_IDME_DECRYPTION_KEY`'s file. The errors name the setting and the path,
/// never the file's content.
fn read_decryption_key(path: &std::path::Path) -> Result<DecryptionKey, StartError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        StartError(format!(
            "PERKGATE_IDME_DECRYPTION_KEY: cannot read {}: {e}",
            path.display()
        ))
    })?;
    DecryptionKey::from_pem(&text).map_err(|why| {
        StartError(format!(
            "PERKGATE_IDME_DECRYPTION_KEY: {}: {why}",
            path.display()
        ))
    })
}

/// An address this process can call itself on: a wildcard bind is reached on loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}

fn join(base: &Url, path: &str) -> Result<Url, StartError> {
    Url::parse(&format!("{}{path}", base.as_str().trim_end_matches('/')))
        .map_err(|e| StartError(format!("PERKGATE_PUBLIC_URL: {e}")))
}
