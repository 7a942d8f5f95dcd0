// The explorer's page: talks to the JSON API of this example (see its README), draws with the
// 2-D canvas API; no libraries, so it works offline.
"use strict";

const token = new URLSearchParams(location.search).get("token") || "";
const $ = (id) => document.getElementById(id);
// Ten colours that stay apart (Okabe-Ito and Tableau), one per class.
const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
  "#7f7f7f", "#bcbd22", "#17becf"];
const MARGIN = { left: 62, right: 14, top: 12, bottom: 46 };
const state = { info: null, map: null, view: null, picks: [], drawn: null, strokes: 0 };

async function api(path, body) {
  const options = { headers: { Authorization: "Bearer " + token } };
  if (body !== undefined) {
    options.method = "POST";
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch("api/" + path, options);
  const answer = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(answer.error || response.statusText);
  return answer;
}

function showError(err) {
  $("error").hidden = false;
  $("error").textContent = String(err.message || err);
}

// Draws one image of the API ({channels, height, width, pixels}) to fill `canvas`.
function drawImage(canvas, image) {
  const { channels, height, width, pixels } = image;
  const small = document.createElement("canvas");
  small.width = width;
  small.height = height;
  const ctx = small.getContext("2d");
  const data = ctx.createImageData(width, height);
  const plane = width * height;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) data.data[4 * i + c] = pixels[(channels === 3 ? c * plane : 0) + i];
    data.data[4 * i + 3] = 255;
  }
  ctx.putImageData(data, 0, 0);
  const target = canvas.getContext("2d");
  target.imageSmoothingEnabled = false;
  target.drawImage(small, 0, 0, canvas.width, canvas.height);
}

function strip(container, images) {
  container.replaceChildren(...images.map((image) => {
    const canvas = document.createElement("canvas");
    canvas.width = image.width;
    canvas.height = image.height;
    drawImage(canvas, image);
    return canvas;
  }));
}

// "Nice" tick values covering [lo, hi].
function ticks(lo, hi, count) {
  const raw = (hi - lo) / count;
  const step = [1, 2, 5, 10].map((m) => m * 10 ** Math.floor(Math.log10(raw))).find((s) => s >= raw);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(+v.toFixed(10));
  return out;
}

function setView() {
  const { x, y } = state.map;
  const pad = (lo, hi) => { const d = (hi - lo) * 0.05 || 1; return [lo - d, hi + d]; };
  const [x0, x1] = pad(Math.min(...x), Math.max(...x));
  const [y0, y1] = pad(Math.min(...y), Math.max(...y));
  const canvas = $("map");
  const w = canvas.width - MARGIN.left - MARGIN.right, h = canvas.height - MARGIN.top - MARGIN.bottom;
  state.view = {
    x0, x1, y0, y1,
    toPx: (vx, vy) => [MARGIN.left + (vx - x0) / (x1 - x0) * w, MARGIN.top + (1 - (vy - y0) / (y1 - y0)) * h],
    fromPx: (px, py) => [x0 + (px - MARGIN.left) / w * (x1 - x0), y0 + (1 - (py - MARGIN.top) / h) * (y1 - y0)],
  };
}

