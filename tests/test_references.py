"""The book's one bibliography: references.bib, cited with {cite} roles, listed on references.md.

The book build (-W) also fails on an unknown key; these checks say which key, in
which file, in a second and without Sphinx.
"""

import pathlib
import re

import nbformat
import yaml

from tools import notebooks

ROOT = pathlib.Path(__file__).resolve().parents[1]
ENTRY = re.compile(r"^@(\w+)\{([^,\s]+),", re.M)
CITE = re.compile(r"\{cite(?::\w+)?\}`([^`]+)`")


def bib_keys() -> list[str]:
    return [key for kind, key in ENTRY.findall((ROOT / "references.bib").read_text(encoding="utf-8"))
            if kind.lower() not in ("comment", "preamble", "string")]


def cited() -> dict[str, set[str]]:
    """{source file: the keys its markdown cites}."""
    texts = {p.name: "\n".join(c.source for c in nbformat.read(p, as_version=4).cells
                               if c.cell_type == "markdown")
             for p in notebooks.chapter_paths()}
    texts.update({p.name: p.read_text(encoding="utf-8") for p in ROOT.glob("*.md")})
    return {name: {k.strip() for m in CITE.findall(text) for k in m.split(",")}
            for name, text in texts.items()}


def test_every_key_is_defined_once():
    keys = bib_keys()
    assert len(keys) > 10
    assert sorted({k for k in keys if keys.count(k) > 1}) == []


def test_every_cited_key_is_in_the_bibliography():
    known = set(bib_keys())
    unknown = {name: sorted(keys - known) for name, keys in cited().items() if keys - known}
    assert unknown == {}


def test_the_bibliography_is_configured_and_listed():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["bibtex_bibfiles"] == ["references.bib"]
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [ch["file"] for part in toc["parts"] for ch in part["chapters"]]
    assert files[-1] == "references"
    assert "```{bibliography}" in (ROOT / "references.md").read_text(encoding="utf-8")


def test_the_two_he_et_al_2016_papers_are_two_entries():
    """Issue 21: 'He et al. (2016)' named two papers; each now has its own key and label."""
    bib = (ROOT / "references.bib").read_text(encoding="utf-8")
    for key, title in [("he2016deep", "Deep Residual Learning for Image Recognition"),
                       ("he2016identity", "Identity Mappings in Deep Residual Networks")]:
        entry = bib[bib.index("{" + key + ","):].split("\n}", 1)[0]
        assert title in entry, key
    uses = cited()
    assert "he2016deep" in uses["13_residuals_transfer.ipynb"]
    assert "he2016identity" in uses["11_modern_blocks.ipynb"]


def test_bibliography_entries_become_list_items():
    """docutils' role="doc-biblioentry" inside role="list" fails axe-core (aria-required-children)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("bibliography_a11y",
                                                  ROOT / "_ext" / "bibliography_a11y.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    body = ('<div role="list" class="citation-list">'
            '<div class="citation" id="id1" role="doc-biblioentry"><p>A.</p></div></div>')
    context = {"body": body}
    module._entries_as_list_items(None, "references", "page.html", context, None)
    assert 'role="doc-biblioentry"' not in context["body"]
    assert context["body"].count('role="listitem"') == 1 and 'role="list"' in context["body"]
    empty = {"body": "<p>No citations.</p>"}
    module._entries_as_list_items(None, "intro", "page.html", empty, None)
    assert empty["body"] == "<p>No citations.</p>"
