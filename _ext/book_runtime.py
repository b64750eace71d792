"""Serve the book's browser runtime from its own static files, never a CDN; keep pages light.

The widget runtime and MathJax 3 come from the package registries: npm (`make
install` runs `npm ci` on package.json / package-lock.json) and the anywidget
wheel pip installed. When Sphinx reads its configuration this extension copies
what the pages need into <build dir>/.runtime/cnnbook/ and adds that folder to
html_static_path, so the HTML build serves the files as _static/cnnbook/...
The pages load them through _config.yml: ``nb_ipywidgets_js`` (pages with
widgets only) and ``mathjax_path`` / ``mathjax3_config``.

Pages with widgets load one small deferred script, widgets/loader.js
(_ext/widget-loader.js). It draws the explorers (anywidgets) itself from their
stored `_esm`; only a page with another kind of widget makes it load require.js,
@jupyter-widgets/html-manager's embed-amd.js (3.6 MB) and anywidget's front end.
MathJax is loaded as components (startup.js, TeX input, CHTML output, assistive
MathML), and the theme's 1.5 MB fontawesome.js is dropped from every page (its
stylesheet draws the icons from web fonts). benchmarks/README.md has the numbers.

Why here and not a _static/ folder: Jupyter Book 1 adds every .js file it
finds in the html_static_path folders of _config.yml to every page as a
script, which would load embed-amd.js twice and draw every widget twice. It
scans before Sphinx starts, so a folder added at config-inited is not scanned.

A missing runtime (npm step not run) stops the build with a message saying
how to install it, instead of producing a book whose widgets never appear.
"""

from __future__ import annotations

import pathlib
import re
import shutil

from sphinx.errors import ConfigError

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
PREFIX = "cnnbook"  # the folder under _static
# MathJax as components (startup.js loads core, TeX input, CHTML output and assistive
# MathML as _config.yml's mathjax3_config lists them), not the 1.2 MB combined file.
MATHJAX_PARTS = ("startup.js", "core.js", "input", "output", "ui", "a11y", "adaptors", "sre")


def runtime_sources() -> dict[str, pathlib.Path]:
    """Where each served file comes from: {path under _static/cnnbook: source}."""
    import anywidget

    npm = ROOT / "node_modules"
    sources = {
        "widgets/require.js": npm / "requirejs" / "require.js",
        "widgets/require-config.js": HERE / "require-config.js",
        "widgets/loader.js": HERE / "widget-loader.js",
        "widgets/embed-amd.js": npm / "@jupyter-widgets" / "html-manager" / "dist" / "embed-amd.js",
        "widgets/anywidget.js": pathlib.Path(anywidget.__file__).parent / "nbextension" / "index.js",
    }
    dist = npm / "@jupyter-widgets" / "html-manager" / "dist"
    for font in sorted(dist.glob("*.woff*")) + sorted(dist.glob("*.ttf")):  # icon fonts it may request
        sources[f"widgets/{font.name}"] = font
    for part in MATHJAX_PARTS:
        sources[f"mathjax/{part}"] = npm / "mathjax" / "es5" / part
    return sources


def stage(target: pathlib.Path) -> pathlib.Path:
    """Copy the runtime into target/cnnbook/; raise ConfigError naming what is missing."""
    sources = runtime_sources()
    missing = [str(src.relative_to(ROOT) if src.is_relative_to(ROOT) else src)
               for src in sources.values() if not src.exists()]
    if missing:
        more = f" and {len(missing) - 2} more" if len(missing) > 2 else ""
        raise ConfigError(
            f"The book's browser runtime (widgets, MathJax) is missing: {', '.join(missing[:2])}{more}. "
            "Run `make install` (it runs `npm ci`, which needs Node.js and npm) and build again."
        )
    for rel, src in sources.items():
        dest = target / PREFIX / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dest, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dest)
    return target


def check_pages_use_it(config, target: pathlib.Path) -> None:
    """Every widget script and MathJax must be one of the staged local files."""
    wanted = [*config.nb_ipywidgets_js, config.mathjax_path]
    for path in wanted:
        if "://" in path or path.startswith("//"):
            raise ConfigError(f"{path!r} would load from another site; serve it from {PREFIX}/ (see _ext/book_runtime.py)")
        if path.startswith(PREFIX + "/") and not (target / path).is_file():
            raise ConfigError(f"{path!r} (in _config.yml) is not part of the staged runtime in {target}")