function drawMap() {
  const canvas = $("map"), ctx = canvas.getContext("2d"), view = state.view;
  const { x, y, labels } = state.map;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillStyle = "#333";
  ctx.strokeStyle = "#e5e5e5";
  ctx.textAlign = "center";
  for (const t of ticks(view.x0, view.x1, 8)) {
    const [px] = view.toPx(t, view.y0);
    ctx.beginPath(); ctx.moveTo(px, MARGIN.top); ctx.lineTo(px, canvas.height - MARGIN.bottom); ctx.stroke();
    ctx.fillText(String(t), px, canvas.height - MARGIN.bottom + 16);
  }
  ctx.textAlign = "right";
  for (const t of ticks(view.y0, view.y1, 8)) {
    const [, py] = view.toPx(view.x0, t);
    ctx.beginPath(); ctx.moveTo(MARGIN.left, py); ctx.lineTo(canvas.width - MARGIN.right, py); ctx.stroke();
    ctx.fillText(String(t), MARGIN.left - 6, py + 4);
  }
  ctx.strokeStyle = "#333";
  ctx.strokeRect(MARGIN.left, MARGIN.top, canvas.width - MARGIN.left - MARGIN.right,
    canvas.height - MARGIN.top - MARGIN.bottom);
  ctx.textAlign = "center";
  ctx.fillText(state.info.axes[0], MARGIN.left + (canvas.width - MARGIN.left - MARGIN.right) / 2, canvas.height - 8);
  ctx.save();
  ctx.translate(14, MARGIN.top + (canvas.height - MARGIN.top - MARGIN.bottom) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText(state.info.axes[1], 0, 0);
  ctx.restore();
  ctx.globalAlpha = 0.75;
  for (let i = 0; i < x.length; i++) {
    const [px, py] = view.toPx(x[i], y[i]);
    ctx.fillStyle = COLOURS[labels[i] % COLOURS.length];
    ctx.beginPath(); ctx.arc(px, py, 2.6, 0, 2 * Math.PI); ctx.fill();
  }
  ctx.globalAlpha = 1;
  state.picks.forEach((i, k) => {
    const [px, py] = view.toPx(x[i], y[i]);
    ctx.strokeStyle = "#000"; ctx.lineWidth = 2;
    ctx.beginPath(); ctx.arc(px, py, 7, 0, 2 * Math.PI); ctx.stroke();
    ctx.fillStyle = "#000"; ctx.fillText(k === 0 ? "A" : "B", px + 11, py - 8);
    ctx.lineWidth = 1;
  });
  if (state.drawn) {
    const [px, py] = view.toPx(state.drawn.x, state.drawn.y);
    ctx.fillStyle = "#000";
    ctx.font = "bold 22px system-ui, sans-serif";
    ctx.fillText("★", px, py + 7);
  }
  drawLegend(state.info.classes);
}

// The first classes by name, as text (a class name is a folder's name: never markup), and how
// many more there are: the colours repeat after ten, and a dataset may have thousands.
const LEGEND_ENTRIES = 20;
function drawLegend(classes) {
  const legend = $("legend");
  legend.replaceChildren();
  classes.slice(0, LEGEND_ENTRIES).forEach((name, i) => {
    const entry = document.createElement("span");
    entry.style.setProperty("--c", COLOURS[i % COLOURS.length]);
    entry.textContent = name;
    legend.append(entry);
  });
  if (classes.length > LEGEND_ENTRIES) {
    const more = document.createElement("em");
    more.textContent = `and ${classes.length - LEGEND_ENTRIES} more classes`;
    legend.append(more);
  }
}

function nearest(px, py) {
  const { x, y } = state.map;
  let best = -1, bestDistance = 49; // within 7 pixels
  for (let i = 0; i < x.length; i++) {
    const [qx, qy] = state.view.toPx(x[i], y[i]);
    const d = (qx - px) ** 2 + (qy - py) ** 2;
    if (d < bestDistance) { best = i; bestDistance = d; }
  }
  return best;
}

function canvasPoint(canvas, event) {
  const rect = canvas.getBoundingClientRect();
  return [(event.clientX - rect.left) * canvas.width / rect.width,
    (event.clientY - rect.top) * canvas.height / rect.height];
}

function label(i) {
  const classes = state.info.classes;
  return `#${i}` + (classes.length ? ` (${classes[state.map.labels[i]]})` : "");
}

async function onMapClick(event) {
  const [px, py] = canvasPoint($("map"), event);
  const [vx, vy] = state.view.fromPx(px, py);
  const started = performance.now();
  try {
    const image = await api("decode", { x: vx, y: vy });
    drawImage($("decoded"), image);
    const ms = performance.now() - started;
    $("decoded").dataset.version = String(+$("decoded").dataset.version + 1);
    $("decoded-at").textContent = `(${vx.toFixed(2)}, ${vy.toFixed(2)})`;
    $("timing").textContent = `last click decoded in ${ms.toFixed(1)} ms`;
    console.log(`click answered in ${ms.toFixed(1)} ms`);
  } catch (err) { showError(err); }
  const picked = nearest(px, py);
  if (picked >= 0) {
    state.picks = [...state.picks, picked].slice(-2);
    $("pick-a").textContent = label(state.picks[0]);
    $("pick-b").textContent = state.picks[1] === undefined ? "–" : label(state.picks[1]);
    drawMap();
    if (state.picks.length === 2) {
      try {
        const answer = await api("interpolate", { a: state.picks[0], b: state.picks[1], steps: 10 });
        strip($("interpolation"), answer.images);
      } catch (err) { showError(err); }
    }
  }
}

function onMapHover(event) {
  const [px, py] = canvasPoint($("map"), event);
  const i = nearest(px, py);
  const tooltip = $("tooltip");
  if (i < 0) { tooltip.hidden = true; return; }
  tooltip.hidden = false;
  tooltip.style.left = event.clientX + 14 + "px";
  tooltip.style.top = event.clientY + 14 + "px";
  $("tooltip-image").src = `api/image/${i}?token=${encodeURIComponent(token)}`;
  $("tooltip-text").textContent = `${label(i)}, score ${state.map.scores[i].toFixed(4)}`;
}

// The drawing canvas: strokes in white on black, as the digits are; encoded after each stroke.
function setUpDrawing() {
  const canvas = $("draw"), ctx = canvas.getContext("2d");
  const clear = () => { ctx.fillStyle = "#000"; ctx.fillRect(0, 0, canvas.width, canvas.height); };
  clear();
  let last = null;
  canvas.addEventListener("pointerdown", (event) => {
    last = canvasPoint(canvas, event);
    canvas.setPointerCapture(event.pointerId);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!last) return;
    const point = canvasPoint(canvas, event);
    ctx.strokeStyle = "#fff"; ctx.lineWidth = canvas.width / 12; ctx.lineCap = "round";
    ctx.beginPath(); ctx.moveTo(...last); ctx.lineTo(...point); ctx.stroke();
    last = point;
  });
  const end = () => { if (last) { last = null; state.strokes++; encodeDrawing(); } };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  $("clear").addEventListener("click", () => { clear(); state.drawn = null; drawMap(); });
}

