//! The `explore` example against a real server and a real browser: every API endpoint, its bad
//! inputs and an oversized body over HTTP, then the page in headless Chromium (Debian's
//! `chromium`) driven through the DevTools protocol: the map draws, a click decodes, a stroke on
//! the canvas updates the reconstruction; a screenshot is written and read back.

mod common;

use common::browser;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

const TOKEN: &str = "explore-test-token";
/// Test images on the map (`AE_EXPLORE_LIMIT` overrides it: the README's screenshot has 2000).
fn limit() -> usize {
    std::env::var("AE_EXPLORE_LIMIT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

/// The running example, killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str]) -> Server {
    let mut child = Command::new(common::example_path("explore"))
        .args(["--port", "0", "--limit", &limit().to_string()])
        .args(args)
        .env("AE_EXPLORE_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("explore starts");
    let stdout = child.stdout.take().expect("its stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = lines
        .next()
        .expect("explore prints its address")
        .expect("a line");
    let address = line
        .split("http://")
        .nth(1)
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    assert!(address.starts_with("127.0.0.1:"), "{address}: not loopback");
    assert!(address.ends_with(&format!("/?token={TOKEN}")), "{address}");
    let port = address["127.0.0.1:".len()..]
        .split('/')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port");
    Server { child, port }
}

struct Answer {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
}

/// One HTTP/1.1 request on a fresh connection (the test's client; the server is axum), its body
/// declared JSON.
fn request(port: u16, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> Answer {
    request_as(port, method, path, token, "application/json", body)
}

/// One request with its body declared `content_type`.
fn request_as(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: &[u8],
) -> Answer {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{auth}\
         Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    // The server may answer (413) and close before reading a body it refuses.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete answer");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type:")
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default();
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Answer {
        status,
        content_type,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..line_end]).unwrap().trim(), 16)
                .unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[line_end + 2..line_end + 2 + size]);
        data = &data[line_end + 4 + size..];
    }
}

fn get(port: u16, path: &str) -> Answer {
    request(port, "GET", path, Some(TOKEN), b"")
}

fn post(port: u16, path: &str, body: &Value) -> Answer {
    request(port, "POST", path, Some(TOKEN), body.to_string().as_bytes())
}

