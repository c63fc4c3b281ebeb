"""The static CSS and JavaScript inlined into every report page."""

from __future__ import annotations

CSS = """
:root{--fg:#1f2328;--muted:#59636e;--bg:#f5f6f8;--card:#fff;--border:#d8dee4;--accent:#0969da;
--ok:#1a7f37;--ok-bg:#e9f7ee;--warn:#9a6700;--warn-bg:#fff6dd;--bad:#cf222e;--bad-bg:#ffebe9;
--info:#0969da;--info-bg:#e8f1fe}
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,
sans-serif;color:var(--fg);background:var(--bg)}
header.top{background:var(--card);border-bottom:1px solid var(--border);padding:18px 32px 0;
position:sticky;top:0;z-index:5}
header .title{display:flex;align-items:center;gap:12px;flex-wrap:wrap}
h1{font-size:22px;margin:0;font-weight:650;letter-spacing:-.01em}
header .sub{color:var(--muted);font-size:12.5px;margin:4px 0 10px}
header .path{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
nav{display:flex;gap:2px;flex-wrap:wrap}
nav a{color:var(--muted);text-decoration:none;padding:6px 12px;border-bottom:2px solid
transparent;font-weight:500}
nav a:hover{color:var(--fg);border-bottom-color:var(--accent)}
main{max-width:1280px;margin:0 auto;padding:8px 32px 32px}
footer{max-width:1280px;margin:0 auto;padding:0 32px 32px;color:var(--muted);font-size:12px}
section.card{background:var(--card);border:1px solid var(--border);border-radius:10px;
padding:18px 22px;margin:18px 0;scroll-margin-top:110px}
h2{font-size:16px;margin:0 0 4px;font-weight:650}
h3{font-size:13px;margin:0 0 6px;color:var(--muted);text-transform:uppercase;
letter-spacing:.04em}
p.note{color:var(--muted);margin:0 0 14px;font-size:13px}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;
background:#f0f2f4;border-radius:4px;padding:1px 5px}
.muted{color:var(--muted)}
.chip{display:inline-block;padding:2px 10px;border-radius:999px;font-size:12px;font-weight:600;
border:1px solid currentColor;white-space:nowrap}
.chip.ok{color:var(--ok);background:var(--ok-bg)}.chip.warn{color:var(--warn);
background:var(--warn-bg)}.chip.bad{color:var(--bad);background:var(--bad-bg)}
.chip.info{color:var(--info);background:var(--info-bg)}.chip.muted{color:var(--muted)}
.banner{margin:18px 0 0;padding:12px 16px;border-radius:10px;background:var(--warn-bg);
border:1px solid #e6cf8b;color:#5c4400}
.diag{display:grid;grid-template-columns:minmax(0,1.6fr) minmax(260px,1fr);gap:24px;
border-left:5px solid var(--info);padding-left:18px}
.diag.ok{border-left-color:var(--ok)}.diag.warn{border-left-color:#d4a72c}
.diag.bad{border-left-color:var(--bad)}
.diag-title{font-size:19px;font-weight:650;margin-bottom:6px}
.diag-title code{font-size:11px;vertical-align:middle;color:var(--muted)}
.advice{font-size:15px;margin:0 0 10px}
.reasons{margin:0 0 10px;padding-left:20px;color:var(--muted)}
pre.hint{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;border:1px solid
var(--border);border-radius:6px;padding:8px 10px;font-size:12px;margin:8px 0 0}
.also{margin:6px 0}
table{border-collapse:collapse;font-size:13px}
table.kv th{text-align:left;font-weight:500;color:var(--muted);padding:3px 14px 3px 0;
vertical-align:top;white-space:nowrap}
table.kv td{padding:3px 0;font-variant-numeric:tabular-nums;word-break:break-word}
table.kv.compact{width:100%}table.kv.compact td{text-align:right}
table.kv.compact tr+tr{border-top:1px solid #eef1f4}
table.data{width:100%}
table.data th{text-align:left;font-weight:600;color:var(--muted);border-bottom:1px solid
var(--border);padding:6px 10px;white-space:nowrap;font-size:12px}
table.data td{padding:7px 10px;border-bottom:1px solid #eef1f4;vertical-align:top;
font-variant-numeric:tabular-nums}
table.data tr:hover td{background:#fafbfc}
.scroll{overflow-x:auto}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(280px,1fr));gap:24px}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:18px 24px}
figure{margin:0}
figure.chart figcaption{font-weight:600;font-size:13px}
.legend{display:flex;gap:14px;flex-wrap:wrap;font-size:12px;color:var(--muted);margin:2px 0 4px}
.legend i,.swatch{display:inline-block;width:14px;height:3px;border-radius:2px;
vertical-align:middle;margin-right:5px}
.swatch{width:10px;height:10px;border-radius:50%}
svg{width:100%;height:auto;display:block;overflow:visible}
svg .plot{fill:#fcfcfd;stroke:var(--border)}
svg .grid{stroke:#e8ebef;stroke-width:1}
svg .tick{font-size:10.5px;fill:var(--muted)}
svg .axlabel{font-size:11px;fill:var(--muted)}
svg .ref{stroke:#868e96;stroke-dasharray:5 4;stroke-width:1.2}
svg .reflabel{font-size:10.5px;fill:#5c636a}
svg .vref{stroke-dasharray:3 3;stroke-width:1.2;stroke-opacity:.8}
svg .vlabel{font-size:10px}
.chartnote{font-size:12px;color:var(--muted);text-align:right}
details.plots{margin-top:16px}details.plots summary{cursor:pointer;color:var(--muted)}
.plotrow{display:flex;gap:16px;flex-wrap:wrap;margin-top:10px}
.plotrow img{max-width:100%;height:auto;border:1px solid var(--border);border-radius:6px}
img.pixelated{image-rendering:pixelated}
img.grid{background:#000;border-radius:6px;max-width:100%;height:auto}
.film .frame{display:flex;flex-direction:column;align-items:center}
.film .frame img{width:min(100%,560px)}
.film figcaption,.pair figcaption,.members figcaption{color:var(--muted);font-size:13px;
margin-top:6px;text-align:center}
#frame-cap{font-weight:600;color:var(--fg);font-size:14px}
.controls{display:flex;align-items:center;gap:8px;max-width:640px;margin:10px auto}
.controls input{flex:1}
.controls button{border:1px solid var(--border);background:var(--card);border-radius:6px;
padding:4px 10px;cursor:pointer;font:inherit}
.controls button:hover{border-color:var(--accent)}
.strip{display:flex;gap:6px;overflow-x:auto;padding:6px 2px 8px;scroll-behavior:smooth}
.thumb{flex:0 0 auto;border:2px solid transparent;border-radius:6px;padding:2px;
background:none;cursor:pointer;display:flex;flex-direction:column;align-items:center}
.thumb img{display:block;width:110px;height:auto;border-radius:3px}
.thumb span{font-size:11px;color:var(--muted)}
.thumb.active{border-color:var(--accent)}.thumb.active span{color:var(--accent);font-weight:600}
.pair{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:24px}
.pair img{display:block;margin:0 auto;width:min(100%,520px)}
.members{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));gap:20px}
.members img{display:block;width:100%}
.memo img{display:block;width:100%;height:auto;border-radius:6px}
.diag-evidence details{margin-top:8px}.diag-evidence summary{cursor:pointer;color:var(--muted);
font-size:12.5px}
.missing{color:var(--muted);border:1px dashed var(--border);border-radius:6px;padding:30px;
text-align:center}
@media (max-width:700px){.diag{grid-template-columns:1fr}main,header.top{padding-left:14px;
padding-right:14px}.charts{grid-template-columns:1fr}}
"""

