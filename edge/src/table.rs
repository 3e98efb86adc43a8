//! The routing table: per public path, which service answers, who may call it, how often, and
//! how large a body it takes. Edge's router is built from it and its OpenAPI document marks the
//! limited routes from it.

use axum::http::Method;
use contract::auth::Role;

/// Who answers a route: a service behind edge, or edge itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Upstream {
    Auth,
    Ingest,
    Query,
    /// Edge answers itself (`GET /api/admin/status`, from what it asks the services).
    Edge,
}

impl Upstream {
    /// The services edge forwards to.
    pub(crate) const SERVICES: [Upstream; 3] = [Upstream::Auth, Upstream::Ingest, Upstream::Query];

    /// The largest request body the service reads; edge refuses a larger one itself (see
    /// `crate::body_limit`).
    pub(crate) const fn max_body_bytes(self) -> usize {
        match self {
            Ingest => contract::event::MAX_REQUEST_BYTES,
            Auth | Query | Edge => SERVICE_JSON_BYTES,
        }
    }
}

/// How a route's path matches.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PathMatch {
    Exact(&'static str),
    /// Paths of this shape, each `{name}` one segment of any value (axum's syntax).
    Template(&'static str),
    /// Every path under this one.
    Prefix(&'static str),
}

impl PathMatch {
    /// Whether `path` is of the template `template`. An OpenAPI path (`{id}` segments) is of
    /// its template too.
    fn fits(template: &str, path: &str) -> bool {
        let (mut shape, mut segments) = (template.split('/'), path.split('/'));
        loop {
            match (shape.next(), segments.next()) {
                (None, None) => return true,
                (Some(want), Some(segment)) if want.starts_with('{') && want.ends_with('}') => {
                    if segment.is_empty() {
                        return false;
                    }
                }
                (Some(want), Some(segment)) if want == segment => {}
                _ => return false,
            }
        }
    }
}

/// Who may call a route. The service behind checks the same token again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Anyone; SDK routes carry a write key that ingest checks.
    Public,
    /// A valid access token whose role includes this one.
    Token(Role),
}

/// How often a route may be called, and counted by what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limit {
    Unlimited,
    /// Per client address, and per account named by the body's `email`.
    Credentials,
    /// Per client address.
    Client,
    /// Per user (the token's subject; an API key's own budget; on a public route, the client
    /// address).
    User,
}

/// One row of the routing table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Route {
    pub(crate) path: PathMatch,
    /// Methods the service answers; others get 405 from edge, never reaching it.
    pub(crate) methods: &'static [Method],
    pub(crate) upstream: Upstream,
    pub(crate) access: Access,
    pub(crate) limit: Limit,
    /// A file upload's own body limit, above the service's: for the route's `POST` only.
    pub(crate) upload_bytes: Option<usize>,
}

impl Route {
    /// The largest request body the route takes: an upload's, the service's, or for logins
    /// and registrations what edge reads to find the account they name.
    #[cfg(test)]
    pub(crate) const fn max_body_bytes(&self) -> usize {
        if let Some(bytes) = self.upload_bytes {
            return bytes;
        }
        self.service_body_bytes()
    }

    /// The largest body of a request with `method`: an upload's for the route's `POST`, the
    /// service's for its other methods (`GET /api/imports` is no upload).
    pub(crate) fn body_limit(&self, method: &Method) -> usize {
        match self.upload_bytes {
            Some(bytes) if *method == Method::POST => bytes,
            _ => self.service_body_bytes(),
        }
    }

    /// Whether a request with `method` is an upload: its body may take long to come, and is
    /// cut only when nothing passes for the timeout (see `forward`).
    pub(crate) fn is_upload(&self, method: &Method) -> bool {
        self.upload_bytes.is_some() && *method == Method::POST
    }

    const fn service_body_bytes(&self) -> usize {
        match self.limit {
            Credentials => MAX_CREDENTIALS_BYTES,
            Unlimited | Client | User => self.upstream.max_body_bytes(),
        }
    }

    const fn upload(mut self, bytes: usize) -> Self {
        self.upload_bytes = Some(bytes);
        self
    }
}

