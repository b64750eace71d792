// The book's widget runtime, loaded (deferred) only on pages that store widget state.
//
// The explorers are anywidgets: their whole front end is the ES module stored in
// the state as `_esm` (and their stylesheet as `_css`). When every view on the page
// is such a widget, this file draws them itself, as anywidget's front end does in
// Jupyter: it imports `_esm` from a blob: URL and calls its render({model, el}) with
// a model holding the stored traits (get, set, on, off, save_changes; there is no
// kernel). That takes a few kB instead of require.js and @jupyter-widgets/
// html-manager's 3.6 MB embed-amd.js, and the explorer answers as soon as the page
// is parsed. A page with any other widget (an ipywidgets slider, say) gets the full
// html-manager runtime instead, loaded here from the book's own files.
(function () {
  "use strict";
  var STATE = "application/vnd.jupyter.widget-state+json";
  var VIEW = "application/vnd.jupyter.widget-view+json";
  var here = document.currentScript.src.replace(/[^/]*$/, "");

  function same(a, b) {
    return a === b || JSON.stringify(a) === JSON.stringify(b);
  }

  // The part of a Backbone model (what ipywidgets' models are) that anywidgets use.
  function Model(values) {
    var data = Object.assign({}, values);
    var handlers = {};
    var model = {
      get: function (name) {
        return data[name];
      },
      set: function (name, value) {
        if (typeof name === "object") {
          Object.keys(name).forEach(function (key) {
            model.set(key, name[key]);
          });
          return;
        }
        if (same(data[name], value)) return;
        data[name] = value;
        emit("change:" + name, [model, value]);
        emit("change", [model]);
      },
      on: function (event, callback, context) {
        event.split(/\s+/).forEach(function (name) {
          (handlers[name] = handlers[name] || []).push([callback, context]);
        });
      },
      off: function (event, callback) {
        (event ? event.split(/\s+/) : Object.keys(handlers)).forEach(function (name) {
          handlers[name] = (handlers[name] || []).filter(function (h) {
            return callback && h[0] !== callback;
          });
        });
      },
      save_changes: function () {}, // nothing to sync with: the static book has no kernel
      send: function () {},
    };
    function emit(name, args) {
      (handlers[name] || []).slice().forEach(function (h) {
        h[0].apply(h[1] || model, args);
      });
    }
    return model;
  }

  var styled = {};
  function addStyle(id, css) {
    if (!css || styled[id]) return;
    styled[id] = true;
    var style = document.createElement("style");
    style.dataset.anywidget = id;
    style.textContent = css;
    document.head.append(style);
  }

  var modules = {};
  function load(esm) {
    if (!modules[esm]) {
      var url = URL.createObjectURL(new Blob([esm], { type: "text/javascript" }));
      modules[esm] = import(url).then(function (mod) {
        URL.revokeObjectURL(url);
        var widget = mod.default !== undefined ? mod.default : mod;
        return typeof widget === "function" ? widget() : widget;
      });
    }
    return modules[esm];
  }

  function drawAnywidgets(views, state) {
    var models = {};
    views.forEach(function (view) {
      var id = view.id;
      var values = state[id].state;
      if (!models[id]) models[id] = Model(values);
      var area = document.createElement("div");
      area.className = "widget-subarea";
      var el = document.createElement("div");
      el.className = "cnnbook-anywidget";
      area.append(el);
      view.tag.parentElement.insertBefore(area, view.tag);
      addStyle(values._anywidget_id || id, values._css);
      load(values._esm)
        .then(function (widget) {
          return Promise.resolve(widget.initialize && widget.initialize({ model: models[id] })).then(
            function () {
              return widget.render({ model: models[id], el: el });
            },
          );
        })
        .catch(function (error) {
          el.textContent = "This explorer could not be drawn: " + error;
          console.error(error);
        });
    });
  }

  // Added now, while the page loads, and run in this order (async = false).
  function addScripts(names) {
    names.forEach(function (name) {
      var script = document.createElement("script");
      script.src = here + name;
      script.async = false;
      document.head.append(script);
    });
  }

  var stateTag = document.querySelector('script[type="' + STATE + '"]');
  if (!stateTag) return;
  var state = JSON.parse(stateTag.textContent).state;
  var views = Array.prototype.map.call(document.querySelectorAll('script[type="' + VIEW + '"]'), function (tag) {
    return { tag: tag, id: JSON.parse(tag.textContent).model_id };
  });
  var allAnywidgets = views.every(function (view) {
    var model = state[view.id];
    return model && model.model_module === "anywidget" && typeof model.state._esm === "string";
  });
  if (allAnywidgets) drawAnywidgets(views, state);
  else addScripts(["require.js", "require-config.js", "embed-amd.js"]);
})();
