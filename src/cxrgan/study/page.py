"""The reading page: one self-contained HTML file that a reader opens from disk.

It holds the study's opaque id, and per image only an opaque id and the PNG as a data URI: no
path, no class, nothing that says which images are real. Answers live in the browser's
localStorage under the study id (a reader can close the page and continue) and leave as a
JSON file from the "export answers" button.
"""

from __future__ import annotations

import html
import json

ANSWERS_FORMAT = 1

STYLE = """
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.4 system-ui, sans-serif; background: #111; color: #ddd; }
header { display: flex; gap: 1em; align-items: center; padding: .5em 1em; background: #222; }
header h1 { font-size: 16px; margin: 0; font-weight: 600; }
#bar { flex: 1; height: 10px; background: #333; border-radius: 5px; overflow: hidden; }
#fill { height: 100%; width: 0; background: #4a9; }
#count { min-width: 7em; text-align: right; }
main { padding: 1em; text-align: center; }
#stage { display: inline-block; cursor: crosshair; user-select: none; }
#stage img { display: block; image-rendering: pixelated; }
#status { margin: .6em 0; min-height: 1.4em; }
.key { display: inline-block; border: 1px solid #777; border-radius: 3px; padding: 0 .35em;
       font-family: monospace; }
#intro, #done { max-width: 44em; margin: 2em auto; text-align: left; }
button { font: inherit; padding: .3em .9em; }
input { font: inherit; padding: .25em; }
.hidden { display: none !important; }
"""

SCRIPT = r"""
"use strict";
const STUDY = JSON.parse(document.getElementById('study-data').textContent);
const KEY = 'cxrgan-study-' + STUDY.study;
const $ = id => document.getElementById(id);
let state = load();
let pending = null;          // 'R' or 'F' waiting for a confidence
let wl = {b: 1, c: 1};       // window/level as CSS brightness and contrast
let drag = null;

function load() {
  try {
    const s = JSON.parse(localStorage.getItem(KEY));
    if (s && s.answers) return s;
  } catch (e) { /* a corrupt entry starts again */ }
  return {reader: '', answers: {}, index: 0};
}
function save() { localStorage.setItem(KEY, JSON.stringify(state)); }
function answered() { return STUDY.images.filter(i => state.answers[i.id]).length; }
function nextOpen(from) {
  for (let k = 0; k < STUDY.images.length; k++) {
    const i = (from + k) % STUDY.images.length;
    if (!state.answers[STUDY.images[i].id]) return i;
  }
  return -1;
}
function render() {
  const n = STUDY.images.length, done = answered();
  $('fill').style.width = (100 * done / n) + '%';
  $('count').textContent = done + ' / ' + n;
  $('who').textContent = state.reader ? 'reader: ' + state.reader : '';
  const started = !!state.reader;
  $('intro').classList.toggle('hidden', started);
  const finished = started && done === n && state.index >= n;
  $('done').classList.toggle('hidden', !finished);
  $('reading').classList.toggle('hidden', !started || finished);
  if (!started || finished) return;
  const item = STUDY.images[state.index];
  const img = $('image');
  if (img.dataset.id !== item.id) {
    img.src = item.src;
    img.dataset.id = item.id;
    wl = {b: 1, c: 1};
  }
  img.style.filter = 'brightness(' + wl.b.toFixed(2) + ') contrast(' + wl.c.toFixed(2) + ')';
  const prev = state.answers[item.id];
  $('position').textContent = 'image ' + (state.index + 1) + ' of ' + n;
  $('status').textContent = pending
    ? (pending === 'R' ? 'real' : 'fake') + ': now press 1-5 for your confidence'
    : prev ? 'answered ' + (prev.answer === 'R' ? 'real' : 'fake') + ' ' + prev.confidence +
             ' (answer again to change it)' : 'press R or F';
}
function start() {
  const name = $('reader').value.trim();
  if (!name) { $('reader').focus(); return; }
  state.reader = name;
  state.index = Math.max(0, nextOpen(0));
  save(); render();
}
function record(conf) {
  const item = STUDY.images[state.index];
  state.answers[item.id] = {answer: pending, confidence: conf, time: new Date().toISOString()};
  pending = null;
  const next = nextOpen(state.index + 1);
  state.index = next < 0 ? STUDY.images.length : next;
  save(); render();
}
function exportAnswers() {
  const data = {format: STUDY.format, study: STUDY.study, reader: state.reader,
                exported: new Date().toISOString(), n_images: STUDY.images.length,
                answers: state.answers};
  return JSON.stringify(data, null, 1);
}
function download() {
  const blob = new Blob([exportAnswers()], {type: 'application/json'});
  const a = document.createElement('a');
  const safe = (state.reader || 'reader').replace(/[^A-Za-z0-9_-]+/g, '_');
  a.href = URL.createObjectURL(blob);
  a.download = 'answers-' + safe + '.json';
  document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}
document.addEventListener('keydown', ev => {
  if (!state.reader || ev.target.tagName === 'INPUT' || ev.ctrlKey || ev.metaKey) return;
  const k = ev.key.toUpperCase(), n = STUDY.images.length;
  if (state.index >= n) return;
  if (k === 'R' || k === 'F') pending = k;
  else if (pending && '12345'.includes(k) && k.length === 1) return record(Number(k));
  else if (k === 'ESCAPE') pending = null;
  else if (k === 'ARROWLEFT' && state.index > 0) { state.index--; pending = null; save(); }
  else if (k === 'ARROWRIGHT' && state.index < n - 1) { state.index++; pending = null; save(); }
  else if (k === '0') wl = {b: 1, c: 1};
  else return;
  ev.preventDefault(); render();
});
const stage = $('stage');
stage.addEventListener('mousedown', ev => {
  drag = {x: ev.clientX, y: ev.clientY, b: wl.b, c: wl.c}; ev.preventDefault();
});
window.addEventListener('mouseup', () => { drag = null; });
window.addEventListener('mousemove', ev => {
  if (!drag) return;
  // Drag right: more contrast (a narrower window); drag up: brighter (a lower level).
  wl.c = Math.min(5, Math.max(0.2, drag.c * Math.exp((ev.clientX - drag.x) / 200)));
  wl.b = Math.min(5, Math.max(0.2, drag.b * Math.exp((drag.y - ev.clientY) / 200)));
  render();
});
stage.addEventListener('dblclick', () => { wl = {b: 1, c: 1}; render(); });
$('start').addEventListener('click', start);
$('reader').addEventListener('keydown', ev => { if (ev.key === 'Enter') start(); });
for (const id of ['export', 'export2']) $(id).addEventListener('click', download);
window.studyExport = exportAnswers;
render();
"""

