"""The documentation site: every page in the navigation, a strict build, and formulas really rendered by MathJax.

The site is built with ``mkdocs build --strict`` into a temporary folder, served on 127.0.0.1 and opened in headless
Chromium (Debian's ``/usr/bin/chromium``, installed by ``scripts/install_chromium.sh``; driven over the DevTools
protocol as in ``tests/dancegen/test_export_html.py``). MathJax is vendored under ``docs/javascripts/mathjax/``, so
the page renders offline.
"""

from __future__ import annotations

import base64
import functools
import http.server
import io
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
MATH_PAGES = ["mtlkit/aggregators/", "mtlkit/methods-projection/"]


def _nav_files(entries: object) -> set[str]:
    found: set[str] = set()
    if isinstance(entries, str):
        found.add(entries.split("#")[0])
    elif isinstance(entries, list):
        for entry in entries:
            found |= _nav_files(entry)
    elif isinstance(entries, dict):
        for value in entries.values():
            found |= _nav_files(value)
    return found


def test_every_page_is_in_the_navigation() -> None:
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    listed = _nav_files(config["nav"])
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert sorted(pages - listed) == [], "pages missing from the nav in mkdocs.yml"
    assert sorted(listed - pages) == [], "nav entries without a page"


def test_mathjax_is_vendored() -> None:
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "javascripts/mathjax/tex-svg-full.js" in text
    assert "://" not in "".join(line for line in text.splitlines() if line.strip().startswith("- ") and ".js" in line)
    assert (DOCS / "javascripts" / "mathjax" / "tex-svg-full.js").stat().st_size > 1_000_000


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("mkdocstrings", reason="the docs build needs the dev extras (mkdocstrings[python])")
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(out)],
                          cwd=ROOT, capture_output=True, text=True, check=False, timeout=600,
                          env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def server(site: Path):
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_api_reference_pages_are_generated(site: Path) -> None:
    mtlkit_page = (site / "api" / "mtlkit" / "index.html").read_text(encoding="utf-8")
    dancegen_page = (site / "api" / "dancegen" / "index.html").read_text(encoding="utf-8")
    for name in ("mtlkit.backward", "mtlkit.get_aggregator", "mtlkit.registry.PluginTable", "mtlkit.testing"):
        assert f'id="{name}"' in mtlkit_page, name
    for name in ("dancegen.pipeline.DancePipeline", "dancegen.export.Exporter", "dancegen.plugins.register_plugin",
                 "dancegen.features.encoder.MusicEncoder", "dancegen.genre.controller.GenreController"):
        assert f'id="{name}"' in dancegen_page, name


# ------------------------------------------------------------------------------------------ headless Chromium


@pytest.fixture(scope="module")
def browser(chromium):
    return chromium("--hide-scrollbars", "--window-size=1280,2000")


# Formulas typeset: every arithmatex element holds an mjx-container and none a TeX error; the visible text outside
# code blocks keeps no TeX delimiter.
STATE = """(() => {
  const spans = [...document.querySelectorAll('.arithmatex')];
  const body = document.querySelector('article') || document.body;
  const copy = body.cloneNode(true);
  copy.querySelectorAll('pre, code, mjx-container, script').forEach(e => e.remove());
  const text = copy.textContent;
  return JSON.stringify({
    mathjax: typeof window.MathJax === 'object' && typeof MathJax.typesetPromise === 'function',
    formulas: spans.length,
    rendered: spans.filter(s => s.querySelector('mjx-container svg')).length,
    containers: document.querySelectorAll('mjx-container').length,
    errors: document.querySelectorAll('mjx-merror, [data-mjx-error]').length,
    raw: ['\\\\(', '\\\\)', '\\\\[', '\\\\]', '$$'].filter(d => text.includes(d)),
  });
})()"""


@pytest.mark.parametrize("page", MATH_PAGES)
def test_formulas_are_rendered_in_chromium(browser, server: str, page: str, tmp_path: Path) -> None:
    browser.open(server + page)
    deadline = time.monotonic() + 60
    while True:
        state = json.loads(str(browser.js(STATE)))
        if state["formulas"] and state["rendered"] == state["formulas"]:
            break
        assert time.monotonic() < deadline, f"MathJax did not typeset the page: {state}"
        time.sleep(0.1)
    browser.js("MathJax.startup.promise", await_promise=True)
    state = json.loads(str(browser.js(STATE)))
    assert state["mathjax"], state
    assert state["formulas"] >= 10, state
    assert state["containers"] >= state["formulas"], state
    assert state["errors"] == 0, state
    assert state["raw"] == [], state

    # a screenshot of the page, and of the first display formula: both must show something
    Image = pytest.importorskip("PIL.Image")
    shot = base64.b64decode(browser.call("Page.captureScreenshot", format="png")["data"])
    path = tmp_path / "page.png"
    path.write_bytes(shot)
    with Image.open(path) as img:
        grey = img.convert("L")
        lo, hi = grey.getextrema()
        assert hi - lo > 100, "the screenshot is blank"
    box = json.loads(str(browser.js(
        "(() => { const e = document.querySelector('div.arithmatex mjx-container') || "
        "document.querySelector('mjx-container'); e.scrollIntoView({block: 'center'}); "
        "const r = e.getBoundingClientRect(); "
        "return JSON.stringify({x: r.x + scrollX, y: r.y + scrollY, width: r.width, height: r.height}); })()")))
    assert box["width"] > 5, box
    assert box["height"] > 5, box
    clip = {**box, "scale": 1}
    formula = base64.b64decode(browser.call("Page.captureScreenshot", format="png", clip=clip)["data"])
    (tmp_path / "formula.png").write_bytes(formula)
    with Image.open(io.BytesIO(formula)) as img:
        grey = img.convert("L")
        dark = sum(grey.histogram()[:128])
        assert dark > 20, f"the formula's box holds no drawn glyphs ({dark} dark pixels)"