async function encodeDrawing() {
  const [channels, height, width] = state.info.input_shape;
  const small = document.createElement("canvas");
  small.width = width; small.height = height;
  const ctx = small.getContext("2d");
  ctx.drawImage($("draw"), 0, 0, width, height);
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const pixels = [];
  for (let c = 0; c < channels; c++)
    for (let i = 0; i < width * height; i++) pixels.push(rgba[4 * i + (channels === 3 ? c : 0)] / 255);
  try {
    const answer = await api("encode", { pixels });
    drawImage($("reconstruction"), answer.reconstruction);
    $("reconstruction").dataset.version = String(+$("reconstruction").dataset.version + 1);
    $("score").textContent = answer.score.toFixed(4);
    $("percentile").textContent = answer.percentile.toFixed(1) + "%";
    state.drawn = { x: answer.x, y: answer.y };
    drawMap();
    drawCode(answer.code);
  } catch (err) { showError(err); }
}

function drawCode(code) {
  const canvas = $("code"), ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const top = Math.max(1e-6, ...code.map(Math.abs)), w = canvas.width / code.length, mid = canvas.height / 2;
  ctx.fillStyle = "#555";
  code.forEach((v, i) => {
    const h = v / top * (mid - 2);
    ctx.fillRect(i * w + 1, Math.min(mid, mid - h), Math.max(1, w - 2), Math.abs(h));
  });
  ctx.strokeStyle = "#999"; ctx.beginPath(); ctx.moveTo(0, mid); ctx.lineTo(canvas.width, mid); ctx.stroke();
}

async function newSamples() {
  try {
    const seed = Math.floor(Math.random() * 1e9);
    const answer = await api(`samples?n=16&seed=${seed}`);
    strip($("samples"), answer.images);
  } catch (err) { showError(err); }
}

async function main() {
  try {
    state.info = await api("info");
    const info = state.info;
    $("model").textContent = `${info.name}: a ${info.kind} model, codes of ${info.latent_dim} ` +
      `numbers, ${info.count} test images, mapped by ` +
      (info.projection === "pca" ? "PCA of the codes" : "the codes themselves");
    state.map = await api("map");
    setView();
    drawMap();
    $("map").dataset.points = String(state.map.x.length);
    $("map-status").textContent = `${state.map.x.length} points`;
    $("map").addEventListener("click", onMapClick);
    $("map").addEventListener("mousemove", onMapHover);
    $("map").addEventListener("mouseleave", () => { $("tooltip").hidden = true; });
    setUpDrawing();
    if (info.can_sample) {
      $("vae-panel").hidden = false;
      $("sample").addEventListener("click", newSamples);
      newSamples();
    }
  } catch (err) { showError(err); }
}

main();