const GET: &[Method] = &[Method::GET, Method::HEAD];
const POST: &[Method] = &[Method::POST];
const DELETE: &[Method] = &[Method::DELETE];
/// SDKs in browsers may send a CORS preflight first.
const SDK: &[Method] = &[Method::POST, Method::OPTIONS];
const QUERY: &[Method] = &[Method::GET, Method::HEAD, Method::POST];
const ADMIN: &[Method] = &[
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

use Access::{Public, Token};
use Limit::{Client, Credentials, Unlimited, User};
use PathMatch::{Exact, Prefix, Template};
use Upstream::{Auth, Edge, Ingest, Query};

const fn route(
    path: PathMatch,
    methods: &'static [Method],
    upstream: Upstream,
    access: Access,
    limit: Limit,
) -> Route {
    Route {
        path,
        methods,
        upstream,
        access,
        limit,
        upload_bytes: None,
    }
}

/// `DELETE`: erases a tracked person.
const ERASE_PERSON: &str = "/api/admin/projects/{project_id}/persons/{distinct_id}";
/// `GET`: a tracked person's data.
const EXPORT_PERSON: &str = "/api/admin/projects/{project_id}/persons/{distinct_id}/export";

/// `GET`: a project's members.
const MEMBERS: &str = "/api/admin/projects/{project_id}/members";
/// `PUT`, `DELETE`: one member of a project.
const MEMBER: &str = "/api/admin/projects/{project_id}/members/{user_id}";
/// `POST`: a new write key.
const KEYS: &str = "/api/admin/projects/{project_id}/keys";
/// `DELETE`: a write key revoked.
const KEY: &str = "/api/admin/projects/{project_id}/keys/{key_id}";
/// `PUT`: a project's site domains.
const DOMAINS: &str = "/api/admin/projects/{project_id}/domains";
/// `GET`: one project, with its write keys, domains, quota and retention.
const PROJECT: &str = "/api/admin/projects/{project_id}";
/// `GET`: a project's history.
const AUDIT: &str = "/api/admin/projects/{project_id}/audit";
/// `GET`: one import job.
const IMPORT: &str = "/api/imports/{id}";
/// The largest export file an import takes.
const MAX_IMPORT_BYTES: usize = contract::imports::MAX_IMPORT_BYTES as usize;
/// `PUT`: how many months of a project's events are kept.
const RETENTION: &str = "/api/admin/projects/{project_id}/retention";

/// `GET`, `POST`: a project's pending invites, a new one.
const INVITES: &str = "/api/admin/projects/{project_id}/invites";
/// `DELETE`: an invite withdrawn.
const INVITE: &str = "/api/admin/projects/{project_id}/invites/{invite_id}";
/// `GET`, `POST`: a project's notes.
const ANNOTATIONS: &str = "/api/projects/{project_id}/annotations";
/// `PUT`, `DELETE`: one note.
const ANNOTATION: &str = "/api/projects/{project_id}/annotations/{annotation_id}";
/// `GET`, `POST`: a project's saved insights, a new one.
const INSIGHTS: &str = "/api/projects/{project_id}/insights";
/// `GET`, `PUT`, `DELETE`: one insight.
const INSIGHT: &str = "/api/projects/{project_id}/insights/{insight_id}";
/// `GET`, `POST`: a project's dashboards, a new one.
const DASHBOARDS: &str = "/api/projects/{project_id}/dashboards";
/// `GET`, `PUT`, `DELETE`: one dashboard.
const DASHBOARD: &str = "/api/projects/{project_id}/dashboards/{dashboard_id}";
/// `GET`, `POST`: a dashboard's shared links, a new one.
const SHARES: &str = "/api/projects/{project_id}/dashboards/{dashboard_id}/shares";
/// `DELETE`: a shared link revoked.
const SHARE: &str = "/api/projects/{project_id}/dashboards/{dashboard_id}/shares/{share_id}";
/// `DELETE`: one of the caller's API keys revoked.
const API_KEY: &str = "/api/auth/api-keys/{key_id}";

const PUT: &[Method] = &[Method::PUT];
const LIST_CREATE: &[Method] = &[Method::GET, Method::HEAD, Method::POST];
const MEMBER_METHODS: &[Method] = &[Method::PUT, Method::DELETE];
const READ_WRITE: &[Method] = &[Method::GET, Method::HEAD, Method::PUT, Method::DELETE];

/// The routing table. Other `/api/` paths are 404; everything else is the web app.
#[rustfmt::skip]
pub(crate) const ROUTES: &[Route] = &[
    // Accounts and sessions, and the keys services verify tokens with.
    route(Exact("/api/auth/login"),           POST,  Auth,   Public,                Credentials),
    route(Exact("/api/auth/register"),        POST,  Auth,   Public,                Credentials),
    route(Exact("/api/auth/refresh"),         POST,  Auth,   Public,                Client),
    route(Exact("/api/auth/logout"),          POST,  Auth,   Public,                Unlimited),
    // A new password through an admin's single-use reset link (the person is signed out).
    route(Exact("/api/auth/password-reset"),  POST,  Auth,   Public,                Client),
    route(Exact("/api/auth/me"),              GET,   Auth,   Token(Role::User),     Unlimited),
    route(Exact("/api/auth/password"),        POST,  Auth,   Token(Role::User),     Client),
    route(Exact("/.well-known/jwks.json"),    GET,   Auth,   Public,                Unlimited),
    // The projects a user may read (auth lists their memberships).
    route(Exact("/api/auth/projects"),        GET,   Auth,   Token(Role::User),     User),
    // The invited person, signed in, uses their invite.
    route(Exact("/api/auth/invites/accept"),  POST,  Auth,   Token(Role::User),     User),
    // A user's own API keys for the query API.
    route(Exact("/api/auth/api-keys"),        LIST_CREATE, Auth, Token(Role::User), User),
    route(Template(API_KEY),                  DELETE, Auth,  Token(Role::User),     User),
    // The system status, gathered by edge itself; then the rest of administration.
    route(Exact("/api/admin/status"),         GET,   Edge,   Token(Role::Admin),    Unlimited),
    // A tracked person's erasure and the export of their data: query, which reads ClickHouse
    // and publishes the erasure to PERSONS.
    // Both, and a project's members, keys and domains, are for its admins as well as instance
    // admins: the service checks the caller's role on the project.
    route(Template(ERASE_PERSON),             DELETE, Query, Token(Role::User),     Unlimited),
    route(Template(EXPORT_PERSON),            GET,   Query,  Token(Role::User),     User),
    route(Template(MEMBERS),                  GET,   Auth,   Token(Role::User),     User),
    route(Template(MEMBER),                   MEMBER_METHODS, Auth, Token(Role::User), User),
    route(Template(KEYS),                     POST,  Auth,   Token(Role::User),     User),
    route(Template(KEY),                      DELETE, Auth,  Token(Role::User),     User),
    route(Template(DOMAINS),                  PUT,   Auth,   Token(Role::User),     User),
    route(Template(PROJECT),                  GET,   Auth,   Token(Role::User),     User),
    route(Template(AUDIT),                    GET,   Auth,   Token(Role::User),     User),
    route(Template(RETENTION),                PUT,   Auth,   Token(Role::User),     User),
    route(Template(INVITES),                  LIST_CREATE, Auth, Token(Role::User), User),
    route(Template(INVITE),                   DELETE, Auth,  Token(Role::User),     User),
    route(Prefix("/api/admin/"),              ADMIN, Auth,   Token(Role::Admin),    Unlimited),
    // What a project's members share: auth checks the caller's role on the project.
    route(Template(ANNOTATIONS),              LIST_CREATE, Auth, Token(Role::User), User),
    route(Template(ANNOTATION),               MEMBER_METHODS, Auth, Token(Role::User), User),
    route(Template(INSIGHTS),                 LIST_CREATE, Auth, Token(Role::User), User),
    route(Template(INSIGHT),                  READ_WRITE, Auth, Token(Role::User),  User),
    route(Template(DASHBOARDS),               LIST_CREATE, Auth, Token(Role::User), User),
    route(Template(DASHBOARD),                READ_WRITE, Auth, Token(Role::User),  User),
    route(Template(SHARES),                   LIST_CREATE, Auth, Token(Role::User), User),
    route(Template(SHARE),                    DELETE, Auth,  Token(Role::User),     User),
    // Events: the dashboard's own, then the SDK wire formats (DESIGN.md), limited per write
    // key by ingest.
    route(Exact("/api/events"),               POST,  Ingest, Token(Role::User),     User),
    // Imports of export files (ingest checks the caller is an admin of the project).
    route(Exact("/api/imports"),              LIST_CREATE, Ingest, Token(Role::User), User).upload(MAX_IMPORT_BYTES),
    route(Template(IMPORT),                   GET,   Ingest, Token(Role::User),     User),
    route(Exact("/e"),                        SDK,   Ingest, Public,                Unlimited),
    route(Exact("/e/"),                       SDK,   Ingest, Public,                Unlimited),
    route(Exact("/i/v0/e"),                   SDK,   Ingest, Public,                Unlimited),
    route(Exact("/i/v0/e/"),                  SDK,   Ingest, Public,                Unlimited),
    route(Exact("/capture"),                  SDK,   Ingest, Public,                Unlimited),
    route(Exact("/capture/"),                 SDK,   Ingest, Public,                Unlimited),
    route(Exact("/batch"),                    SDK,   Ingest, Public,                Unlimited),
    route(Exact("/batch/"),                   SDK,   Ingest, Public,                Unlimited),
    route(Prefix("/v1/"),                     SDK,   Ingest, Public,                Unlimited),
    route(Exact("/b"),                        SDK,   Ingest, Public,                Unlimited),
    route(Exact("/api/event"),                SDK,   Ingest, Public,                Unlimited),
    route(Exact("/api/send"),                 SDK,   Ingest, Public,                Unlimited),
    // Analytics, and the pipeline's figures the system status shows.
    route(Exact("/api/query/system"),         GET,   Query,  Token(Role::Admin),    User),
    // Any user's token, or an API key (query checks it); query answers only for the projects
    // they are a member of.
    route(Prefix("/api/query/"),              QUERY, Query,  Token(Role::User),     User),
    // A dashboard shared by a link, for anyone who has it (query checks the link, and its
    // password), limited per client address.
    route(Prefix("/api/shared/"),             GET,   Query,  Public,                User),
];

/// The route of `path`, as the router picks it: an exact path, then a template, then a prefix.
pub(crate) fn route_of(path: &str) -> Option<&'static Route> {
    ROUTES
        .iter()
        .find(|route| matches!(route.path, Exact(exact) if exact == path))
        .or_else(|| {
            ROUTES.iter().find(
                |route| matches!(route.path, Template(template) if PathMatch::fits(template, path)),
            )
        })
        .or_else(|| {
            ROUTES
                .iter()
                .find(|route| matches!(route.path, Prefix(prefix) if path.starts_with(prefix)))
        })
}

