"""The References page's list of entries, as screen readers (and axe-core) expect it.

docutils 0.21 writes the bibliography (sphinxcontrib-bibtex's citation list) as
<div role="list"> whose entries carry role="doc-biblioentry", a role DPUB-ARIA 1.1
deprecated and one that is not a list item, so axe-core reports the list as a critical
aria-required-children violation. Each entry is given role="listitem" instead: the
list keeps its semantics and has the children its role requires.
"""


def _entries_as_list_items(app, pagename, templatename, context, doctree):
    body = context.get("body")
    if body and 'role="doc-biblioentry"' in body:
        context["body"] = body.replace('role="doc-biblioentry"', 'role="listitem"')


def setup(app):
    app.connect("html-page-context", _entries_as_list_items)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