# The filmstrip: frames live once in a JSON block (the latest one is the <img> already shown).
FILMSTRIP_JS = """
(function () {
  var data = document.getElementById('frames-data');
  var range = document.getElementById('frame-range');
  if (!data || !range) return;
  var frames = JSON.parse(data.textContent);
  var img = document.querySelector('#film .frame img');
  var cap = document.getElementById('frame-cap');
  var thumbs = document.querySelectorAll('#strip .thumb');
  var total = cap.textContent.replace(/^.* of /, '');
  var latest = img.getAttribute('src');
  var timer = null;
  function show(i) {
    i = Math.max(0, Math.min(frames.length - 1, i));
    range.value = String(i);
    img.src = frames[i].src || latest;
    img.alt = 'samples at epoch ' + frames[i].epoch;
    cap.textContent = 'epoch ' + frames[i].epoch + ' of ' + total;
    thumbs.forEach(function (t, k) { t.classList.toggle('active', k === i); });
    var t = thumbs[i];
    if (t && t.scrollIntoView) t.scrollIntoView({block: 'nearest', inline: 'nearest'});
  }
  range.addEventListener('input', function () { show(parseInt(range.value, 10)); });
  thumbs.forEach(function (t) {
    t.addEventListener('click', function () { show(parseInt(t.dataset.i, 10)); });
  });
  document.getElementById('prev').addEventListener('click', function () {
    show(parseInt(range.value, 10) - 1);
  });
  document.getElementById('next').addEventListener('click', function () {
    show(parseInt(range.value, 10) + 1);
  });
  var play = document.getElementById('play');
  play.addEventListener('click', function () {
    if (timer) { clearInterval(timer); timer = null; play.textContent = 'play'; return; }
    if (parseInt(range.value, 10) >= frames.length - 1) show(0);
    play.textContent = 'pause';
    timer = setInterval(function () {
      var i = parseInt(range.value, 10) + 1;
      if (i >= frames.length) { clearInterval(timer); timer = null; play.textContent = 'play'; }
      else show(i);
    }, 450);
  });
  document.addEventListener('keydown', function (ev) {
    if (ev.target === range) return;
    if (ev.key === 'ArrowLeft') show(parseInt(range.value, 10) - 1);
    if (ev.key === 'ArrowRight') show(parseInt(range.value, 10) + 1);
  });
  show(frames.length - 1);
})();
"""
