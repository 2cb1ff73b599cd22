/* Deskguard side panel (Zendesk ticket sidebar, 320 px).
 *
 * Every call to the sidecar goes through client.request({secure: true}) so the Zendesk proxy
 * substitutes the secure `api_token` setting; this script never sees the token. Who the agent is
 * comes from Zendesk's signed launch of this page: the sidecar verified it and put a session in
 * <meta name="deskguard-session">, sent back as X-Deskguard-Session (header names without "_":
 * the proxy rejects those). Nothing the browser says about the agent is sent: what the agent may
 * do (approve, kill switch) comes from /permissions, which asks Zendesk for the role of the
 * verified agent, and the sidecar checks again on every such action. Everything is rendered with
 * textContent: ticket text and model output are never parsed as HTML. */
(function () {
  "use strict";
  var root = document.getElementById("app");
  var client = null;
  var base = "";
  var tenant = "";
  var ticketId = null;
  var sessionMeta = document.querySelector('meta[name="deskguard-session"]');
  var session = sessionMeta ? sessionMeta.getAttribute("content") || "" : "";
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
    var headers = { "Authorization": "Bearer {{setting.api_token}}" };
    if (session) headers["X-Deskguard-Session"] = session;
    var opts = { url: base + path, type: method || "GET", secure: true, cors: false, dataType: "json", headers: headers };
    if (body !== undefined) { opts.contentType = "application/json"; opts.data = JSON.stringify(body); }
    return client.request(opts);
  }
  function errorText(err) {
    var status = err && err.status;
    var msg = err && err.responseJSON && err.responseJSON.error && err.responseJSON.error.message;
    var code = err && err.responseJSON && err.responseJSON.error && err.responseJSON.error.code;
    if (status === 401 && code === "session_expired") return "Your Deskguard session has expired: reload the app (or reopen the ticket).";
    if (status === 401 && msg && /signed|session/.test(msg)) return msg;
    if (status === 401) return "The app's API token is missing or not valid. An admin can issue one with `deskguard app token` and paste it into the app's settings.";
    if (status === 403) return msg || "You are not allowed to do that.";
    if (status === 503 && msg) return msg;
    if (!status) return "Deskguard cannot be reached. Check the app's sidecar URL.";
    return "Deskguard answered " + status + (msg ? ": " + msg : ".");
  }

  // --- sections, in the order an agent works: what needs them, the reply, why, context, feedback
  function section(id, title, children, extra) {
    var attrs = Object.assign({ id: id, "aria-label": title }, extra || {});
    return h("section", attrs, [title ? h("h2", { text: title }) : null].concat(children));
  }

  // The kill switch when it is ON: it holds everything, so it comes first. Admins can resume
  // from here (two clicks); everyone else reads why nothing is written.
  function killSwitchButton(view) {
    var on = !!view.kill_switch;
    var armed = false;
    var button = h("button", { id: "kill-switch-toggle", type: "button", className: on ? "primary" : "danger", text: on ? "Resume automation" : "Stop all automation" });
    button.addEventListener("click", function () {
      if (!armed) { armed = true; button.textContent = "Click again to confirm"; return; }
      button.disabled = true;
      api("/panel/api/" + encodeURIComponent(tenant) + "/kill-switch", "POST", { on: !on, reason: "flipped from the side panel" })
        .then(function () { load(); }, function (err) { button.disabled = false; button.textContent = errorText(err); });
    });
    return button;
  }
  function canFlip() { return perms.status === "ok" && perms.can_kill_switch; }
  function killSwitchHold(view) {
    if (!view.kill_switch) return null;
    return h("section", { id: "kill-switch", className: "hold kill-on", role: "status", "aria-label": "Kill switch" }, [
      h("p", {}, [h("strong", { id: "kill-switch-state", text: "Kill switch ON" }), ": Deskguard writes nothing to Zendesk, Shopify or Stripe."]),
      view.decision && view.decision.happened && view.decision.happened.kind === "held" ? h("p", { id: "held-here", text: "This ticket's note or reply waits and is written when the switch is off." }) : null,
      canFlip() ? h("div", { className: "row" }, [killSwitchButton(view)]) : null
    ]);
  }

  function approvalButtons(a) {
    var canApprove = perms.status === "ok" && perms.can_approve;
    var status = h("span", { className: "muted", role: "status" });
    function decide(choice) {
      status.textContent = "Sending…";
      api("/panel/api/" + encodeURIComponent(tenant) + "/approvals/" + a.id + "/" + choice, "POST", {})
        .then(function () { load(); }, function (err) { status.textContent = errorText(err); });
    }
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
    return [buttons, status];
  }
  function approvalCard(a) {
    var tone = a.state === "failed" ? "risk" : a.state === "proposed" ? "ask" : "muted";
    return h("li", { className: "approval approval-" + a.state, "data-id": String(a.id) }, [
      h("strong", { className: "approval-title", text: a.title || a.summary || label(a.kind) }),
      h("div", { className: "approval-status " + tone, text: a.status_text || a.state }),
      a.reason ? h("div", { className: "muted clamp", title: a.reason, text: a.reason }) : null
    ].concat(approvalButtons(a)));
  }
  // Refunds and cancellations still open: waiting for a decision, held, or failed.
  function approvals(view) {
    if (!(view.approvals || []).length) return null;
    var waiting = view.approvals.some(function (a) { return a.can_decide; });
    return h("section", { id: "approvals", className: waiting ? "needs-you" : "hold", "aria-label": "Refunds and cancellations" }, [
      h("h2", { text: waiting ? "Needs your decision" : "Refunds & cancellations" }),
      h("ul", { className: "cards" }, view.approvals.map(approvalCard))
    ]);
  }

  // What already happened: refunds that ran, cancellations, rejections, and what Deskguard wrote.
  function happened(view) {
    var d = view.decision;
    var lines = (view.history || []).map(function (a) {
      return h("li", { className: "done approval-" + a.state, "data-id": String(a.id) }, [
        h("strong", { text: a.headline || a.status_text }), a.byline ? h("div", { className: "muted", text: a.byline }) : null
      ]);
    });
    var what = d && d.happened && d.happened.text && d.happened.kind !== "held" ? d.happened : null;
    if (what) lines.push(h("li", { className: "done happened-" + what.kind, id: "deskguard-did", text: what.text }));
    if (!lines.length) return null;
    return h("section", { id: "happened", "aria-label": "What already happened" }, [h("ul", { className: "plain" }, lines)]);
  }

  function reply(d) {
    if (!d.suggested_reply) return null;
    if (d.answered) {
      return h("section", { id: "reply", "aria-label": "Reply sent" }, [
        h("details", {}, [h("summary", { text: "The reply Deskguard sent" }), h("div", { id: "sent-reply", className: "reply", text: d.suggested_reply })])
      ]);
    }
    var button = h("button", { id: "insert-reply", type: "button", className: "primary", text: "Insert into reply" });
    button.addEventListener("click", function () {
      Promise.resolve(client.invoke("ticket.editor.insert", d.suggested_reply)).then(function () {
        button.textContent = "Inserted ✓";
      }, function () { button.textContent = "Could not insert"; });
    });
    return h("section", { id: "reply", "aria-label": "Suggested reply" }, [
      h("div", { className: "row spread" }, [h("h2", { text: "Suggested reply" }), button]),
      h("div", { id: "suggested-reply", className: "reply", tabindex: "0", text: d.suggested_reply })
    ]);
  }

  function reading(d) {
    var p = d.policy || {};
    var alts = (d.alternatives || []).filter(function (a) { return typeof a.score !== "number" || a.score >= 0.01; }).map(function (a) { return (a.label || label(a.category)) + " " + (a.score_text || ""); });
    var chips = [
      d.sentiment_text ? h("span", { className: "chip sentiment-" + d.sentiment, text: d.sentiment_text }) : null,
      d.urgency_text ? h("span", { className: "chip urgency-" + d.urgency, text: d.urgency_text }) : null
    ].concat((d.risk_flags_text || []).map(function (f) { return h("span", { className: "chip risk", text: "⚠ " + f }); }));
    var trace = (p.trace_text || []).map(function (t) {
      return h("li", { className: "verdict-" + (t.verdict || "").replace("/", "") }, [
        h("span", { text: t.text }), h("span", { className: "muted", text: " — " + t.verdict_text + (t.detail ? " (" + t.detail + ")" : "") })
      ]);
    });
    return h("section", { id: "reading", "aria-label": "Reading and why" }, [
      h("div", { className: "headline" }, [
        h("strong", { id: "category", className: "category", title: d.category_description || "", text: d.category_label || label(d.category) }),
        h("span", { id: "confidence", className: "confidence", title: "How sure Deskguard is of this topic", text: d.confidence_text || "—" })
      ]),
      h("p", { id: "policy" }, [h("strong", { id: "outcome", text: p.outcome_text || label(p.outcome) }), p.mode_text ? h("span", { className: "muted", text: " · mode: " + p.mode_text }) : null]),
      p.rule_text ? h("p", { id: "rule" }, ["Why: ", h("span", { id: "rule-text", text: p.rule_text }), p.rule_detail ? h("span", { className: "muted", text: " (" + p.rule_detail + ")" }) : null]) : null,
      (d.reasons || []).length ? h("ul", { id: "reasons", className: "muted" }, d.reasons.map(function (r) { return h("li", { text: r }); })) : null,
      chips.filter(Boolean).length ? h("p", { className: "chips" }, chips) : null,
      alts.length ? h("p", { id: "runners-up", className: "muted", text: "Also possible: " + alts.join(" · ") }) : null,
      trace.length ? h("details", {}, [h("summary", { text: "Every check (" + trace.length + ")" }), h("ul", { className: "trace" }, trace)]) : null
    ]);
  }

  function paymentLine(x) {
    var text = [x.amount_text, x.status_text, x.date_text].filter(Boolean).join(" · ");
    return h("li", { className: "payment payment-" + x.kind + (x.disputed ? " risk" : "") }, [
      text, x.detail_text ? h("span", { className: "muted", text: " · " + x.detail_text }) : null
    ]);
  }
  function orderItem(o) {
    var status = [o.financial_status_text, o.fulfillment_status_text].filter(Boolean).join(" · ");
    var shipments = (o.fulfillments || []).map(function (f) {
      var carrier = [f.tracking_company, f.tracking_number].filter(Boolean).join(" ");
      var link = carrier && /^https:\/\//.test(f.tracking_url || "") ? h("a", { href: f.tracking_url, target: "_blank", rel: "noopener noreferrer", text: carrier }) : carrier;
      return h("div", { className: "shipment" }, [f.status_text || "Shipment", f.when_text ? ", " + f.when_text : "", carrier ? " · " : "", link]);
    });
    var items = (o.line_items || []).map(function (li) { return li.quantity + "× " + li.title; }).join(", ");
    return h("li", { className: "order" + (o.cancelled_text ? " cancelled" : "") }, [
      h("div", { className: "row spread" }, [h("strong", { text: "Order " + (o.name || "") }), h("span", { text: o.total_text || "" })]),
      h("div", { className: "muted", text: [o.date_text, status].filter(Boolean).join(" · ") }),
      o.cancelled_text ? h("div", { className: "risk", text: o.cancelled_text }) : null,
      items ? h("div", { className: "muted", text: items }) : null
    ].concat(shipments).concat((o.payments || []).length ? [h("ul", { className: "payments" }, o.payments.map(paymentLine))] : []));
  }
  function customer(c) {
    if (!c || (!c.email && !c.order_count_text && !c.lifetime_spend_text)) return null;
    var facts = [c.order_count_text, c.lifetime_spend_text ? c.lifetime_spend_text + " spent" : ""].filter(Boolean).join(" · ");
    return h("div", { id: "customer", className: "customer" }, [
      c.tier ? h("span", { id: "customer-tier", className: "chip tier", text: c.tier }) : null,
      h("span", { text: (c.tier ? " " : "") + (c.email || "Customer") }),
      facts ? h("div", { id: "customer-facts", className: "muted", text: facts }) : null,
      (c.tags || []).length ? h("div", { className: "muted", text: "Tags: " + c.tags.join(", ") }) : null
    ]);
  }
  function context(d) {
    var orders = d.orders || [];
    var others = d.other_payments || [];
    var notes = d.context_notes || [];
    var parts = [customer(d.customer)];
    if (orders.length) parts.push(h("ul", { className: "orders plain" }, orders.map(orderItem)));
    else parts.push(h("p", { id: "no-order", className: "muted", text: d.hidden_orders ? "Orders were found but belong to another email; they are not shown." : "No order found for this customer." }));
    if (others.length) {
      parts.push(h("details", { id: "other-payments" }, [
        h("summary", { text: "Other payments (" + others.length + ")" }),
        h("ul", { className: "payments" }, others.map(function (x) {
          var li = paymentLine(x);
          if (x.order_name) li.insertBefore(document.createTextNode("Order " + x.order_name + ": "), li.firstChild);
          return li;
        }))
      ]));
    }
    if (notes.length) parts.push(h("ul", { className: "muted notes" }, notes.map(function (n) { return h("li", { text: String(n) }); })));
    return section("context", "Order, payments & customer", parts);
  }

  function feedback(view) {
    var d = view.decision;
    if (!session) {
      return h("section", { id: "feedback", "aria-label": "Feedback" }, [
        h("p", { id: "feedback-status", className: "muted", text: "Open Deskguard from a ticket in Zendesk to give feedback." })
      ]);
    }
    var status = h("p", { id: "feedback-status", className: "muted", role: "status" });
    var names = {};
    view.categories.forEach(function (c) { names[c.id] = c.label || label(c.id); });
    function describe(fb) {
      status.textContent = fb ? "You said: " + fb.verdict + (fb.verdict === "wrong" && fb.correct_category ? " → " + names[fb.correct_category] : "") : "";
    }
    describe(view.feedback);
    function send(body) {
      status.textContent = "Saving…";
      api("/panel/api/" + encodeURIComponent(tenant) + "/tickets/" + ticketId + "/feedback", "POST", Object.assign({ decision_id: d.id }, body))
        .then(describe, function (err) { status.textContent = errorText(err); });
    }
    var select = h("select", { id: "feedback-category", "aria-label": "The right category is" },
      [h("option", { value: "", text: "The right category is…" })].concat(view.categories.filter(function (c) { return c.id !== d.category; }).map(function (c) {
        return h("option", { value: c.id, text: names[c.id], title: c.description });
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
  // The kill switch while it is off: an admin control, so it sits at the bottom.
  function killSwitchAdmin(view) {
    if (view.kill_switch || !canFlip()) return null;
    return h("section", { id: "kill-switch", "aria-label": "Kill switch" }, [
      h("h2", { text: "Admin" }),
      h("p", {}, ["Kill switch: ", h("strong", { id: "kill-switch-state", text: "off" })]),
      killSwitchButton(view)
    ]);
  }
  function footer(view) {
    var d = view.decision;
    return h("footer", {}, [
      d ? h("span", { className: "muted", text: [d.created_at_text, d.engine === "claude" ? "Claude" : d.engine ? "local model" : ""].filter(Boolean).join(" · ") }) : null,
      h("button", { id: "refresh", type: "button", className: "link", text: "Refresh", onclick: function () { loadPermissions(); load(); } })
    ]);
  }

  function render(view) {
    var d = view.decision;
    var parts = [];
    // the kill switch explains a held ticket better than the generic "deferred" box
    if (view.state !== "processed" && !(view.state === "deferred" && view.kill_switch)) {
      parts.push(stateBox(view.state, view.message || view.state));
    }
    parts.push(killSwitchHold(view), approvals(view), happened(view));
    if (d) parts.push(reply(d), reading(d), context(d), feedback(view));
    parts.push(killSwitchAdmin(view), footer(view));
    lastView = view;
    root.setAttribute("data-state", view.state);
    root.setAttribute("data-permissions", perms.status);
    show(parts);
  }

  // Permissions are fetched next to the ticket view, never before it: the view needs no
  // Zendesk lookup, so it renders at once and the buttons appear when Zendesk has answered.
  function loadPermissions() {
    if (!session) {
      perms = { status: "denied", message: "Open Deskguard from a ticket in Zendesk to act." };
      return Promise.resolve().then(function () { if (lastView) render(lastView); });
    }
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
    Promise.all([client.metadata(), client.get(["ticket.id"])]).then(function (r) {
      base = String((r[0].settings || {}).sidecar_url || "").replace(/\/+$/, "");
      ticketId = r[1]["ticket.id"];
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