def drop_duplicate_scripts(app, pagename, templatename, context, doctree) -> None:
    """Write each script tag once.

    sphinx-thebe 0.3 adds its inline `const THEBE_JS_URL = ...` twice under
    Sphinx 7, and the second copy is a SyntaxError on every page.
    """
    seen, keep = set(), []
    for script in context.get("script_files", []):
        # compare what the tag says (a body-only script has filename None or "")
        key = (getattr(script, "filename", str(script)) or "",
               tuple(sorted((k, str(v)) for k, v in getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            keep.append(script)
    context["script_files"][:] = keep
    drop_unused_mathjax(app, context)


def drop_unused_mathjax(app, context) -> None:
    """Leave MathJax (its configuration and its loader) out of pages with no math.

    myst-nb asks Sphinx to put every asset on every page, so the introduction
    loaded MathJax without a formula on it. Math, whether written in the text
    or in a cell's output, reaches the page as an element of class "math".
    """
    if 'class="math' in context.get("body", ""):
        return
    path = app.config.mathjax_path      # Sphinx lists it as _static/<path>
    context["script_files"][:] = [
        script for script in context["script_files"]
        if not (str(getattr(script, "filename", "") or "").endswith(path)
                or "window.MathJax" in str(getattr(script, "attributes", {}).get("body", "")))]


# pydata-sphinx-theme puts this on every page: 1.5 MB of JavaScript that swaps the
# icons for SVGs. Its stylesheet already draws the same icons from Font Awesome's
# web fonts, so the pages drop the script.
_FONTAWESOME_JS = re.compile(r'[ \t]*<script defer src="[^"]*_static/scripts/fontawesome\.js(?:\?[^"]*)?"></script>\n?')


# Accessible names that differ from the visible label fail axe's label-content-name-mismatch:
# the theme's search field shows "Search Ctrl+K" but is named "Search", and myst-nb's hidden
# cells show "Show code cell source" but are named "Toggle hidden content". Without the
# aria-label, the name is the visible text.
_MISNAMED = (re.compile(r'(<button class="btn search-button-field[^>]*?) aria-label="Search"'),
             re.compile(r'(<summary) aria-label="Toggle hidden content"'))
_WIDGET_VIEW = '<script type="application/vnd.jupyter.widget-view+json">'
_SKIP_LINK = re.compile(r'(<div id="pst-skip-link" class="skip-link d-print-none">.*?</div>)')
_ARTICLE = re.compile(r'(<article class="bd-article"[^>]*>)')
NOSCRIPT = ('<noscript><p class="cnnbook-noscript">The interactive explorers on this page need '
            'JavaScript; with it turned off, the text, code and figures are all here.</p></noscript>')


def tidy_page(text: str) -> str:
    """The built page as readers get it: no fontawesome.js, names that match their labels,
    and on pages with explorers a skip link to the first one and a note for readers
    without JavaScript."""
    text = _FONTAWESOME_JS.sub("", text)
    for pattern in _MISNAMED:
        text = pattern.sub(r"\1", text)
    if _WIDGET_VIEW in text and 'id="first-explorer"' not in text:
        text = text.replace(_WIDGET_VIEW, '<span id="first-explorer" tabindex="-1"></span>' + _WIDGET_VIEW, 1)
        text = _SKIP_LINK.sub(r'\1<div class="skip-link d-print-none">'
                              r'<a href="#first-explorer">Skip to the first explorer</a></div>', text, 1)
        text = _ARTICLE.sub(r"\1" + NOSCRIPT, text, 1)
    return text


REDIRECT = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="icon" href="_static/favicon.svg" type="image/svg+xml">
<meta http-equiv="Refresh" content="0; url={target}">
</head>
<body><p><a href="{target}">{title}</a></p></body>
</html>
"""
_BARE_REDIRECT = re.compile(r'\s*<meta http-equiv="Refresh" content="0; url=([^"]+)" />\s*')


def tidy_pages(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    out = pathlib.Path(app.outdir)
    for page in out.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        found = _BARE_REDIRECT.fullmatch(text)
        tidied = (REDIRECT.format(title=app.config.html_title or app.config.project, target=found[1])
                  if found else tidy_page(text))
        if tidied != text:
            page.write_text(tidied, encoding="utf-8")


def on_config_inited(app, config) -> None:
    target = stage(pathlib.Path(app.outdir).parent / ".runtime")
    check_pages_use_it(config, target)
    config.html_static_path.append(str(target))


def setup(app):
    app.connect("config-inited", on_config_inited)
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    app.connect("build-finished", tidy_pages, priority=900)  # after the index redirect is written
    return {"parallel_read_safe": True, "parallel_write_safe": True}
