"""Page weight and time to the first interactive explorer, for one or more built books.

    .venv/bin/python -m benchmarks.page_weight [LABEL=HTML_DIR ...] [--runs 5]

Default: the book in _build/html. Give two builds (e.g. before=/tmp/old/html
after=_build/html) to measure them in the same run, alternating, on the same
machine state. Each load is cold: a new browser context (empty cache) per
load, pages served by Python's http.server (no compression, like a plain
static host) from 127.0.0.1, Debian's Chromium as in tests/browser.

Per page it reports the medians over the runs of: bytes transferred (the sum
of encodedDataLength of every response, as DevTools counts it) and requests,
until the network has been idle for 500 ms; DOMContentLoaded; the first
explorer's slider in the page (drawn with its listeners attached, i.e. it
answers to the mouse and keys) measured from navigation start, and as a ratio
to DOMContentLoaded; and whether the page loaded the widget runtime.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import pathlib
import statistics
import sys
import threading

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = ["chapters/03_padding_stride.html", "chapters/04_channels.html", "chapters/01_dense_to_conv.html",
         "intro.html"]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

# Records when the first explorer control exists (it gets its listeners as it is made).
FIRST_CONTROL = """
window.__cnnbook = {};
new MutationObserver((_, obs) => {
  if (document.querySelector('.cnnw input, .cnnw select')) {
    window.__cnnbook.interactive = performance.now();
    obs.disconnect();
  }
}).observe(document, {subtree: true, childList: true});
"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(directory: pathlib.Path) -> tuple[str, http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


def load(browser, url: str, has_widgets: bool) -> dict:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    sizes: dict[str, int] = {}
    urls: list[str] = []
    cdp.on("Network.requestWillBeSent", lambda e: urls.append(e["request"]["url"]))
    cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
    page.add_init_script(FIRST_CONTROL)
    page.goto(url, wait_until="networkidle")
    if has_widgets:
        page.wait_for_function("window.__cnnbook.interactive !== undefined", timeout=30_000)
    page.wait_for_timeout(200)
    timing = page.evaluate("""() => {
        const nav = performance.getEntriesByType('navigation')[0];
        const fcp = performance.getEntriesByName('first-contentful-paint')[0];
        return {dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
                fcp: fcp ? fcp.startTime : null, interactive: window.__cnnbook.interactive ?? null};
    }""")
    context.close()
    return {**timing, "bytes": sum(sizes.values()), "requests": len(urls),
            "runtime": any("/cnnbook/widgets/" in u for u in urls)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("builds", nargs="*", help="LABEL=HTML_DIR (default: now=_build/html)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pages", nargs="*", default=PAGES)
    args = parser.parse_args(argv)
    builds = [b.split("=", 1) for b in args.builds] or [["now", str(ROOT / "_build" / "html")]]

    from playwright.sync_api import sync_playwright

    servers = {label: serve(pathlib.Path(path)) for label, path in builds}
    results: dict[tuple[str, str], list[dict]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for label, _ in builds:  # one warm-up load per build (Chromium's own first-start costs)
            load(browser, f"{servers[label][0]}/{args.pages[0]}", False)
        for _ in range(args.runs):
            for page in args.pages:
                for label, path in builds:
                    html = (pathlib.Path(path) / page).read_text(encoding="utf-8")
                    has_widgets = "application/vnd.jupyter.widget-view+json" in html
                    results.setdefault((page, label), []).append(
                        load(browser, f"{servers[label][0]}/{page}", has_widgets))
        browser.close()
    for _, server in servers.values():
        server.shutdown()

    def med(runs, key):
        values = [r[key] for r in runs if r[key] is not None]
        return statistics.median(values) if values else None

    print("| page | build | transferred | requests | DOMContentLoaded | first explorer interactive |"
          " interactive / DCL | widget runtime loaded |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for (page, label), runs in results.items():
        dcl, inter = med(runs, "dcl"), med(runs, "interactive")
        ratios = [r["interactive"] / r["dcl"] for r in runs if r["interactive"] is not None]
        print(f"| {page} | {label} | {med(runs, 'bytes') / 1e6:.2f} MB | {med(runs, 'requests'):.0f} "
              f"| {dcl:.0f} ms | {f'{inter:.0f} ms' if inter is not None else '-'} "
              f"| {f'{statistics.median(ratios):.2f}' if ratios else '-'} "
              f"| {'yes' if any(r['runtime'] for r in runs) else 'no'} |")
    print(f"\nmedians of {args.runs} cold loads per row", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
