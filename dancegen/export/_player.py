"""The HTML/JavaScript skeleton player written by :mod:`dancegen.export.html` (no external resources).

``__DATA__`` is replaced by a JSON object (``fps``, ``frames``, ``joints``, ``parents``, ``side``, ``hand_start``,
``positions`` = base64 little-endian float32 (T·J·3), ``floor``, ``center``, ``genre``, ``text``, ``has_audio``) and
``__AUDIO__`` by a ``src="data:..."`` attribute or nothing. The page exposes ``window.dancePlayer``.
"""

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>dancegen player</title>
<style>
  body { margin: 0; background: #15171c; color: #e8e8e8; font: 14px system-ui, sans-serif; }
  #wrap { max-width: 980px; margin: 0 auto; padding: 12px; }
  #info { margin-bottom: 8px; }
  #genre { font-weight: 600; color: #ffcf5c; margin-right: 8px; }
  #text { color: #b8c0cc; }
  canvas { display: block; width: 100%; background: #1d2027; border-radius: 6px; cursor: grab; }
  #controls { display: flex; gap: 10px; align-items: center; margin-top: 8px; }
  #scrub { flex: 1; }
  button { background: #2d3340; color: #e8e8e8; border: 1px solid #444b5a; border-radius: 4px; padding: 4px 14px; }
  #clock { font-variant-numeric: tabular-nums; min-width: 130px; text-align: right; }
  #hint { color: #7d8594; font-size: 12px; margin-top: 4px; }
</style>
</head>
<body>
<div id="wrap">
  <div id="info"><span id="genre"></span><span id="text"></span></div>
  <canvas id="view" width="960" height="600"></canvas>
  <div id="controls">
    <button id="play" type="button">Play</button>
    <input id="scrub" type="range" min="0" max="0" value="0" step="1">
    <span id="clock"></span>
  </div>
  <div id="hint">drag to orbit the camera, wheel to zoom, space to play/pause</div>
  <audio id="audio" preload="auto" __AUDIO__></audio>
</div>
<script id="dance-data" type="application/json">__DATA__</script>
<script>
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("dance-data").textContent);
  var bin = atob(data.positions);
  var bytes = new Uint8Array(bin.length);
  for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  var pos = new Float32Array(bytes.buffer);
  var T = data.frames, J = data.joints, fps = data.fps;
  var canvas = document.getElementById("view"), ctx = canvas.getContext("2d");
  var audio = document.getElementById("audio"), button = document.getElementById("play");
  var scrub = document.getElementById("scrub"), clock = document.getElementById("clock");
  document.getElementById("genre").textContent = data.genre;
  document.getElementById("text").textContent = data.text;
  scrub.max = String(T - 1);

  var cam = { yaw: 0.5, pitch: 0.22, dist: 4.2, fov: 0.9 };
  var state = { frame: 0, playing: false, useTimer: !data.has_audio, start: 0, offset: 0 };

  function clampFrame(f) { return Math.max(0, Math.min(T - 1, f)); }
  function clockSeconds() {
    if (!state.useTimer) return audio.currentTime;
    return state.playing ? state.offset + (performance.now() - state.start) / 1000 : state.offset;
  }
  function clockFrame() { return Math.floor(clockSeconds() * fps + 1e-6); }

  function project(x, y, z, eye, right, up, fwd, focal) {
    var dx = x - eye[0], dy = y - eye[1], dz = z - eye[2];
    var depth = dx * fwd[0] + dy * fwd[1] + dz * fwd[2];
    if (depth < 0.05) return null;
    var px = dx * right[0] + dy * right[1] + dz * right[2];
    var py = dx * up[0] + dy * up[1] + dz * up[2];
    return [canvas.width / 2 + focal * px / depth, canvas.height / 2 - focal * py / depth];
  }

  function draw() {
    var f = state.frame, base = f * J * 3;
    var c = data.center, tx = c[0], ty = c[1], tz = c[2];
    var cp = Math.cos(cam.pitch), sp = Math.sin(cam.pitch);
    var eye = [tx + cam.dist * cp * Math.sin(cam.yaw), ty + cam.dist * sp, tz + cam.dist * cp * Math.cos(cam.yaw)];
    var fwd = [tx - eye[0], ty - eye[1], tz - eye[2]];
    var n = Math.hypot(fwd[0], fwd[1], fwd[2]); fwd = [fwd[0] / n, fwd[1] / n, fwd[2] / n];
    var right = [-fwd[2], 0, fwd[0]]; n = Math.hypot(right[0], right[2]); right = [right[0] / n, 0, right[2] / n];
    var up = [right[1] * fwd[2] - right[2] * fwd[1], right[2] * fwd[0] - right[0] * fwd[2],
              right[0] * fwd[1] - right[1] * fwd[0]];
    var focal = canvas.height / (2 * Math.tan(cam.fov / 2));
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.lineWidth = 1; ctx.strokeStyle = "#343a46";
    var g = 5, step = 0.5, gx = Math.round(tx / step) * step, gz = Math.round(tz / step) * step;
    for (var k = -g; k <= g; k += step) {
      line(project(gx + k, data.floor, gz - g, eye, right, up, fwd, focal),
           project(gx + k, data.floor, gz + g, eye, right, up, fwd, focal));
      line(project(gx - g, data.floor, gz + k, eye, right, up, fwd, focal),
           project(gx + g, data.floor, gz + k, eye, right, up, fwd, focal));
    }
    var pts = new Array(J);
    for (var j = 0; j < J; j++) {
      pts[j] = project(pos[base + 3 * j], pos[base + 3 * j + 1], pos[base + 3 * j + 2], eye, right, up, fwd, focal);
    }
    var colours = ["#9aa3b2", "#5cb3ff", "#ff7a6b"];
    for (j = 1; j < J; j++) {
      ctx.strokeStyle = colours[data.side[j]];
      ctx.lineWidth = j >= data.hand_start ? 1.5 : 4;
      line(pts[data.parents[j]], pts[j]);
    }
    ctx.fillStyle = "#f2f2f2";
    for (j = 0; j < J; j++) {
      if (!pts[j]) continue;
      var r = j >= data.hand_start ? 1.5 : 3;
      ctx.beginPath(); ctx.arc(pts[j][0], pts[j][1], r, 0, 2 * Math.PI); ctx.fill();
    }
    clock.textContent = (f / fps).toFixed(2) + " s  frame " + f + "/" + (T - 1);
  }
  function line(a, b) {
    if (!a || !b) return;
    ctx.beginPath(); ctx.moveTo(a[0], a[1]); ctx.lineTo(b[0], b[1]); ctx.stroke();
  }

  function show(f) { state.frame = clampFrame(f); scrub.value = String(state.frame); draw(); }
  function startTimer(seconds) { state.useTimer = true; state.offset = seconds; state.start = performance.now(); }
  function play() {
    if (state.playing) return Promise.resolve();
    if (state.frame >= T - 1) seek(0);
    state.playing = true; button.textContent = "Pause";
    state.start = performance.now();
    if (state.useTimer) return Promise.resolve();
    return audio.play().catch(function () { startTimer(state.frame / fps); });
  }
  function pause() {
    if (!state.playing) return;
    state.offset = clockSeconds();
    state.playing = false; button.textContent = "Play";
    if (!state.useTimer) audio.pause();
  }
  function seek(f) {
    f = clampFrame(Math.floor(f));
    state.offset = f / fps; state.start = performance.now();
    if (data.has_audio) audio.currentTime = f / fps;
    show(f);
  }
  function tick() {
    if (state.playing) {
      var f = clockFrame();
      if (f >= T - 1 || (!state.useTimer && audio.ended)) { show(T - 1); pause(); } else { show(f); }
    }
    requestAnimationFrame(tick);
  }

  button.addEventListener("click", function () { if (state.playing) pause(); else play(); });
  scrub.addEventListener("input", function () { seek(Number(scrub.value)); });
  audio.addEventListener("ended", function () { if (!state.useTimer) { show(T - 1); pause(); } });
  document.addEventListener("keydown", function (e) {
    if (e.code === "Space" && e.target === document.body) { e.preventDefault(); button.click(); }
  });
  var drag = null;
  canvas.addEventListener("pointerdown", function (e) {
    drag = [e.clientX, e.clientY]; canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener("pointerup", function () { drag = null; });
  canvas.addEventListener("pointermove", function (e) {
    if (!drag) return;
    cam.yaw -= (e.clientX - drag[0]) * 0.01;
    cam.pitch = Math.max(-0.2, Math.min(1.4, cam.pitch + (e.clientY - drag[1]) * 0.01));
    drag = [e.clientX, e.clientY]; draw();
  });
  canvas.addEventListener("wheel", function (e) {
    e.preventDefault(); cam.dist = Math.max(1, Math.min(20, cam.dist * Math.exp(e.deltaY * 0.001))); draw();
  }, { passive: false });

  window.dancePlayer = {
    get frame() { return state.frame; },
    get playing() { return state.playing; },
    get usesAudioClock() { return !state.useTimer; },
    get currentTime() { return clockSeconds(); },
    frames: T, fps: fps, hasAudio: data.has_audio, genre: data.genre, text: data.text,
    play: play, pause: pause, seek: seek,
    orbit: function (dyaw, dpitch) { cam.yaw += dyaw; cam.pitch += dpitch || 0; draw(); }
  };
  show(0);
  requestAnimationFrame(tick);
})();
</script>
</body>
</html>
"""
