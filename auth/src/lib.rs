//! Auth: users, roles and sessions. Every change is an event on the JetStream `AUTH` stream;
//! Postgres holds projections rebuilt from it, and access tokens are EdDSA JWTs.
//!
//! Imports run one way: `routes` (HTTP) → the domain modules (`users`, `user_admin`,
//! `sessions`, `projects`, `keys`, `api_keys`, `insights`, `dashboards`, `shares`, `quota`,
//! `retention`, `history`, `password_resets`, `bootstrap`, `last_admin`, …) → `state`, `store`, `projector` and `contract`. Only this file
//! puts handlers on paths.

mod analysts;
mod annotations;
mod api_keys;
pub mod bench;
mod bootstrap;
mod config;
mod dashboards;
pub mod email;
mod error;
mod extract;
mod history;
mod insight_checks;
mod insights;
mod invites;
mod key_usage;
mod keys;
mod last_admin;
pub mod limits;
mod members;
mod openapi;
mod password_resets;
mod passwords;
pub mod projector;
mod projects;
mod quota;
pub mod rebuild;
mod retention;
mod routes;
mod sessions;
mod shares;
pub mod signing;
mod state;
mod store;
pub mod tokens;
mod user_admin;
mod users;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{delete, get, patch, post, put};
use plumbing::config::PostgresConfig;
use plumbing::health::Health;
use plumbing::metrics::Metrics;
use plumbing::startup::{Done, spawn_until_ok};
use plumbing::streams::{Definitions, JetStream};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::net::TcpListener;

pub use crate::config::{Config, KeySource};
use crate::routes::{account, jwks, projects as project_routes, session, users as user_routes};
use crate::state::AppState;
use crate::store::Publisher;

/// Service name, in logs, metric names and `/readyz`.
pub const SERVICE: &str = "auth";

/// The Postgres migrations of the projections.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A pool that connects lazily, so auth starts (and reports "not ready") while Postgres is down.
pub fn pool(config: &PostgresConfig) -> PgPool {
    let options = PgConnectOptions::new()
        .host(&config.host)
        .port(config.port)
        .database(&config.database)
        .username(&config.user)
        .password(config.password.expose());
    PgPoolOptions::new()
        .max_connections(10)
        .acquire_timeout(Duration::from_secs(3))
        .connect_lazy_with(options)
}

/// Runs auth until `shutdown` completes.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let keys = config.keys.load()?;
    let metrics = Arc::new(Metrics::new(SERVICE));
    let logins = plumbing::metrics::counter_family("result", &["success", "failure", "locked"]);
    metrics.register("logins", "Login attempts, by result", logins.clone());
    let jetstream = JetStream::start(
        &config.nats.url,
        SERVICE,
        Definitions::for_service(plumbing::streams::Service::Auth, config.nats.replicas)?,
    )
    .await?;
    let pool = pool(&config.postgres);
    let migrated = spawn_until_ok("postgres migrations", {
        let pool = pool.clone();
        move || {
            let pool = pool.clone();
            async move { MIGRATOR.run(&pool).await.map_err(anyhow::Error::from) }
        }
    });
    let projection = projector::spawn(
        jetstream.context.clone(),
        pool.clone(),
        config.nats.replicas,
    );
    key_usage::spawn(jetstream.client.clone(), pool.clone());
    let health = Health::new(SERVICE, Arc::clone(&metrics))
        .with_check("nats", jetstream.readiness_check())
        .with_check("postgres", postgres_check(pool.clone(), migrated));
    let publisher = Publisher::new(jetstream.context.clone());
    let state = AppState::new(&config, keys, publisher, pool, projection, logins);
    let health = spawn_bootstrap(&state, config.first_admin.clone(), health);
    plumbing::http::run_service(
        listener,
        router(state),
        health,
        metrics,
        &config.http,
        shutdown,
    )
    .await?;
    Ok(())
}

/// Postgres answers and the migrations are applied.
fn postgres_check(
    pool: PgPool,
    migrated: Done,
) -> impl Fn() -> std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync {
    move || {
        let pool = pool.clone();
        let migrated = migrated.clone();
        Box::pin(async move {
            sqlx::query("SELECT 1")
                .execute(&pool)
                .await
                .map_err(|err| err.to_string())?;
            if migrated.is_done() {
                Ok(())
            } else {
                Err("migrations not applied yet".to_owned())
            }
        })
    }
}

/// Creates the built-in project and the configured first admin in the background, retrying
/// until they exist; auth is ready only then.
fn spawn_bootstrap(
    state: &AppState,
    first_admin: Option<(String, plumbing::config::Secret)>,
    mut health: Health,
) -> Health {
    let builtin_project = spawn_until_ok("built-in project", {
        let state = state.clone();
        move || {
            let state = state.clone();
            async move { bootstrap::builtin_project(&state).await }
        }
    });
    if let Some((email, password)) = first_admin {
        let state = state.clone();
        let first_admin = spawn_until_ok("first admin", move || {
            let state = state.clone();
            let (email, password) = (email.clone(), password.clone());
            async move { bootstrap::first_admin(&state, &email, password.expose()).await }
        });
        // Ready once the configured admin can log in: a client that waits for readiness never
        // spends failed logins (which lock the account) on an admin that does not exist yet.
        health = health.with_check(
            "first_admin",
            first_admin.readiness_check("the first admin is not created yet"),
        );
    }
    let analysts = spawn_until_ok("analysts to project members", {
        let state = state.clone();
        move || {
            let state = state.clone();
            async move { analysts::migrate(&state).await }
        }
    });
    health
        .with_check(
            "builtin_project",
            builtin_project.readiness_check("the built-in project is not created yet"),
        )
        .with_check(
            "analysts_migrated",
            analysts.readiness_check("global analysts are not project members yet"),
        )
}

