//! gzip for answers a phone downloads: a body of known size from 1 KiB to 1 MiB is compressed
//! on the worker thread, at the fastest level, when the client accepts gzip. (actix's own
//! `Compress` hands every body over 1 KiB to the blocking pool, which under load delayed a
//! 10 KB nearby list by tens of milliseconds after its headers.) Smaller bodies, streams and
//! anything already encoded pass through unchanged.

use std::io::Write;

use actix_web::Error;
use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;

const MIN: u64 = 1024;
const MAX: u64 = 1 << 20;

/// Does `Accept-Encoding` allow gzip (and not with `q=0`)?
fn accepts_gzip(req: &ServiceRequest) -> bool {
    let Some(value) = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    value.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or("");
        let refused = parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q == 0.0)
        });
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

pub async fn gzip(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let wanted = accepts_gzip(&req);
    let res = next.call(req).await?.map_into_boxed_body();
    let sized =
        matches!(res.response().body().size(), BodySize::Sized(n) if (MIN..=MAX).contains(&n));
    if !wanted || !sized || res.headers().contains_key(header::CONTENT_ENCODING) {
        return Ok(res);
    }
    let (req, res) = res.into_parts();
    let (mut res, body) = res.into_parts();
    let bytes = actix_web::body::to_bytes(body)
        .await
        .map_err(|_| actix_web::error::ErrorInternalServerError("body"))?;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 3),
        flate2::Compression::fast(),
    );
    let compressed = encoder.write_all(&bytes).and_then(|()| encoder.finish());
    let res = match compressed {
        Ok(out) => {
            let headers = res.headers_mut();
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
            headers.remove(header::CONTENT_LENGTH);
            res.set_body(BoxBody::new(out))
        }
        Err(_) => res.set_body(BoxBody::new(bytes)),
    };
    Ok(ServiceResponse::new(req, res))
}
