//! gzip for answers a phone downloads: a body of known size from 1 KiB to 1 MiB is compressed
//! on the worker thread, the way zlib-ng's fastest level does it ([`deflate`]), when the
//! client accepts gzip. (actix's own `Compress` hands every body over 1 KiB to the blocking
//! pool, which under load delayed a 10 KB nearby list by tens of milliseconds after its
//! headers.) Smaller bodies, streams and anything already encoded pass through unchanged.

mod deflate;

use std::cell::RefCell;

use flate2::Crc;

use actix_web::Error;
use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;

use deflate::Encoder;

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
    let out = gzip_bytes(&bytes);
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    headers.remove(header::CONTENT_LENGTH);
    let res = res.set_body(BoxBody::new(out));
    Ok(ServiceResponse::new(req, res))
}

thread_local! {
    /// This worker's deflate encoder: its table outlives the responses.
    static DEFLATE: RefCell<Encoder> = RefCell::new(Encoder::default());
}

/// `data` as a gzip member (RFC 1952): header, raw deflate, CRC-32 and length.
fn gzip_bytes(data: &[u8]) -> Vec<u8> {
    // No name, no time; XFL 4 = fastest; OS 255 = unknown.
    const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 0xff];
    let mut out = Vec::with_capacity(data.len() / 4 + 64);
    out.extend_from_slice(&HEADER);
    DEFLATE.with_borrow_mut(|e| e.deflate(data, &mut out));
    let mut crc = Crc::new();
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    // ISIZE is the length modulo 2^32 (bodies here are at most 1 MiB).
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::gzip_bytes;

    #[test]
    fn members_decode_to_the_input_with_a_reused_state() {
        let texts: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"{\"items\":[]}".to_vec(),
            "驿站".repeat(5_000).into_bytes(),
            (0..200_000u32)
                .flat_map(|i| (i.wrapping_mul(2_654_435_761)).to_le_bytes())
                .collect(),
        ];
        for _ in 0..2 {
            for text in &texts {
                let packed = gzip_bytes(text);
                let mut back = Vec::new();
                flate2::read::GzDecoder::new(&packed[..])
                    .read_to_end(&mut back)
                    .unwrap();
                assert_eq!(&back, text);
            }
        }
    }
}
