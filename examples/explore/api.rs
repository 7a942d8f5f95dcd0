//! The page's JSON API (documented in this example's README), behind a token, with every
//! request bounded: bodies up to [`MAX_BODY`] bytes, at most [`MAX_IMAGES`] images an answer.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use tower_http::timeout::TimeoutLayer;

use autoencoders::models::Autoencoder;
use autoencoders::train::png_bytes;

use crate::explorer::{Explorer, MAX_IMAGES, MAX_PIXELS, Pixels};

/// The longest a request may take, from its headers to the answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest request body: one image of [`MAX_PIXELS`] values written as JSON numbers.
pub const MAX_BODY: usize = MAX_PIXELS * 24 + 1024;

const INDEX_HTML: &str = include_str!("page/index.html");
const APP_JS: &str = include_str!("page/app.js");
const STYLE_CSS: &str = include_str!("page/style.css");

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The model and its data; Burn's modules are used from one request at a time.
    pub explorer: Arc<Mutex<Explorer>>,
    /// The secret every API request carries.
    pub token: Arc<str>,
}

/// An API error: a status and a message the page shows.
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, axum::Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<autoencoders::train::TrainError> for ApiError {
    fn from(err: autoencoders::train::TrainError) -> Self {
        match err {
            autoencoders::train::TrainError::InvalidArgument { .. } => {
                Self(StatusCode::UNPROCESSABLE_ENTITY, err.to_string())
            }
            other => Self(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
        }
    }
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, message.into())
}

type ApiResult = Result<Response, ApiError>;

/// The server: the page at `/`, the API under `/api` (token required).
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/info", get(info))
        .route("/map", get(map))
        .route("/image/{index}", get(image))
        .route("/decode", post(decode))
        .route("/encode", post(encode))
        .route("/samples", get(samples))
        .route("/interpolate", post(interpolate))
        .fallback(not_found)
        .method_not_allowed_fallback(|| async {
            ApiError(
                StatusCode::METHOD_NOT_ALLOWED,
                "wrong method for this endpoint (see the README's table)".into(),
            )
        })
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .route(
            "/",
            get(|| async { page(INDEX_HTML, "text/html; charset=utf-8") }),
        )
        .route(
            "/app.js",
            get(|| async { page(APP_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/style.css",
            get(|| async { page(STYLE_CSS, "text/css; charset=utf-8") }),
        )
        .nest("/api", api)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        // A request (its body included) that takes longer is answered 408: a client that
        // declares a body and never sends it does not hold a connection forever.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError(StatusCode::NOT_FOUND, "no such page or API endpoint".into())
}

fn page(body: &'static str, content_type: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// Lets a request through when it carries the token, as `Authorization: Bearer <token>` or
/// `?token=<token>` (for `<img>` sources).
async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let query = request.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|pair| pair.strip_prefix("token="))
            .map(str::to_string)
    });
    let given = bearer.or(query);
    if given.is_some_and(|t| constant_time_eq(t.as_bytes(), state.token.as_bytes())) {
        next.run(request).await
    } else {
        ApiError(
            StatusCode::UNAUTHORIZED,
            "missing or wrong token: open the address the explorer printed (it ends in ?token=...)"
                .into(),
        )
        .into_response()
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Runs `work` on the explorer on a blocking thread (Burn computes synchronously).
async fn with_explorer<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&Explorer) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let explorer = state.explorer.clone();
    tokio::task::spawn_blocking(move || {
        let explorer = explorer.lock().map_err(|_| {
            ApiError(
                StatusCode::INTERNAL_SERVER_ERROR,
                "an earlier request failed".into(),
            )
        })?;
        work(&explorer)
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}

/// The request's JSON object: the body must be declared `application/json` and be an object (serde
/// would also take a struct's fields as an array).
fn json_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if !declared {
        return Err(ApiError(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the body as Content-Type: application/json".into(),
        ));
    }
    let body = body.map_err(|e| ApiError(e.status(), e.body_text()))?;
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(bad_request(
            "the body is not the JSON this endpoint takes: send a JSON object",
        ));
    }
    serde_json::from_slice(&body)
        .map_err(|e| bad_request(format!("the body is not the JSON this endpoint takes: {e}")))
}

fn image_json(explorer: &Explorer, pixels: &Pixels) -> Value {
    let [c, h, w] = explorer.model().input_shape();
    json!({ "channels": c, "height": h, "width": w, "pixels": pixels })
}

/// `{"images": [...]}`, each an image of [`image_json`].
fn images_answer(explorer: &Explorer, images: &[Pixels]) -> Response {
    let images: Vec<Value> = images.iter().map(|p| image_json(explorer, p)).collect();
    axum::Json(json!({ "images": images })).into_response()
}

