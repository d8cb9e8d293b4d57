"""Two small browser-side pieces of the Deploy page (Streamlit components v2, inline JavaScript).

`digit_canvas`: a drawing canvas that sends the drawing the moment a stroke ends.

streamlit-drawable-canvas waits a fixed 200 ms after every mouse-up before it sends anything
(a debounce built into its frontend), which alone used up most of the 250 ms budget from stroke
end to answer. This canvas has what the page needs and nothing more: a round pen of a given
width and colour, and on pointer-up the PNG of the drawing (transparent background, the ink in
the alpha channel) as a data URL, sent at once. A new key clears it. The state keeps the
drawable canvas' shape, `{"drawing": {"data": <PNG data URL>, ...}}`, so a test injects a
drawing the same way.

`refused_uploads`: how many files a keyed `st.file_uploader` shows as refused. The uploader
refuses a wrong type or a too-large file in the browser and keeps its previous file as its
value, so Python alone cannot tell that the picture on screen is no longer the one answered;
this watcher counts the uploader's error chips and reports each change (a rerun).
"""

from __future__ import annotations

import base64
from typing import Any

import streamlit as st

from ui.markup import REFUSED_FILE_SELECTOR

_JS = """
const STATES = new WeakMap();

function setUp(parentElement) {
  const canvas = document.createElement("canvas");
  canvas.className = "deploy-canvas";
  parentElement.appendChild(canvas);
  const s = {canvas, ctx: canvas.getContext("2d"), down: false, last: null, strokes: 0,
             pen: 20, colour: "#000", send: null};
  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height];
  };
  const style = () => {
    Object.assign(s.ctx, {lineWidth: s.pen, lineCap: "round", lineJoin: "round",
                          strokeStyle: s.colour, fillStyle: s.colour});
  };
  canvas.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    canvas.setPointerCapture(e.pointerId);
    s.down = true;
    s.last = at(e);
    style();
    s.ctx.beginPath();
    s.ctx.arc(s.last[0], s.last[1], s.pen / 2, 0, 2 * Math.PI);
    s.ctx.fill();
    e.preventDefault();
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!s.down) return;
    const p = at(e);
    s.ctx.beginPath();
    s.ctx.moveTo(s.last[0], s.last[1]);
    s.ctx.lineTo(p[0], p[1]);
    s.ctx.stroke();
    s.last = p;
  });
  const end = () => {
    if (!s.down) return;
    s.down = false;
    s.strokes += 1;
    s.send("drawing", {data: canvas.toDataURL("image/png"), strokes: s.strokes});
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  return s;
}

export default function (component) {
  const {data, parentElement, setStateValue} = component;
  let s = STATES.get(parentElement);
  if (!s) {
    s = setUp(parentElement);
    STATES.set(parentElement, s);
  }
  if (s.canvas.width !== data.size) {
    s.canvas.width = s.canvas.height = data.size;  // resizing also empties it
  }
  s.canvas.style.width = s.canvas.style.height = `${data.size}px`;
  s.pen = data.pen;
  s.colour = data.colour;
  s.send = setStateValue;
  return () => { s.canvas.remove(); STATES.delete(parentElement); };
}
"""

_CSS = """
.deploy-canvas {
  display: block;
  cursor: crosshair;
  touch-action: none;
  border-radius: 0.4rem;
  outline: 1px dashed var(--st-border-color, #d5dde8);
}
"""

_canvas = st.components.v2.component("mnist_studio.digit_canvas", js=_JS, css=_CSS)

# The uploader's refused files carry an error icon, found by Streamlit's test id (ui/markup.py).
_WATCH_JS = """
const WATCHERS = new WeakMap();
export default function (component) {
  const {data, parentElement, setStateValue} = component;
  if (WATCHERS.has(parentElement)) return;
  const count = () => {
    const uploader = document.querySelector(`.st-key-${data.uploader}`);
    return uploader ? uploader.querySelectorAll(data.errorChip).length : 0;
  };
  let last = count();
  const report = () => {
    const n = count();
    if (n !== last) { last = n; setStateValue("refused", n); }
  };
  const observer = new MutationObserver(report);
  observer.observe(document.body, {childList: true, subtree: true});
  WATCHERS.set(parentElement, observer);
  return () => { observer.disconnect(); WATCHERS.delete(parentElement); };
}
"""
_watcher = st.components.v2.component("mnist_studio.refused_uploads", js=_WATCH_JS)


def digit_canvas(size: int, pen: int, colour: str, key: str) -> bytes | None:
    """Draw the canvas; the PNG bytes of the drawing, None before the first stroke."""
    result: Any = _canvas(
        data={"size": size, "pen": pen, "colour": colour},
        key=key,
        default={"drawing": None},
        on_drawing_change=lambda: None,
        width="content",
        height="content",
    )
    drawing = result.get("drawing") if result is not None else None
    url = drawing.get("data") if isinstance(drawing, dict) else None
    if not isinstance(url, str) or ";base64," not in url:
        return None
    return base64.b64decode(url.split(";base64,", 1)[1])


def refused_uploads(uploader_key: str, key: str) -> int:
    """How many refused files the uploader with key `uploader_key` shows now (0 in AppTest)."""
    result: Any = _watcher(
        data={"uploader": uploader_key, "errorChip": REFUSED_FILE_SELECTOR},
        key=key,
        default={"refused": 0},
        on_refused_change=lambda: None,
        width="content",
        height="content",
    )
    refused = result.get("refused") if result is not None else 0
    return refused if isinstance(refused, int) else 0