fn refused(answer: &Answer, status: u16, needle: &str) {
    assert_eq!(
        answer.status,
        status,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let message = answer.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(message.contains(needle), "{needle:?} not in {message:?}");
}

fn pixels(image: &Value) -> Vec<u8> {
    image["pixels"]
        .as_array()
        .expect("pixels")
        .iter()
        .map(|v| v.as_u64().expect("a byte") as u8)
        .collect()
}

#[test]
fn every_endpoint_answers_and_bad_requests_are_refused() {
    let server = start(&[]);
    let port = server.port;

    // The page is public (it holds no data); the API is not.
    let page = request(port, "GET", "/", None, b"");
    assert_eq!(page.status, 200);
    assert!(String::from_utf8_lossy(&page.body).contains("app.js"));
    refused(&request(port, "GET", "/api/info", None, b""), 401, "token");
    refused(
        &request(port, "GET", "/api/info", Some("wrong"), b""),
        401,
        "token",
    );
    assert_eq!(
        request(port, "GET", &format!("/api/info?token={TOKEN}"), None, b"").status,
        200
    );

    let info = get(port, "/api/info").json();
    assert_eq!(info["kind"], "vae");
    assert_eq!(info["latent_dim"], 20);
    assert_eq!(info["input_shape"], json!([1, 28, 28]));
    assert_eq!(info["projection"], "pca");
    assert_eq!(info["count"], limit());
    assert_eq!(info["classes"].as_array().unwrap().len(), 10);
    assert_eq!(info["can_sample"], true);

    let map = get(port, "/api/map").json();
    for field in ["x", "y", "labels", "scores"] {
        assert_eq!(map[field].as_array().unwrap().len(), limit(), "{field}");
    }
    let score_0 = map["scores"][0].as_f64().unwrap();

    let image = get(port, "/api/image/0");
    assert_eq!(image.status, 200);
    assert_eq!(image.content_type, "image/png");
    let decoded = image::load_from_memory(&image.body)
        .expect("a PNG")
        .to_luma8();
    assert_eq!(decoded.dimensions(), (28, 28));
    refused(
        &get(port, &format!("/api/image/{}", limit())),
        404,
        "not a test image",
    );
    refused(&get(port, "/api/image/abc"), 400, "not an image index");

    // Encoding test image 0 gives the score the map has for it, and its reconstruction is the
    // first image of the interpolation from it.
    let image_0: Vec<f32> = decoded
        .as_raw()
        .iter()
        .map(|&b| f32::from(b) / 255.0)
        .collect();
    let encoded = post(port, "/api/encode", &json!({ "pixels": image_0 }));
    assert_eq!(encoded.status, 200);
    let encoded = encoded.json();
    assert_eq!(encoded["code"].as_array().unwrap().len(), 20);
    let score = encoded["score"].as_f64().unwrap();
    assert!(
        (score - score_0).abs() <= 1e-6 + 1e-4 * score_0,
        "{score} vs {score_0}"
    );
    let percentile = encoded["percentile"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&percentile));
    let line = post(
        port,
        "/api/interpolate",
        &json!({ "a": 0, "b": 1, "steps": 5 }),
    )
    .json();
    let images = line["images"].as_array().unwrap();
    assert_eq!(images.len(), 5);
    let (first, reconstruction) = (pixels(&images[0]), pixels(&encoded["reconstruction"]));
    let differing = first
        .iter()
        .zip(&reconstruction)
        .filter(|(a, b)| a.abs_diff(**b) > 1)
        .count();
    assert_eq!(
        differing, 0,
        "interpolation's first image is image 0's reconstruction"
    );
    assert_ne!(pixels(&images[0]), pixels(&images[4]));

    // A blank drawing is odder than most digits.
    let blank = post(port, "/api/encode", &json!({ "pixels": vec![0.0; 784] })).json();
    assert!(blank["score"].as_f64().unwrap() > 0.0);

    let point = post(port, "/api/decode", &json!({ "x": 0.5, "y": -0.5 })).json();
    assert_eq!(pixels(&point).len(), 784);

    let samples = get(port, "/api/samples?n=4&seed=7").json();
    let again = get(port, "/api/samples?n=4&seed=7").json();
    assert_eq!(samples["images"].as_array().unwrap().len(), 4);
    assert_eq!(samples, again, "the same seed samples the same images");

    // Bad inputs.
    refused(
        &request(port, "POST", "/api/decode", Some(TOKEN), b"{not json"),
        400,
        "not the JSON",
    );
    refused(
        &post(port, "/api/decode", &json!({ "x": "left", "y": 0 })),
        400,
        "not the JSON",
    );
    refused(
        &post(port, "/api/decode", &json!({ "x": 1e30, "y": 0 })),
        400,
        "at most 1e6",
    );
    refused(
        &post(port, "/api/decode", &json!({ "x": 1, "y": 0, "z": 2 })),
        400,
        "unknown field",
    );
    refused(
        &post(port, "/api/encode", &json!({ "pixels": vec![0.0; 10] })),
        422,
        "1x28x28 = 784",
    );
    let mut bright = vec![0.0; 784];
    bright[5] = 2.0;
    refused(
        &post(port, "/api/encode", &json!({ "pixels": bright })),
        422,
        "value 5 is 2",
    );
    refused(&get(port, "/api/samples?n=0"), 400, "ask for 1 to 64");
    refused(&get(port, "/api/samples?n=100000"), 400, "ask for 1 to 64");
    refused(&get(port, "/api/samples?n=-3"), 400, "");
    refused(
        &post(port, "/api/interpolate", &json!({ "a": 0, "b": 99999 })),
        404,
        "99999 is not a test image",
    );
    refused(
        &request(port, "POST", "/api/decode", Some(TOKEN), b"[1, 2]"),
        400,
        "a JSON object",
    );
    let plain = request_as(
        port,
        "POST",
        "/api/decode",
        Some(TOKEN),
        "text/plain",
        b"{\"x\":0,\"y\":0}",
    );
    refused(&plain, 415, "application/json");
    refused(
        &request(port, "PUT", "/api/decode", Some(TOKEN), b"{}"),
        405,
        "wrong method",
    );
    refused(
        &request(port, "GET", "/api/", Some(TOKEN), b""),
        404,
        "no such page",
    );
    refused(
        &request(port, "GET", "/../../etc/passwd", None, b""),
        404,
        "no such page",
    );
    refused(
        &post(
            port,
            "/api/interpolate",
            &json!({ "a": 0, "b": 1, "steps": 1 }),
        ),
        400,
        "2 to 64",
    );
    refused(&get(port, "/api/nothing-here"), 404, "API endpoint");
    let huge = vec![b' '; 2 * 1024 * 1024];
    let answer = request(port, "POST", "/api/encode", Some(TOKEN), &huge);
    assert_eq!(
        answer.status,
        413,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    // The server still answers after all that.
    assert_eq!(get(port, "/api/info").status, 200);
}

#[test]
fn a_model_without_a_prior_refuses_samples_and_a_bad_model_is_named() {
    let server = start(&["--pretrained", "keras-mlp/mnist-sample"]);
    let info = get(server.port, "/api/info").json();
    assert_eq!(info["kind"], "vanilla");
    assert_eq!(info["can_sample"], false);
    refused(
        &get(server.port, "/api/samples?n=2"),
        422,
        "not a variational autoencoder",
    );

    common::refused(
        "explore",
        &["--pretrained", "vae-mlp/cifar-10"],
        "vae-mlp/mnist-sample",
    );
    common::refused("explore", &["--pretrained", "vae-mlp"], "MODEL/DATASET");
    common::refused(
        "explore",
        &["--model", "/nonexistent/model"],
        "/nonexistent/model",
    );
    // A token goes into the printed address as it is: characters a URL would change are refused.
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "a/b+c d&e\n").unwrap();
    let token_file = token_file.to_str().unwrap();
    common::refused("explore", &["--token-file", token_file], "--token-file");
    common::refused(
        "explore",
        &["--token-file", "/nonexistent/token"],
        "--token-file",
    );
}

