// Tell require.js where this book keeps anywidget's front end (next to this
// file, in _static/cnnbook/widgets/), so @jupyter-widgets/html-manager loads
// it from the book's own files and never falls back to a CDN; and tell the
// html-manager where its own assets (icon fonts) are, instead of a path
// relative to each page.
(function () {
  var here = document.currentScript.src.replace(/[^/]*$/, "");
  window.requirejs.config({
    paths: {
      anywidget: here + "anywidget",
      // embed-amd.js finds its fonts next to this module id's URL
      "@jupyter-widgets/html-manager/dist": here.replace(/\/$/, ""),
    },
  });
})();
