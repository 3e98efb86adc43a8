//! Ingest's part of the public API description, generated from the route handlers. The
//! PostHog and Segment handlers answer on several paths; each alias gets a copy of the
//! documented operation.

use crate::routes::{events, imports, posthog, script, segment};

/// The document `/openapi.json` serves, and edge merges with the other services' parts.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(
        paths(
            posthog::posthog_capture,
            segment::segment_track,
            segment::segment_page,
            segment::segment_screen,
            segment::segment_identify,
            segment::segment_group,
            segment::segment_alias,
            segment::segment_batch,
            script::plausible,
            script::umami,
            events::native_events,
            imports::create_import,
            imports::list_imports,
            imports::get_import,
        ),
        tags((name = "ingest", description = "Events from SDKs and from the dashboard"))
    )]
    struct ApiDoc;

    let mut doc = <ApiDoc as utoipa::OpenApi>::openapi();
    let aliases = posthog::PATHS
        .iter()
        .map(|path| ("/batch/", *path))
        .chain(
            segment::BATCH_ALIASES
                .iter()
                .map(|path| ("/v1/batch", *path)),
        )
        .chain(segment::SHORT_ALIASES.iter().copied());
    for (documented, alias) in aliases {
        if documented == alias {
            continue;
        }
        let Some(mut item) = doc.paths.paths.get(documented).cloned() else {
            continue;
        };
        if let Some(operation) = item.post.as_mut() {
            operation.operation_id = Some(format!(
                "{}_{}",
                operation.operation_id.as_deref().unwrap_or("post"),
                alias.trim_matches('/').replace('/', "_")
            ));
        }
        doc.paths.paths.insert(alias.to_owned(), item);
    }
    doc
}
