//! `cnmf serve`: an HTTP JSON API over one model, loaded once (the `serve` cargo feature, on by
//! default; axum on a tokio runtime).
//!
//! | route | method | what |
//! |---|---|---|
//! | `/health` | GET | `{"status": "ok", "users", "items", "rank", "algorithm"}` |
//! | `/predict` | POST | `{"pairs": [[user, item], ...], "unknown": "error" \| "mean"}` |
//! | `/recommend` | GET, POST | `user`, `n` (10), `exclude_seen` (true), `min_ratings` (0), `unknown` |
//! | `/similar` | GET, POST | `item`, `n` (10) |
//! | `/fold-in` | POST | `{"ratings": [[item, rating], ...], "n", "min_ratings", "unknown": "error" \| "skip"}` |
//! | `/flagged` | GET | `min_share` (0.5), `top` (all) |
//!
//! GET takes its parameters from the query string, POST from a JSON object in the body (any
//! content type; unknown fields are refused). Ids are strings or JSON numbers. The answers
//! are what the matching command prints under `--json`, computed by the same functions
//! (`lookup::predict`, `recommend::for_user`, `similar::similar_items`, `fold_in::fold_in`,
//! `flagged::FlagReport`). Errors are `{"error": "..."}`: 400 for bad JSON or parameters
//! (and bad fold-in ratings), 404 for an unknown route, user or item, 405 for a wrong method,
//! 413 for a body over `--max-body-bytes`, 500 for anything else.
//!
//! Predictions, recommendations and similar items are cheap (one pass over the items) and
//! run on the runtime's worker threads; fold-in and the flag report run on its blocking pool.
//! SIGTERM or Ctrl-C stops accepting connections, lets requests in flight finish, and exits 0.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use clap::Args;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use crate::commands::flagged::FlagReport;
use crate::commands::fold_in::{self, new_ratings, FoldedIn, UnknownItems};
use crate::commands::recommend::{self, UserRecommendations};
use crate::commands::similar::similar_items;
use crate::csv_in::Record;
use crate::error::{CliError, CliResult};
use crate::input::Input;
use crate::lookup::{self, UnknownPolicy};
use crate::model_file::{ModelFile, Need};
use crate::output::Output;
use crate::titles::{ItemTitles, ItemsArg};

/// Arguments of `cnmf serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The model file written by `cnmf fit`, read once at start.
    #[arg(long, value_name = "MODEL")]
    model: PathBuf,
    /// Address to listen on (port 0: any free port; the address taken is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Largest request body in bytes; a larger one gets 413.
    #[arg(long, default_value_t = 1 << 20, value_parser = clap::value_parser!(u64).range(1..=1 << 30))]
    max_body_bytes: u64,
    /// Worker threads of the runtime (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    #[command(flatten)]
    items: ItemsArg,
}

/// What every request reads: the model, its titles and the items' rating counts.
struct Served {
    mf: ModelFile,
    titles: ItemTitles,
    counts: Vec<u32>,
}

type Shared = Arc<Served>;

/// Runs `cnmf serve` until SIGTERM or Ctrl-C.
pub fn run(args: &ServeArgs, out: &Output) -> CliResult<()> {
    let mf = ModelFile::read_for(&Input::new(&args.model), Need::All)?;
    let titles = args.items.load(&mf, out)?;
    let counts = mf.item_rating_counts();
    let state = Arc::new(Served { mf, titles, counts });
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if args.threads > 0 {
        rt.worker_threads(args.threads);
    }
    let rt = rt.enable_all().build().map_err(CliError::runtime)?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .map_err(|e| CliError::runtime(format!("cannot listen on {}: {e}", args.addr)))?;
        let local = listener.local_addr().map_err(CliError::runtime)?;
        if out.json {
            out.json_doc(&json!({"command": "serve", "listening": format!("http://{local}")}))?;
        } else {
            out.text(&format!("listening on http://{local}\n"))?;
        }
        let limit = usize::try_from(args.max_body_bytes).unwrap_or(usize::MAX);
        axum::serve(listener, router(state, limit))
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(CliError::runtime)
    })?;
    out.info("shut down");
    Ok(())
}

