//! Logs, metrics and the per-request wrapper: a request id on every log line, one access
//! line per request (path only: query strings may carry locations), Prometheus counters,
//! and problem+json rendering in the caller's language.

use std::sync::Mutex;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpResponse, ResponseError};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;
use crate::error::{ApiError, Lang, PROBLEM_JSON, Problem};

/// Installs the global subscriber once (later calls, as in tests, are no-ops).
/// Logs go to standard error, so command output on standard output stays machine-readable.
pub fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_env("HUIGONG_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,huigong=info"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .json()
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
            )
            .try_init(),
    };
    drop(result);
}

/// The id of one request, in its span, its problem bodies and the `x-request-id` header.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn request_id_for(req: &ServiceRequest) -> String {
    // Accept a caller's id only when it is short and plain, so it cannot forge log lines.
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64)
        .filter(|v| {
            v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| hex::encode(rand::random::<[u8; 12]>()))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

/// Prometheus metrics of the process.
pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("huigong");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ])
        });
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            requests,
            latency,
        }
    }

    /// Lets features register their own metrics (draws, hot-store errors).
    pub fn with_registry<R>(&self, f: impl FnOnce(&mut Registry) -> R) -> R {
        f(&mut self.registry.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(err) = prometheus_client::encoding::text::encode(&mut out, &registry) {
            tracing::error!(error = %err, "metrics encoding failed");
        }
        out
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.into(),
                route: route.into(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.into(),
                route: route.into(),
            })
            .observe(seconds);
    }
}

/// The outermost middleware of every request.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let started = Instant::now();
    let request_id = request_id_for(&req);
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let lang = Lang::from_accept_language(req.headers().get(header::ACCEPT_LANGUAGE));
    let method = req.method().to_string();
    let metrics = req
        .app_data::<actix_web::web::Data<crate::AppState>>()
        .map(|s| s.metrics.clone());
    let span = tracing::info_span!("request", request_id = %request_id, method = %method, route = tracing::field::Empty);

    let outcome = next.call(req).instrument(span.clone()).await;
    let res = match outcome {
        Ok(res) => res.map_into_boxed_body(),
        // Middleware here answer with responses, not errors; anything else is actix's own.
        Err(err) => return Err(err),
    };
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".into());
    span.record("route", route.as_str());
    let mut res = render_problem(res, lang, &request_id);
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    let status = res.status();
    let elapsed = started.elapsed();
    if let Some(metrics) = metrics {
        metrics.observe(&method, &route, status.as_u16(), elapsed.as_secs_f64());
    }
    span.in_scope(|| {
        tracing::info!(
            status = status.as_u16(),
            latency_ms = elapsed.as_millis() as u64,
            "request finished"
        );
    });
    Ok(res)
}

/// Gives every error response a problem+json body in the request's language with its trace
/// id, including bare ones that actix makes itself (unmatched method, too-large payload).
fn render_problem(
    res: ServiceResponse<BoxBody>,
    lang: Lang,
    trace_id: &str,
) -> ServiceResponse<BoxBody> {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let problem = res
        .response()
        .extensions()
        .get::<Problem>()
        .cloned()
        .or_else(|| res.response().error().map(|e| problem_of_error(e, status)))
        .unwrap_or_else(|| Problem::for_status(status));
    let body = problem.render(lang, trace_id);
    res.map_body(|head, _| {
        head.headers
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        BoxBody::new(body)
    })
}

fn problem_of_error(err: &Error, status: actix_web::http::StatusCode) -> Problem {
    if let Some(api) = err.as_error::<ApiError>() {
        return api.problem();
    }
    let mut problem = Problem::for_status(status);
    if status.is_server_error() {
        tracing::error!(error = %err, "unhandled error");
    }
    problem.status = status;
    problem
}

/// Answers routes that do not exist (404) and known paths with the wrong method (405).
pub async fn not_found(req: actix_web::HttpRequest) -> HttpResponse {
    let known_path = req.resource_map().has_resource(req.path());
    if known_path {
        ApiError::MethodNotAllowed
    } else {
        ApiError::NotFound
    }
    .error_response()
}
