//! The `explore` example against a real server and a real browser: every API endpoint, its bad
//! inputs and an oversized body over HTTP, then the page in headless Chromium (Debian's
//! `chromium`) driven through the DevTools protocol: the map draws, a click decodes, a stroke on
//! the canvas updates the reconstruction; a screenshot is written and read back.

mod common;

use common::browser;
use common::explore_server::{TOKEN, get, limit, post, refused, request, request_as, start};

use std::path::PathBuf;

use serde_json::{Value, json};

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