/// The routes over `state`, with request bodies bounded by `max_body` bytes.
fn router(state: Shared, max_body: usize) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/predict", axum::routing::post(predict))
        .route("/recommend", get(recommend_get).post(recommend_post))
        .route("/similar", get(similar_get).post(similar_post))
        .route("/fold-in", axum::routing::post(fold_in_post))
        .route("/flagged", get(flagged))
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such route".into()) })
        .method_not_allowed_fallback(|| async {
            ApiError(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this route".into(),
            )
        })
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state)
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT).
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// An error answer: the status and `{"error": message}`.
#[derive(Debug)]
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<CliError> for ApiError {
    fn from(e: CliError) -> ApiError {
        let status = match e {
            CliError::Usage(_) | CliError::Data(_) => StatusCode::BAD_REQUEST,
            CliError::UnknownId(_) => StatusCode::NOT_FOUND,
            CliError::Model(_) | CliError::Runtime(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        // The messages name the command-line options; here they are JSON fields.
        let msg = e
            .to_string()
            .replace("--unknown mean", "\"unknown\": \"mean\"")
            .replace("--unknown skip", "\"unknown\": \"skip\"");
        ApiError(status, msg)
    }
}

type ApiResult = Result<Response, ApiError>;

fn bad_request(msg: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.to_string())
}

/// A JSON body as `T`: 413 beyond the limit, 400 for anything unreadable.
fn body<T: DeserializeOwned>(bytes: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let bytes = bytes.map_err(|r| ApiError(r.status(), r.body_text()))?;
    serde_json::from_slice(&bytes).map_err(|e| bad_request(format!("bad JSON body: {e}")))
}

/// Query parameters as `T`: 400 when they do not parse.
fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t).map_err(|r| bad_request(r.body_text()))
}

/// A user or item id: a JSON string or number (`196` is the id "196").
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Id {
    Text(String),
    Number(serde_json::Number),
}

impl Id {
    fn text(&self) -> String {
        match self {
            Id::Text(s) => s.clone(),
            Id::Number(n) => n.to_string(),
        }
    }
}

/// `n`: at least 1.
fn check_n(n: usize) -> Result<usize, ApiError> {
    if n == 0 {
        return Err(bad_request("n must be at least 1"));
    }
    Ok(n)
}

fn ten() -> usize {
    10
}

fn yes() -> bool {
    true
}

async fn health(State(s): State<Shared>) -> Json<serde_json::Value> {
    let model = s.mf.model();
    Json(json!({
        "status": "ok",
        "users": model.n_users(),
        "items": model.n_items(),
        "rank": model.factors().rank(),
        "algorithm": model.algorithm().name(),
    }))
}

/// Unknown ids in `/predict` and `/recommend`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Unknown {
    #[default]
    Error,
    Mean,
}

