//! The web console at `/ui`: three static files from `worker/console/`, compiled into the
//! binary so a worker needs nothing beside itself to show it. The page is plain HTML, CSS and
//! JavaScript that calls the REST API with `fetch()`; the basic-auth middleware wraps every
//! route, so the console asks for (and uses) the same credentials as the API.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::error::RestError;
use super::RestResult;

/// One embedded file: its name under `/ui/`, content type and bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const INDEX: Asset = Asset {
    name: "index.html",
    content_type: "text/html; charset=utf-8",
    body: include_str!("../../console/index.html"),
};

static ASSETS: &[Asset] = &[
    INDEX,
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../console/app.js"),
    },
    Asset { name: "style.css", content_type: "text/css; charset=utf-8", body: include_str!("../../console/style.css") },
];

/// Only the page's own files and the API on this origin: a connector name or a task's trace
/// shown on the page can never load or run anything.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn respond(asset: &Asset) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(asset.content_type)
        // The files change with the binary; a browser must not keep an old app.js after an upgrade.
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .body(asset.body)
}

/// `GET /ui` and `GET /ui/`. The page refers to its files and to the API by relative URLs, so
/// it keeps working behind a proxy that adds a path prefix; that needs the trailing slash, so
/// `/ui` redirects to `ui/` (relative, for the same reason).
pub(super) async fn index(req: HttpRequest) -> HttpResponse {
    if req.path().ends_with('/') {
        respond(&INDEX)
    } else {
        HttpResponse::PermanentRedirect().insert_header((header::LOCATION, "ui/")).finish()
    }
}

/// `GET /ui/{asset}`: one of the console's files.
pub(super) async fn asset(path: web::Path<String>) -> RestResult {
    ASSETS
        .iter()
        .find(|a| a.name == path.as_str())
        .map(respond)
        .ok_or_else(|| RestError::not_found(format!("The web console has no file {}.", path.as_str())))
}

#[cfg(test)]
mod tests {
    use actix_web::{test as web_test, App};

    use super::*;

    #[actix_web::test]
    async fn serves_each_file_with_its_type_and_redirects_to_the_slash() {
        let app = web_test::init_service(
            App::new()
                .route("/ui", web::get().to(index))
                .route("/ui/", web::get().to(index))
                .route("/ui/{asset}", web::get().to(asset)),
        )
        .await;
        let get = |uri: &str| web_test::TestRequest::get().uri(uri).to_request();

        let response = web_test::call_service(&app, get("/ui")).await;
        assert_eq!(response.status().as_u16(), 308);
        assert_eq!(response.headers().get(header::LOCATION).unwrap(), "ui/");

        for (uri, content_type, needle) in [
            ("/ui/", "text/html; charset=utf-8", "<title>"),
            ("/ui/app.js", "text/javascript; charset=utf-8", "fetch("),
            ("/ui/style.css", "text/css; charset=utf-8", "body"),
        ] {
            let response = web_test::call_service(&app, get(uri)).await;
            assert_eq!(response.status().as_u16(), 200, "{uri}");
            assert_eq!(response.headers().get(header::CONTENT_TYPE).unwrap(), content_type, "{uri}");
            assert!(response.headers().contains_key(header::CONTENT_SECURITY_POLICY), "{uri}");
            let body = web_test::read_body(response).await;
            assert!(String::from_utf8_lossy(&body).contains(needle), "{uri}");
        }

        let response = web_test::call_service(&app, get("/ui/secrets.txt")).await;
        assert_eq!(response.status().as_u16(), 404);
        let body: serde_json::Value = web_test::read_body_json(response).await;
        assert_eq!(body["error_code"], 404);
    }
}