async fn info(State(state): State<AppState>) -> ApiResult {
    with_explorer(&state, |e| {
        let [c, h, w] = e.model().input_shape();
        Ok(axum::Json(json!({
            "name": e.name,
            "kind": e.model().config().kind(),
            "latent_dim": e.model().latent_dim(),
            "input_shape": [c, h, w],
            "can_sample": e.can_sample(),
            "projection": if e.is_pca() { "pca" } else { "code" },
            "axes": e.axes(),
            "classes": e.test().class_names(),
            "count": e.test().count(),
            "max_images": MAX_IMAGES,
        }))
        .into_response())
    })
    .await
}

async fn map(State(state): State<AppState>) -> ApiResult {
    with_explorer(&state, |e| {
        let labels: Vec<u32> = match e.test().labels() {
            Some(labels) => labels.to_vec(),
            None => vec![0; e.test().count()],
        };
        Ok(axum::Json(json!({
            "x": e.points().iter().map(|p| p[0]).collect::<Vec<_>>(),
            "y": e.points().iter().map(|p| p[1]).collect::<Vec<_>>(),
            "labels": labels,
            "scores": e.scores(),
        }))
        .into_response())
    })
    .await
}

async fn image(
    State(state): State<AppState>,
    index: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let Path(index) = index.map_err(|e| bad_request(e.body_text()))?;
    let index: usize = index
        .parse()
        .map_err(|_| bad_request(format!("`{index}` is not an image index")))?;
    with_explorer(&state, move |e| {
        let Some(pixels) = e.test().image(index) else {
            return Err(ApiError(
                StatusCode::NOT_FOUND,
                format!(
                    "{index} is not a test image (there are {})",
                    e.test().count()
                ),
            ));
        };
        let png = png_bytes(pixels, e.test().shape())
            .map_err(|err| ApiError(StatusCode::INTERNAL_SERVER_ERROR, err.to_string()))?;
        let mut response = png.into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
        Ok(response)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecodeRequest {
    x: f32,
    y: f32,
}

async fn decode(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let request: DecodeRequest = json_body(&headers, body)?;
    if !(request.x.is_finite() && request.y.is_finite())
        || request.x.abs() > 1e6
        || request.y.abs() > 1e6
    {
        return Err(bad_request(
            "x and y must be finite numbers of magnitude at most 1e6",
        ));
    }
    with_explorer(&state, move |e| {
        let pixels = e.decode_point([request.x, request.y])?;
        Ok(axum::Json(image_json(e, &pixels)).into_response())
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EncodeRequest {
    pixels: Vec<f32>,
}

async fn encode(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let request: EncodeRequest = json_body(&headers, body)?;
    with_explorer(&state, move |e| {
        let encoded = e.encode(&request.pixels)?;
        let mut answer = json!({
            "code": encoded.code,
            "x": encoded.point[0],
            "y": encoded.point[1],
            "score": encoded.score,
            "percentile": encoded.percentile,
        });
        answer["reconstruction"] = image_json(e, &encoded.reconstruction);
        Ok(axum::Json(answer).into_response())
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SamplesQuery {
    n: Option<usize>,
    seed: Option<u64>,
    #[allow(dead_code)] // read by `authenticate`
    token: Option<String>,
}

async fn samples(
    State(state): State<AppState>,
    query: Result<Query<SamplesQuery>, QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|e| bad_request(e.body_text()))?;
    let n = query.n.unwrap_or(16);
    if !(1..=MAX_IMAGES).contains(&n) {
        return Err(bad_request(format!(
            "n is {n}; ask for 1 to {MAX_IMAGES} samples"
        )));
    }
    let seed = query.seed.unwrap_or(0);
    with_explorer(&state, move |e| Ok(images_answer(e, &e.samples(n, seed)?))).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InterpolateRequest {
    a: usize,
    b: usize,
    steps: Option<usize>,
}

async fn interpolate(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let request: InterpolateRequest = json_body(&headers, body)?;
    let steps = request.steps.unwrap_or(10);
    if !(2..=MAX_IMAGES).contains(&steps) {
        return Err(bad_request(format!(
            "steps is {steps}; ask for 2 to {MAX_IMAGES}"
        )));
    }
    with_explorer(&state, move |e| {
        let count = e.test().count();
        if let Some(missing) = [request.a, request.b].into_iter().find(|&i| i >= count) {
            return Err(ApiError(
                StatusCode::NOT_FOUND,
                format!("{missing} is not a test image (there are {count})"),
            ));
        }
        Ok(images_answer(
            e,
            &e.interpolate(request.a, request.b, steps)?,
        ))
    })
    .await
}