impl From<Unknown> for UnknownPolicy {
    fn from(u: Unknown) -> UnknownPolicy {
        match u {
            Unknown::Error => UnknownPolicy::Error,
            Unknown::Mean => UnknownPolicy::Mean,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PredictRequest {
    pairs: Vec<(Id, Id)>,
    #[serde(default)]
    unknown: Unknown,
}

async fn predict(State(s): State<Shared>, b: Result<Bytes, BytesRejection>) -> ApiResult {
    let req: PredictRequest = body(b)?;
    let mut predictions = Vec::with_capacity(req.pairs.len());
    for (n, (user, item)) in req.pairs.iter().enumerate() {
        let at = format!("pairs[{n}]: ");
        predictions.push(lookup::predict(
            &s.mf,
            &user.text(),
            &item.text(),
            req.unknown.into(),
            &at,
        )?);
    }
    let fallbacks = predictions.iter().filter(|p| p.fallback.is_some()).count();
    Ok(Json(json!({
        "command": "predict",
        "predictions": predictions,
        "fallbacks": fallbacks,
    }))
    .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecommendRequest {
    user: Id,
    #[serde(default = "ten")]
    n: usize,
    #[serde(default = "yes")]
    exclude_seen: bool,
    #[serde(default)]
    min_ratings: u32,
    #[serde(default)]
    unknown: Unknown,
}

async fn recommend_get(
    State(s): State<Shared>,
    q: Result<Query<RecommendRequest>, QueryRejection>,
) -> ApiResult {
    recommend(&s, query(q)?)
}

async fn recommend_post(State(s): State<Shared>, b: Result<Bytes, BytesRejection>) -> ApiResult {
    recommend(&s, body(b)?)
}

fn recommend(s: &Served, req: RecommendRequest) -> ApiResult {
    let n = check_n(req.n)?;
    let user = req.user.text();
    let keep = |i: u32| s.counts[i as usize] >= req.min_ratings;
    let UserRecommendations {
        rated,
        fallback,
        items,
    } = recommend::for_user(
        &s.mf,
        &user,
        n,
        req.unknown.into(),
        req.exclude_seen,
        keep,
        &s.titles,
    )?;
    Ok(Json(json!({
        "command": "recommend",
        "user": user,
        "rated": rated,
        "fallback": fallback,
        "items": items,
    }))
    .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SimilarRequest {
    item: Id,
    #[serde(default = "ten")]
    n: usize,
}

async fn similar_get(
    State(s): State<Shared>,
    q: Result<Query<SimilarRequest>, QueryRejection>,
) -> ApiResult {
    similar(&s, query(q)?)
}

async fn similar_post(State(s): State<Shared>, b: Result<Bytes, BytesRejection>) -> ApiResult {
    similar(&s, body(b)?)
}

fn similar(s: &Served, req: SimilarRequest) -> ApiResult {
    let n = check_n(req.n)?;
    let item = req.item.text();
    let similar = similar_items(&s.mf, &item, n, &s.titles)?;
    Ok(Json(json!({
        "command": "similar",
        "item": item,
        "title": s.titles.get(&item),
        "similar": similar,
    }))
    .into_response())
}

/// One rating of `/fold-in`: `[item, rating]` or `{"item": .., "rating": ..}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum NewRating {
    Pair(Id, f64),
    Object { item: Id, rating: f64 },
}

/// What `/fold-in` does with a rated item the model does not know.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum UnknownItem {
    #[default]
    Error,
    Skip,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FoldInRequest {
    ratings: Vec<NewRating>,
    #[serde(default = "ten")]
    n: usize,
    #[serde(default)]
    min_ratings: u32,
    #[serde(default)]
    unknown: UnknownItem,
}

async fn fold_in_post(State(s): State<Shared>, b: Result<Bytes, BytesRejection>) -> ApiResult {
    let req: FoldInRequest = body(b)?;
    let n = check_n(req.n)?;
    blocking(move || fold_in_user(&s, &req, n)).await
}

/// Reads the ratings as `cnmf fold-in` reads a file's records (the same checks: scale, unknown
/// and repeated items), their 1-based position standing for the line, then folds them in.
fn fold_in_user(s: &Served, req: &FoldInRequest, n: usize) -> ApiResult {
    let records: Vec<Record> = req
        .ratings
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let (item, rating) = match r {
                NewRating::Pair(i, v) => (i, v),
                NewRating::Object { item, rating } => (item, rating),
            };
            Record {
                line: k + 1,
                fields: vec![item.text(), rating.to_string()],
                optional: vec![None],
            }
        })
        .collect();
    let unknown = match req.unknown {
        UnknownItem::Error => UnknownItems::Error,
        UnknownItem::Skip => UnknownItems::Skip,
    };
    let new = new_ratings(&records, Path::new("ratings"), unknown, &s.mf)?;
    if new.pairs.is_empty() {
        return Err(bad_request("no rating of a known item is left to fold in"));
    }
    let FoldedIn {
        factors,
        items,
        would_flag,
    } = fold_in::fold_in(&s.mf, &new.pairs, n, req.min_ratings, &s.counts, &s.titles)?;
    Ok(Json(json!({
        "command": "fold-in",
        "ratings_used": new.pairs.len(),
        "skipped": new.skipped,
        "factors": factors,
        "would_flag": would_flag,
        "items": items,
    }))
    .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FlaggedRequest {
    #[serde(default = "half")]
    min_share: f64,
    top: Option<usize>,
}

fn half() -> f64 {
    0.5
}

async fn flagged(
    State(s): State<Shared>,
    q: Result<Query<FlaggedRequest>, QueryRejection>,
) -> ApiResult {
    let req = query(q)?;
    blocking(move || {
        let report = FlagReport::new(&s.mf, req.min_share, &s.titles)?;
        let doc = serde_json::to_vec(&report.json(req.top.unwrap_or(usize::MAX)))
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        Ok(json_bytes(doc))
    })
    .await
}

/// A serialised JSON document as a response.
fn json_bytes(doc: Vec<u8>) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        doc,
    )
        .into_response()
}

/// Runs `f` on the blocking pool.
async fn blocking(f: impl FnOnce() -> ApiResult + Send + 'static) -> ApiResult {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}