#[test]
fn the_page_draws_the_map_decodes_a_click_and_encodes_a_stroke() {
    let Some(binary) = browser::chromium() else {
        assert!(
            std::env::var_os("AE_REQUIRE_BROWSER").is_none(),
            "AE_REQUIRE_BROWSER is set but there is no chromium (apt-get install chromium)"
        );
        eprintln!("skipped: no chromium (apt-get install chromium; CI sets AE_REQUIRE_BROWSER)");
        return;
    };
    let server = start(&[]);
    let url = format!("http://127.0.0.1:{}/?token={TOKEN}", server.port);
    let mut browser = browser::Browser::open(&binary, &url);

    browser.wait_for(&format!(
        "document.getElementById('map').dataset.points === '{}'",
        limit()
    ));
    // The map is drawn: its canvas holds coloured pixels, the legend has the ten digits.
    let coloured = browser.eval(
        "(() => { const c = document.getElementById('map'); \
         const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0; \
         for (let i = 0; i < d.length; i += 4) if (d[i+3] > 0 && (d[i] !== d[i+1] || d[i+1] !== d[i+2])) n++; \
         return n; })()",
    );
    assert!(
        coloured.as_u64().unwrap() > 500,
        "{coloured} coloured pixels on the map"
    );
    assert_eq!(
        browser.eval("document.querySelectorAll('#legend span').length"),
        json!(10)
    );

    // A click decodes the point.
    let centre = browser.point_in("map", 0.0, 0.0);
    browser.mouse("mousePressed", centre);
    browser.mouse("mouseReleased", centre);
    browser.wait_for("document.getElementById('decoded').dataset.version === '1'");
    let lit = browser.eval(
        "(() => { const c = document.getElementById('decoded'); \
         const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0; \
         for (let i = 0; i < d.length; i += 4) if (d[i] > 40) n++; return n; })()",
    );
    assert!(
        lit.as_u64().unwrap() > 100,
        "the decoded image is not blank ({lit})"
    );
    let timing = browser.eval("document.getElementById('timing').textContent");
    eprintln!("explore in Chromium: {}", timing.as_str().unwrap_or("?"));

    // A stroke on the canvas: a vertical line, a "1".
    let top = browser.point_in("draw", 0.0, -70.0);
    browser.mouse("mousePressed", top);
    for step in 1..=14 {
        browser.mouse("mouseMoved", (top.0, top.1 + 10.0 * f64::from(step)));
    }
    browser.mouse("mouseReleased", (top.0, top.1 + 140.0));
    browser.wait_for("document.getElementById('reconstruction').dataset.version === '1'");
    let score = browser.eval("document.getElementById('score').textContent");
    let score: f64 = score.as_str().unwrap().parse().expect("a score");
    assert!(score.is_finite() && score >= 0.0);
    let percentile = browser.eval("document.getElementById('percentile').textContent");
    assert!(percentile.as_str().unwrap().ends_with('%'), "{percentile}");
    browser.wait_for("document.querySelectorAll('#samples canvas').length === 16");
    assert_eq!(
        browser.eval("document.getElementById('error').hidden"),
        json!(true)
    );

    let shot = browser.call("Page.captureScreenshot", json!({ "format": "png" }));
    use base64::Engine as _;
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().unwrap())
        .unwrap();
    let out = std::env::var_os("AE_EXPLORE_SCREENSHOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("explore-screenshot.png"));
    std::fs::write(&out, &png).unwrap();
    let picture = image::open(&out).expect("the screenshot reads back");
    assert!(picture.width() >= 1000, "{}", picture.width());
    eprintln!("screenshot: {}", out.display());
}
