"""A small browser-side piece of the Deploy page (Streamlit components v2, inline JavaScript).

`refused_uploads`: how many files a keyed `st.file_uploader` shows as refused. The uploader
refuses a wrong type or a too-large file in the browser and keeps its previous file as its
value, so Python alone cannot tell that the picture on screen is no longer the one answered;
this watcher counts the uploader's error chips and reports each change (a rerun).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui.markup import REFUSED_FILE_SELECTOR, key_class

# The uploader's refused files carry an error icon, found by Streamlit's test id (ui/markup.py).
_WATCH_JS = """
const WATCHERS = new WeakMap();
export default function (component) {
  const {data, parentElement, setStateValue} = component;
  if (WATCHERS.has(parentElement)) return;
  const count = () => {
    const uploader = document.querySelector(`.${data.uploaderClass}`);
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


def refused_uploads(uploader_key: str, key: str) -> int:
    """How many refused files the uploader with key `uploader_key` shows now (0 in AppTest)."""
    result: Any = _watcher(
        data={"uploaderClass": key_class(uploader_key), "errorChip": REFUSED_FILE_SELECTOR},
        key=key,
        default={"refused": 0},
        on_refused_change=lambda: None,
        width="content",
        height="content",
    )
    refused = result.get("refused") if result is not None else 0
    return refused if isinstance(refused, int) else 0