/// Every route of auth, and its OpenAPI document at `/openapi.json`.
fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/auth/register", post(account::register))
        .route("/api/auth/login", post(session::login))
        .route("/api/auth/refresh", post(session::refresh))
        .route("/api/auth/logout", post(session::logout))
        .route("/api/auth/me", get(account::me))
        .route("/api/auth/password", post(account::change_password))
        .route("/.well-known/jwks.json", get(jwks::jwks))
        .route("/api/admin/users", get(user_routes::list_users))
        .route(
            "/api/admin/users/{id}",
            patch(user_routes::update_user).delete(user_routes::erase_user),
        )
        .route(
            "/api/admin/projects",
            post(project_routes::create_project).get(project_routes::list_projects),
        )
        .route("/api/admin/projects/{id}", get(project_routes::get_project))
        .route(
            "/api/admin/projects/{id}/keys",
            post(routes::keys::issue_key),
        )
        .route(
            "/api/admin/projects/{id}/domains",
            put(project_routes::set_domains),
        )
        .route(
            "/api/admin/projects/{id}/quota",
            put(project_routes::set_quota),
        )
        .route(
            "/api/admin/projects/{id}/keys/{key_id}",
            delete(routes::keys::revoke_key),
        )
        .route(
            "/api/auth/projects",
            get(project_routes::list_project_summaries),
        )
        .route(
            "/api/admin/projects/{id}/members",
            get(routes::members::list_members),
        )
        .route(
            "/api/admin/projects/{id}/members/{user_id}",
            put(routes::members::set_member).delete(routes::members::remove_member),
        )
        .route(
            "/api/admin/projects/{id}/invites",
            get(routes::invites::list_invites).post(routes::invites::create_invite),
        )
        .route(
            "/api/admin/projects/{id}/invites/{invite_id}",
            delete(routes::invites::revoke_invite),
        )
        .route(
            "/api/auth/invites/accept",
            post(routes::invites::accept_invite),
        )
        .route(
            "/api/auth/api-keys",
            post(routes::api_keys::create_api_key).get(routes::api_keys::list_api_keys),
        )
        .route(
            "/api/auth/api-keys/{id}",
            delete(routes::api_keys::revoke_api_key),
        )
        .merge(project_work_routes())
        .merge(history_routes())
        .with_state(state)
        .merge(plumbing::http::openapi_route(
            &<openapi::ApiDoc as utoipa::OpenApi>::openapi(),
        ))
}

/// A project's history and own retention, and the password-reset links admins issue.
fn history_routes() -> Router<AppState> {
    use routes::{history, password_resets};
    Router::new()
        .route(
            "/api/admin/projects/{id}/audit",
            get(history::project_audit),
        )
        .route(
            "/api/admin/projects/{id}/retention",
            put(project_routes::set_retention),
        )
        .route(
            "/api/admin/users/{id}/password-reset",
            post(password_resets::issue_password_reset),
        )
        .route(
            "/api/auth/password-reset",
            post(password_resets::reset_password),
        )
}

/// What a project's members share: its notes, insights, dashboards and their shared links.
fn project_work_routes() -> Router<AppState> {
    use routes::{annotations, dashboards, insights, shares};
    Router::new()
        .route(
            "/api/projects/{id}/annotations",
            get(annotations::list_annotations).post(annotations::create_annotation),
        )
        .route(
            "/api/projects/{id}/annotations/{annotation_id}",
            put(annotations::update_annotation).delete(annotations::delete_annotation),
        )
        .route(
            "/api/projects/{id}/insights",
            get(insights::list_insights).post(insights::create_insight),
        )
        .route(
            "/api/projects/{id}/insights/{insight_id}",
            get(insights::get_insight)
                .put(insights::update_insight)
                .delete(insights::delete_insight),
        )
        .route(
            "/api/projects/{id}/dashboards",
            get(dashboards::list_dashboards).post(dashboards::create_dashboard),
        )
        .route(
            "/api/projects/{id}/dashboards/{dashboard_id}",
            get(dashboards::get_dashboard)
                .put(dashboards::update_dashboard)
                .delete(dashboards::delete_dashboard),
        )
        .route(
            "/api/projects/{id}/dashboards/{dashboard_id}/shares",
            get(shares::list_shares).post(shares::create_share),
        )
        .route(
            "/api/projects/{id}/dashboards/{dashboard_id}/shares/{share_id}",
            delete(shares::revoke_share),
        )
}
