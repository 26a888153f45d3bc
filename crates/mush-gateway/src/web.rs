//! The web client's files, built into the binary: a page for players who have no MUD
//! client, served on the WebSocket port so the page and its socket share one origin (the
//! default origin check and the page's Content-Security-Policy rely on that).

use crate::http::{self, Head};

/// The page's policy: its own script and style files only (no inline code, no other
/// hosts, no fonts from anywhere), its socket back to where it came from, no framing.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// One file of the client.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const ASSETS: &[Asset] = &[
    Asset {
        path: "/",
        content_type: "text/html; charset=utf-8",
        body: include_str!("../web/index.html"),
    },
    Asset {
        path: "/app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../web/app.js"),
    },
    Asset {
        path: "/app.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../web/app.css"),
    },
];

/// Answers a plain HTTP request (not an upgrade): a file of the client, or an error.
pub(crate) async fn answer<S>(stream: &mut S, head: &Head) -> std::io::Result<()>
where
    S: tokio::io::AsyncWrite + Unpin,
{
    let (status, content_type, body) = route(&head.method, &head.path);
    let headers = [
        ("Content-Type", content_type),
        ("Content-Security-Policy", CSP),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("Cache-Control", "no-cache"),
    ];
    let allow = [("Allow", "GET, HEAD")];
    let headers: Vec<(&str, &str)> = if status == 405 {
        headers.iter().chain(allow.iter()).copied().collect()
    } else {
        headers.to_vec()
    };
    http::respond(
        stream,
        status,
        &headers,
        body.as_bytes(),
        head.method != "HEAD",
    )
    .await
}

/// Status, content type and body for a request.
fn route(method: &str, path: &str) -> (u16, &'static str, &'static str) {
    if method != "GET" && method != "HEAD" {
        return (405, "text/plain; charset=utf-8", "Only GET and HEAD.\n");
    }
    let path = if path == "/index.html" { "/" } else { path };
    match ASSETS.iter().find(|a| a.path == path) {
        Some(asset) => (200, asset.content_type, asset.body),
        None => (404, "text/plain; charset=utf-8", "Not found.\n"),
    }
}

/// Bytes of the page and its files as sent (uncompressed bodies), for the docs' figures.
pub fn client_size() -> usize {
    ASSETS.iter().map(|a| a.body.len()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_methods_and_unknown_paths() {
        assert_eq!(route("GET", "/").0, 200);
        assert_eq!(route("HEAD", "/app.js").1, "text/javascript; charset=utf-8");
        assert_eq!(route("GET", "/index.html").0, 200);
        assert_eq!(route("GET", "/../Cargo.toml").0, 404);
        assert_eq!(route("POST", "/").0, 405);
    }

    /// The policy forbids inline code, so the page must not contain any.
    #[test]
    fn the_page_has_no_inline_script_or_style() {
        let page = include_str!("../web/index.html");
        assert!(!page.contains("<script>"), "inline script");
        assert!(!page.contains("<style"), "inline style");
        assert!(!page.contains("style="), "style attribute");
        assert!(!page.contains(" on"), "event handler attribute");
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "external resource"
        );
    }
}
