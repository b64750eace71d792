// The book's own page script (Jupyter Book adds every _static/*.js to every page).
// An equation wider than the screen scrolls sideways, and a keyboard reader can scroll only
// what can be focused: each such equation becomes a Tab stop, and only while it is too wide.
(function () {
  function mark() {
    document.querySelectorAll('div.math mjx-container[display="true"]').forEach(function (box) {
      if (box.scrollWidth > box.clientWidth + 1) box.tabIndex = 0;
      else if (box.getAttribute("tabindex") === "0") box.removeAttribute("tabindex");
    });
  }
  function start() {
    var mj = window.MathJax;
    var typeset = mj && mj.startup && mj.startup.promise ? mj.startup.promise : Promise.resolve();
    typeset.then(mark);
    window.addEventListener("resize", mark);
  }
  // at "load" every script has run, so MathJax's startup promise exists if MathJax is on the page
  if (document.readyState === "complete") start();
  else window.addEventListener("load", start);
})();
