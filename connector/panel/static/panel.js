/* Deskguard side panel (Zendesk ticket sidebar, 320 px).
 *
 * Every call to the sidecar goes through client.request({secure: true}) so the Zendesk proxy
 * substitutes the secure `api_token` setting; this script never sees the token. The agent's id and
 * role come from client.get('currentUser') and travel as X-Deskguard-Agent-* headers (header
 * names without "_": the proxy rejects those). The claimed role only labels things: what the
 * agent may do (approve, kill switch) comes from /permissions, which asks Zendesk for the role,
 * and the sidecar checks again on every such action. Everything is rendered with textContent:
 * ticket text and model output are never parsed as HTML. */
(function () {
  "use strict";
  var root = document.getElementById("app");
  var client = null;
  var base = "";
  var tenant = "";
  var ticketId = null;
  var user = {};
  var perms = { status: "pending" };  // from /permissions: Zendesk's word on what this agent may do
  var lastView = null;

  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "text") el.textContent = v;
      else if (k === "onclick") el.addEventListener("click", v);
      else if (k === "className") el.className = v;
      else el.setAttribute(k, v === true ? "" : v);
    });
    (children || []).forEach(function (c) {
      if (c === null || c === undefined || c === false) return;
      el.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return el;
  }
  function label(id) { return id ? String(id).replace(/_/g, " ") : "—"; }
  function pct(x) { return typeof x === "number" ? Math.round(x * 100) + "%" : "—"; }
  var ZERO_DECIMAL = ["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"];
  function minor(amount, currency) {
    if (typeof amount !== "number") return "";
    var cur = String(currency || "").toLowerCase();
    var value = ZERO_DECIMAL.indexOf(cur) >= 0 ? String(amount) : (amount / 100).toFixed(2);
    return value + " " + cur.toUpperCase();
  }
  function money(m) { return m && m.amount !== undefined ? m.amount + " " + (m.currency || "") : ""; }

  function resize() {
    if (client) client.invoke("resize", { width: "100%", height: Math.max(120, document.body.scrollHeight) + "px" });
  }
  function show(nodes) {
    root.textContent = "";
    nodes.forEach(function (n) { if (n) root.appendChild(n); });
    resize();
  }
  function stateBox(kind, text, extra) {
    return h("div", { className: "state state-" + kind, role: kind === "error" ? "alert" : null }, [h("p", { text: text })].concat(extra || []));
  }

  function api(path, method, body) {
    var headers = {
      "Authorization": "Bearer {{setting.api_token}}",
      "X-Deskguard-Agent-Id": String(user.id || ""),
      "X-Deskguard-Agent-Role": String(user.role || ""),
      "X-Deskguard-Agent-Name": String(user.name || "")
    };
    if (user.customRole && user.customRole.name) headers["X-Deskguard-Agent-Custom-Role"] = String(user.customRole.name);
    var opts = { url: base + path, type: method || "GET", secure: true, cors: false, dataType: "json", headers: headers };
    if (body !== undefined) { opts.contentType = "application/json"; opts.data = JSON.stringify(body); }
    return client.request(opts);
  }
  function errorText(err) {
    var status = err && err.status;
    var msg = err && err.responseJSON && err.responseJSON.error && err.responseJSON.error.message;
    if (status === 401) return "The app's API token is missing or not valid. An admin can issue one with `deskguard app token` and paste it into the app's settings.";
    if (status === 403) return msg || "You are not allowed to do that.";
    if (status === 503 && msg) return msg;
    if (!status) return "Deskguard cannot be reached. Check the app's sidecar URL.";
    return "Deskguard answered " + status + (msg ? ": " + msg : ".");
  }

  // --- sections ----------------------------------------------------------------------------
  function summary(d) {
    var alts = (d.alternatives || []).map(function (a) { return label(a.category) + " " + pct(a.score); });
    var chips = [
      d.sentiment ? h("span", { className: "chip sentiment-" + d.sentiment, text: "sentiment: " + d.sentiment }) : null,
      d.urgency ? h("span", { className: "chip urgency-" + d.urgency, text: "urgency: " + d.urgency }) : null,
      d.language ? h("span", { className: "chip", text: d.language }) : null
    ].concat((d.risk_flags || []).map(function (f) { return h("span", { className: "chip risk", text: "⚠ " + label(f) }); }));
    return h("section", { className: "summary", "aria-label": "Classification" }, [
      h("div", { className: "headline" }, [
        h("strong", { id: "category", className: "category", text: label(d.category) }),
        h("span", { id: "confidence", className: "confidence", text: pct(d.confidence) })
      ]),
      d.category_description ? h("p", { className: "muted", text: d.category_description }) : null,
      alts.length ? h("p", { id: "runners-up", className: "muted", text: "Runners-up: " + alts.join(" · ") }) : null,
      h("p", { className: "chips" }, chips)
    ]);
  }
  function policy(d) {
    var p = d.policy || {};
    var trace = (p.trace || []).map(function (t) {
      return h("li", { className: "verdict-" + (t.verdict || "") }, [
        h("code", { text: t.rule || "" }), " " + (t.verdict || "") + (t.detail ? ": " + t.detail : "")
      ]);
    });
    return h("section", { id: "policy", "aria-label": "Policy decision" }, [
      h("h2", { text: "Decision" }),
      h("p", {}, [h("strong", { id: "outcome", text: label(p.outcome) }), p.mode ? " (mode " + p.mode + ")" : ""]),
      p.reason ? h("p", { id: "policy-reason", text: p.reason }) : null,
      p.rule ? h("p", { className: "muted", text: "Rule: " + p.rule }) : null,
      trace.length ? h("details", {}, [h("summary", { text: "Policy trace (" + trace.length + " rules)" }), h("ul", { className: "trace" }, trace)]) : null
    ]);
  }
  function reasons(d) {
    if (!(d.reasons || []).length) return null;
    return h("section", { "aria-label": "Reasons" }, [
      h("h2", { text: "Why" }),
      h("ul", { id: "reasons" }, d.reasons.map(function (r) { return h("li", { text: r }); }))
    ]);
  }
  function orderItem(o) {
    var tracking = (o.fulfillments || []).filter(function (f) { return f.tracking_number; }).map(function (f) {
      var text = (f.tracking_company ? f.tracking_company + " " : "") + f.tracking_number;
      var link = /^https:\/\//.test(f.tracking_url || "") ? h("a", { href: f.tracking_url, target: "_blank", rel: "noopener noreferrer", text: text }) : text;
      return h("div", { className: "muted" }, ["Tracking: ", link, f.status ? " (" + f.status + ")" : ""]);
    });
    var items = (o.line_items || []).map(function (li) { return li.quantity + "× " + li.title; }).join(", ");
    return h("li", { className: "order" }, [
      h("strong", { text: o.name || o.id || "order" }), " " + [o.financial_status, o.fulfillment_status].filter(Boolean).join(" · "),
      h("div", { text: [money(o.total), o.cancelled_at ? "cancelled" : ""].filter(Boolean).join(" · ") }),
      items ? h("div", { className: "muted", text: items }) : null
    ].concat(tracking));
  }
  function context(d) {
    var pay = d.payments || {};
    var rows = [];
    (pay.charges || []).forEach(function (c) {
      rows.push(h("li", { className: "charge" }, [minor(c.amount, c.currency) + " · " + (c.status || ""),
        c.amount_refunded ? " · refunded " + minor(c.amount_refunded, c.currency) : "", c.disputed ? " · disputed" : ""]));
    });
    (pay.refunds || []).forEach(function (r) { rows.push(h("li", { text: "Refund " + minor(r.amount, r.currency) + " · " + (r.status || "") })); });
    (pay.disputes || []).forEach(function (x) { rows.push(h("li", { className: "risk", text: "Dispute " + minor(x.amount, x.currency) + " · " + (x.reason || "") + " · " + (x.status || "") })); });
    var orders = d.orders || [];
    var notes = d.context_notes || [];
    if (!orders.length && !rows.length && !notes.length) {
      return h("section", { id: "context", "aria-label": "Order and payment" }, [h("h2", { text: "Order & payment" }), h("p", { className: "muted", text: "No matching order or payment found." })]);
    }
    return h("section", { id: "context", "aria-label": "Order and payment" }, [
      h("h2", { text: "Order & payment" }),
      orders.length ? h("ul", { className: "orders" }, orders.map(orderItem)) : null,
      rows.length ? h("ul", { className: "payments" }, rows) : null,
      notes.length ? h("ul", { className: "muted" }, notes.map(function (n) { return h("li", { text: String(n) }); })) : null
    ]);
  }
  function reply(d) {
    if (!d.suggested_reply) return null;
    var button = h("button", { id: "insert-reply", type: "button", className: "primary", text: "Insert into reply" });
    button.addEventListener("click", function () {
      Promise.resolve(client.invoke("ticket.editor.insert", d.suggested_reply)).then(function () {
        button.textContent = "Inserted ✓";
      }, function () { button.textContent = "Could not insert"; });
    });
    return h("section", { "aria-label": "Suggested reply" }, [
      h("h2", { text: "Suggested reply" }),
      h("div", { id: "suggested-reply", className: "reply", text: d.suggested_reply }),
      button
    ]);
  }
  function feedback(view) {
    var d = view.decision;
    var status = h("p", { id: "feedback-status", className: "muted", role: "status" });
    function describe(fb) {
      status.textContent = fb ? "You said: " + fb.verdict + (fb.verdict === "wrong" && fb.correct_category ? " → " + label(fb.correct_category) : "") : "";
    }
    describe(view.feedback);
    function send(body) {
      status.textContent = "Saving…";
      api("/panel/api/" + encodeURIComponent(tenant) + "/tickets/" + ticketId + "/feedback", "POST", Object.assign({ decision_id: d.id }, body))
        .then(describe, function (err) { status.textContent = errorText(err); });
    }
    var select = h("select", { id: "feedback-category", "aria-label": "The right category is" },
      [h("option", { value: "", text: "The right category is…" })].concat(view.categories.filter(function (c) { return c.id !== d.category; }).map(function (c) {
        return h("option", { value: c.id, text: label(c.id), title: c.description });
      })));
    return h("section", { id: "feedback", "aria-label": "Feedback" }, [
      h("h2", { text: "Was Deskguard right?" }),
      h("div", { className: "row" }, [
        h("button", { id: "feedback-right", type: "button", text: "✓ Right", onclick: function () { send({ verdict: "right" }); } }),
        h("button", { id: "feedback-wrong", type: "button", text: "✗ Wrong", onclick: function () { send({ verdict: "wrong" }); } })
      ]),
      h("div", { className: "row" }, [
        select,
        h("button", { id: "feedback-save", type: "button", text: "Save", onclick: function () { if (select.value) send({ verdict: "wrong", correct_category: select.value }); } })
      ]),
      status
    ]);
  }
  function approvals(view) {
    if (!(view.approvals || []).length) return null;
    var canApprove = perms.status === "ok" && perms.can_approve;
    return h("section", { id: "approvals", "aria-label": "Refunds and cancellations" }, [
      h("h2", { text: "Refunds & cancellations" }),
      h("ul", {}, view.approvals.map(function (a) {
        var status = h("span", { className: "muted", role: "status" });
        function decide(choice) {
          status.textContent = "Sending…";
          api("/panel/api/" + encodeURIComponent(tenant) + "/approvals/" + a.id + "/" + choice, "POST", {})
            .then(function () { load(); }, function (err) { status.textContent = errorText(err); });
        }
        var state = a.state === "proposed" ? "waiting for approval"
          : a.state === "approved" ? "approved by " + (a.decided_by || "an agent") + (a.deferred_reason ? ", deferred: " + label(a.deferred_reason) : "")
          : a.state === "executing" ? "executing…"
          : a.state === "failed" ? "failed: " + (a.error || "see the audit log") : a.state;
        var buttons = null;
        if (canApprove && a.can_decide) {
          buttons = h("div", { className: "row" }, [
            h("button", { type: "button", className: "primary", "data-action": "approve", text: "Approve", onclick: function () { decide("approve"); } }),
            h("button", { type: "button", "data-action": "reject", text: "Reject", onclick: function () { decide("reject"); } })
          ]);
        } else if (canApprove && a.can_retry) {
          buttons = h("div", { className: "row" }, [
            h("button", { type: "button", "data-action": "approve", text: "Approve again (retry)", onclick: function () { decide("approve"); } })
          ]);
        } else if (a.can_decide && perms.status === "pending") {
          buttons = h("div", { className: "muted", text: "Checking your role in Zendesk…" });
        } else if (a.can_decide && perms.status === "unavailable") {
          buttons = h("div", { className: "muted role-check", text: perms.message || "Zendesk could not confirm your role; approving is unavailable for now." });
        } else if (a.can_decide) {
          buttons = h("div", { className: "muted", text: "An admin or an approver must approve this." });
        }
        return h("li", { className: "approval approval-" + a.state, "data-id": String(a.id) }, [
          h("strong", { text: a.summary || label(a.kind) }),
          h("div", { className: a.state === "failed" ? "risk" : "muted", text: state }),
          a.reason ? h("div", { className: "muted", text: a.reason }) : null,
          buttons,
          status
        ]);
      }))
    ]);
  }
  function killSwitch(view) {
    if (!(perms.status === "ok" && perms.can_kill_switch)) {
      return view.kill_switch ? h("p", { className: "state state-failed", text: "Kill switch is ON: Deskguard writes nothing." }) : null;
    }
    var on = !!view.kill_switch;
    var armed = false;
    var button = h("button", { id: "kill-switch-toggle", type: "button", className: on ? "" : "danger", text: on ? "Resume automation" : "Stop all automation" });
    button.addEventListener("click", function () {
      if (!armed) { armed = true; button.textContent = "Click again to confirm"; return; }
      button.disabled = true;
      api("/panel/api/" + encodeURIComponent(tenant) + "/kill-switch", "POST", { on: !on, reason: "flipped from the side panel" })
        .then(function () { load(); }, function (err) { button.disabled = false; button.textContent = errorText(err); });
    });
    return h("section", { id: "kill-switch", className: on ? "kill-on" : "", "aria-label": "Kill switch" }, [
      h("h2", { text: "Admin" }),
      h("p", {}, ["Kill switch: ", h("strong", { id: "kill-switch-state", text: on ? "ON (no writes)" : "off" })]),
      button
    ]);
  }
  function footer(view) {
    var d = view.decision;
    return h("footer", {}, [
      d ? h("span", { className: "muted", text: [d.engine, d.model, d.created_at ? d.created_at.slice(0, 16).replace("T", " ") : ""].filter(Boolean).join(" · ") }) : null,
      h("button", { id: "refresh", type: "button", className: "link", text: "Refresh", onclick: function () { loadPermissions(); load(); } })
    ]);
  }

  function render(view) {
    var d = view.decision;
    var parts = [];
    if (view.state !== "processed") {
      parts.push(stateBox(view.state, view.message || view.state));
    }
    if (d) {
      parts.push(summary(d), policy(d), reasons(d), context(d), reply(d), feedback(view));
    }
    parts.push(approvals(view), killSwitch(view), footer(view));
    lastView = view;
    root.setAttribute("data-state", view.state);
    root.setAttribute("data-permissions", perms.status);
    show(parts);
  }

  // Permissions are fetched next to the ticket view, never before it: the view needs no
  // Zendesk lookup, so it renders at once and the buttons appear when Zendesk has answered.
  function loadPermissions() {
    return api("/panel/api/" + encodeURIComponent(tenant) + "/permissions").then(function (r) {
      var a = (r && r.agent) || {};
      perms = { status: "ok", can_approve: !!a.can_approve, can_kill_switch: !!a.can_kill_switch, role: a.role };
    }, function (err) {
      var msg = err && err.responseJSON && err.responseJSON.error && err.responseJSON.error.message;
      perms = { status: err && err.status === 503 ? "unavailable" : "denied", message: msg || "" };
    }).then(function () { if (lastView) render(lastView); });
  }

  function load() {
    return api("/panel/api/" + encodeURIComponent(tenant) + "/tickets/" + ticketId).then(render, function (err) {
      root.setAttribute("data-state", "error");
      show([stateBox("error", errorText(err), [h("button", { type: "button", className: "link", text: "Try again", onclick: function () { load(); } })])]);
    });
  }

  function boot() {
    if (!window.ZAFClient) {
      root.setAttribute("data-state", "error");
      show([stateBox("error", "Open this panel from a ticket in Zendesk.")]);
      return;
    }
    client = window.ZAFClient.init();
    Promise.all([client.metadata(), client.get(["ticket.id", "currentUser"])]).then(function (r) {
      base = String((r[0].settings || {}).sidecar_url || "").replace(/\/+$/, "");
      ticketId = r[1]["ticket.id"];
      user = r[1].currentUser || {};
      return api("/panel/api/me");
    }).then(function (me) {
      tenant = me.tenant;
      loadPermissions();
      return load();
    }).catch(function (err) {
      root.setAttribute("data-state", "error");
      show([stateBox("error", errorText(err))]);
    });
    client.on("ticket.submit.done", function () { setTimeout(load, 1500); });
  }
  boot();
})();