BODY = """
<header><h1>{title}</h1><div id="bar"><div id="fill"></div></div><span id="count"></span>
<span id="who"></span><button id="export" type="button">export answers</button></header>
<main>
<section id="intro" class="hidden">
<p>You will see {n} chest X-rays, one at a time, at their stored resolution. Some are real
radiographs, some were made by a generative model. For each image press
<span class="key">R</span> (real) or <span class="key">F</span> (fake), then a confidence from
<span class="key">1</span> (guess) to <span class="key">5</span> (certain).</p>
<p>Drag on the image to window it: right and left change the contrast, up and down the
brightness; double-click or <span class="key">0</span> resets. <span class="key">&larr;</span>
and <span class="key">&rarr;</span> move between images to revisit an answer. Answers are kept
in this browser, so you can close the page and continue later. When you are done, press
"export answers" and send the file to the study's organiser.</p>
<p><label>Your name or reader code: <input id="reader" autocomplete="off"></label>
<button id="start" type="button">start</button></p>
</section>
<section id="reading" class="hidden">
<div id="position"></div>
<div id="stage"><img id="image" alt="image to read"></div>
<div id="status"></div>
</section>
<section id="done" class="hidden">
<p>Every image has an answer. Thank you. Press "export answers" and send the file to the
study's organiser. (&larr; goes back to change an answer.)</p>
<p><button id="export2" type="button">export answers</button></p>
</section>
</main>
"""


def study_page(study_id: str, title: str, images: list[tuple[str, str]]) -> str:
    """The page for `images`, (opaque id, PNG data URI) in reading order."""
    data = {
        "format": ANSWERS_FORMAT,
        "study": study_id,
        "images": [{"id": i, "src": src} for i, src in images],
    }
    # `</` cannot end the script element early: JSON allows the escaped form.
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n"
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style></head>\n<body>"
        + BODY.format(title=html.escape(title), n=len(images))
        + f'<script id="study-data" type="application/json">{payload}</script>\n'
        + f"<script>{SCRIPT}</script>\n</body></html>\n"
    )
