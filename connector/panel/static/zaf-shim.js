/* A stand-in for the Zendesk Apps Framework client (ZAFClient), for the demo page and the
 * browser tests. It answers metadata()/get() from a JSON config, records every invoke() call in
 * window.__zafCalls, and performs request() with fetch after substituting {{setting.NAME}}
 * placeholders from the secure settings, like the Zendesk proxy does (docs/vendors/zendesk.md).
 * Config: window.DESKGUARD_ZAF_SHIM, or <script type="application/json" id="zaf-shim-config">. */
(function () {
  "use strict";
  function loadConfig() {
    if (window.DESKGUARD_ZAF_SHIM) return window.DESKGUARD_ZAF_SHIM;
    var el = document.getElementById("zaf-shim-config");
    return el ? JSON.parse(el.textContent) : { settings: {}, secure: {}, context: {} };
  }
  var calls = (window.__zafCalls = window.__zafCalls || { invoke: [], request: [], get: [] });

  function substitute(text, cfg) {
    return String(text).replace(/\{\{setting\.([A-Za-z0-9_]+)\}\}/g, function (_, name) {
      if (cfg.secure && name in cfg.secure) return cfg.secure[name];
      if (cfg.settings && name in cfg.settings) return String(cfg.settings[name]);
      return "";
    });
  }

  function Client(cfg) { this.cfg = cfg; this.handlers = {}; }
  Client.prototype.metadata = function () {
    var settings = {};
    Object.keys(this.cfg.settings || {}).forEach(function (k) { settings[k] = this.cfg.settings[k]; }, this);
    // Secure settings are never visible to the app's JavaScript, as in Zendesk.
    return Promise.resolve({ appId: 0, installationId: 0, settings: settings });
  };
  Client.prototype.get = function (paths) {
    var list = Array.isArray(paths) ? paths : [paths];
    calls.get.push(list);
    var ctx = this.cfg.context || {};
    var out = {};
    list.forEach(function (p) { out[p] = ctx[p]; });
    return Promise.resolve(out);
  };
  Client.prototype.invoke = function () {
    var args = Array.prototype.slice.call(arguments);
    calls.invoke.push(args);
    if (args[0] === "ticket.editor.insert") {
      var box = document.getElementById("demo-inserted");
      if (box) { box.hidden = false; document.getElementById("demo-inserted-text").textContent = args[1]; }
    }
    return Promise.resolve({});
  };
  Client.prototype.on = function (name, fn) { (this.handlers[name] = this.handlers[name] || []).push(fn); };
  Client.prototype.trigger = function (name, data) { (this.handlers[name] || []).forEach(function (fn) { fn(data); }); };
  Client.prototype.request = function (options) {
    var cfg = this.cfg;
    var opts = typeof options === "string" ? { url: options } : options;
    var headers = {};
    Object.keys(opts.headers || {}).forEach(function (k) {
      if (k.indexOf("_") >= 0) throw new Error("the Zendesk proxy rejects header names with '_': " + k);
      headers[k] = opts.secure ? substitute(opts.headers[k], cfg) : opts.headers[k];
    });
    if (opts.contentType) headers["Content-Type"] = opts.contentType;
    calls.request.push({ url: opts.url, type: opts.type || "GET", secure: !!opts.secure });
    return fetch(opts.secure ? substitute(opts.url, cfg) : opts.url, {
      method: opts.type || "GET", headers: headers, body: opts.data, credentials: "omit"
    }).then(function (resp) {
      return resp.text().then(function (text) {
        var json = null;
        try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
        if (!resp.ok) {
          // Like ZAF: rejects with a jqXHR-like object.
          throw { status: resp.status, responseText: text, responseJSON: json };
        }
        return json;
      });
    });
  };

  var client = null;
  window.ZAFClient = {
    init: function () {
      if (!client) client = new Client(loadConfig());
      setTimeout(function () { client.trigger("app.registered", {}); }, 0);
      return client;
    }
  };
})();