/// What the JSON bodies of auth and query may take: axum's default limit, which their
/// extractors keep.
pub(crate) const SERVICE_JSON_BYTES: usize = 2 * 1024 * 1024;

/// The largest body edge reads to find the account a login or registration names.
pub(crate) const MAX_CREDENTIALS_BYTES: usize = 64 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_of_the_design_goes_to_its_service_with_its_access_rule() {
        let rule = |path: &str| route_of(path).map(|route| (route.upstream, route.access));
        for path in [
            "/e/",
            "/i/v0/e/",
            "/capture/",
            "/batch",
            "/v1/track",
            "/v1/batch",
            "/b",
            "/api/event",
            "/api/send",
        ] {
            assert_eq!(rule(path), Some((Ingest, Public)), "{path}");
        }
        assert_eq!(rule("/api/events"), Some((Ingest, Token(Role::User))));
        for path in [
            "/api/auth/login",
            "/api/auth/register",
            "/api/auth/refresh",
            "/.well-known/jwks.json",
        ] {
            assert_eq!(rule(path), Some((Auth, Public)), "{path}");
        }
        assert_eq!(rule("/api/auth/me"), Some((Auth, Token(Role::User))));
        assert_eq!(rule("/api/admin/users"), Some((Auth, Token(Role::Admin))));
        assert_eq!(rule("/api/admin/status"), Some((Edge, Token(Role::Admin))));
        let project = "/api/admin/projects/0190a3e2-7c4d-7000-8000-000000000001";
        for path in [
            format!("{project}/persons/anon-1"),
            format!("{project}/persons/user%2F1/export"),
            ERASE_PERSON.to_owned(),
            EXPORT_PERSON.to_owned(),
        ] {
            assert_eq!(rule(&path), Some((Query, Token(Role::User))), "{path}");
        }
        // A project's own administration: its admins too, as auth checks.
        for path in [
            format!("{project}/keys"),
            format!("{project}/keys/0190a3e2-7c4d-7000-8000-000000000002"),
            format!("{project}/domains"),
            format!("{project}/members"),
            format!("{project}/members/0190a3e2-7c4d-7000-8000-000000000003"),
            format!("{project}/invites"),
            format!("{project}/invites/0190a3e2-7c4d-7000-8000-000000000005"),
            format!("{project}/audit"),
            format!("{project}/retention"),
            project.to_owned(),
        ] {
            assert_eq!(rule(&path), Some((Auth, Token(Role::User))), "{path}");
        }
        for path in [
            format!("{project}/quota"),
            format!("{project}/persons/"),
            format!("{project}/persons/anon-1/export/more"),
            "/api/admin/projects//persons/anon-1".to_owned(),
        ] {
            assert_eq!(rule(&path), Some((Auth, Token(Role::Admin))), "{path}");
        }
        assert_eq!(rule("/api/auth/projects"), Some((Auth, Token(Role::User))));
        assert_eq!(rule("/api/query/system"), Some((Query, Token(Role::Admin))));
        for path in [
            "/api/query/trends",
            "/api/query/persons",
            "/api/query/persons/0b1c7a3e-5f43-5b8e-9d0c-2f6a1e4b7c9d",
        ] {
            assert_eq!(rule(path), Some((Query, Token(Role::User))), "{path}");
        }
        for path in [
            format!("/api/projects/{}/annotations", contract::BUILTIN_PROJECT_ID),
            format!(
                "/api/projects/{}/annotations/0190a3e2-7c4d-7000-8000-000000000004",
                contract::BUILTIN_PROJECT_ID
            ),
        ] {
            assert_eq!(rule(&path), Some((Auth, Token(Role::User))), "{path}");
        }
        assert!(rule("/api/nope").is_none(), "an unknown API path is a 404");
        assert!(
            rule("/analytics/trends").is_none(),
            "client routes are the web app"
        );
        assert_eq!(
            route_of("/api/auth/login").map(|route| route.limit),
            Some(Credentials)
        );
        for path in [
            "/api/auth/projects",
            "/api/query/system",
            "/api/query/trends",
        ] {
            assert_eq!(
                route_of(path).map(|route| route.limit),
                Some(User),
                "{path}"
            );
        }
    }

    #[test]
    fn each_route_takes_the_bodies_its_service_reads() {
        let limit = |path: &str| route_of(path).map(Route::max_body_bytes);
        assert_eq!(limit("/batch/"), Some(contract::event::MAX_REQUEST_BYTES));
        assert_eq!(
            limit("/api/events"),
            Some(contract::event::MAX_REQUEST_BYTES)
        );
        assert_eq!(limit("/api/query/funnel"), Some(2 * 1024 * 1024));
        assert_eq!(limit("/api/admin/projects"), Some(2 * 1024 * 1024));
        assert_eq!(limit("/api/auth/login"), Some(MAX_CREDENTIALS_BYTES));
        assert_eq!(limit("/api/imports"), Some(1 << 30), "an export file");
        let imports = route_of("/api/imports").expect("the imports route");
        assert_eq!(imports.body_limit(&Method::POST), 1 << 30, "the upload");
        assert!(imports.is_upload(&Method::POST));
        assert_eq!(
            imports.body_limit(&Method::GET),
            contract::event::MAX_REQUEST_BYTES,
            "listing the jobs is no upload"
        );
        assert!(!imports.is_upload(&Method::GET));
        assert_eq!(
            limit("/api/imports/0190a3e2-7c4d-7000-8000-000000000001"),
            Some(contract::event::MAX_REQUEST_BYTES)
        );
    }
}
