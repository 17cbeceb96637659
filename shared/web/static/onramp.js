// Onramp pages: bearer token for htmx requests, sign-in, language switch, command buttons.
// The token stays in this browser's localStorage; every data request carries it, and the
// server checks it and the roles on every /v1 route.
(function () {
  "use strict";
  const KEY = "onramp.token";
  const T = Object.assign(
    JSON.parse(document.getElementById("onramp-i18n").textContent),
    JSON.parse(document.getElementById("page-i18n").textContent),
  );

  function token() { return window.localStorage.getItem(KEY); }

  function claims(jwt) {
    try {
      const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(window.atob(part));
    } catch (e) { return null; }
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function notice(message, kind) {
    const box = document.getElementById("notice");
    if (!box) return;
    box.textContent = message || "";
    box.className = message ? "notice " + (kind || "error") : "notice";
    box.hidden = !message;
  }

  function problemDetail(text) {
    try { return JSON.parse(text).detail || ""; } catch (e) { return ""; }
  }

  function showUser() {
    const signedIn = document.getElementById("signed-in");
    const form = document.getElementById("sign-in");
    const jwt = token();
    const who = jwt ? claims(jwt) : null;
    if (who && who.exp && who.exp * 1000 < Date.now()) {
      window.localStorage.removeItem(KEY);
      notice(T.expired);
      return showUser();
    }
    form.hidden = !!who;
    signedIn.hidden = !who;
    const dev = document.getElementById("dev-login");
    if (dev) dev.hidden = !!who;
    if (who) {
      document.getElementById("who").textContent =
        who.sub + " · " + (who.roles || []).map((r) => T.roles[r] || r).join(", ");
    }
    return who;
  }

  function refresh() {
    document.querySelectorAll("[data-live]").forEach((node) => window.htmx.trigger(node, "refresh"));
  }

  document.addEventListener("htmx:configRequest", (event) => {
    const jwt = token();
    if (!jwt) { event.preventDefault(); return; }
    event.detail.headers["Authorization"] = "Bearer " + jwt;
  });
  document.addEventListener("htmx:responseError", (event) => {
    const xhr = event.detail.xhr;
    if (xhr.status === 401) {
      window.localStorage.removeItem(KEY);
      showUser();
      notice(T.expired);
    } else if (xhr.status === 403) {
      notice(T.forbidden + " " + problemDetail(xhr.responseText));
    } else {
      notice(T.failed + " " + xhr.status + " " + problemDetail(xhr.responseText));
    }
  });
  document.addEventListener("htmx:sendError", () => notice(T.offline));
  document.addEventListener("htmx:afterRequest", (event) => {
    const box = document.getElementById("notice");
    if (event.detail.successful && box && box.classList.contains("error")) notice("");
  });

  // --- sign-in and language ---------------------------------------------------------------

  document.getElementById("sign-in").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("token-input");
    const jwt = input.value.trim().replace(/^Bearer\s+/i, "");
    if (!claims(jwt)) { notice(T.bad_token); return; }
    input.value = "";
    signIn(jwt);
  });
  function signIn(jwt) {
    window.localStorage.setItem(KEY, jwt);
    notice("");
    if (showUser()) document.body.dispatchEvent(new Event("signed-in"));
  }
  document.querySelectorAll("[data-dev-role]").forEach((button) => {
    button.addEventListener("click", async () => {
      const response = await window.fetch("/dev-login", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ role: button.getAttribute("data-dev-role") }),
      });
      if (!response.ok) { notice(T.failed + " " + response.status); return; }
      signIn((await response.json()).token);
    });
  });
  document.getElementById("sign-out").addEventListener("click", () => {
    window.localStorage.removeItem(KEY);
    window.location.reload();
  });
  document.querySelectorAll("[data-lang]").forEach((button) => {
    button.addEventListener("click", () => {
      const lang = button.getAttribute("data-lang");
      document.cookie = "onramp_lang=" + lang + "; path=/; max-age=31536000; SameSite=Lax";
      const url = new URL(window.location.href);
      url.searchParams.delete("lang");
      window.location.replace(url.toString());
    });
  });

  // --- commands: buttons call the service's own JSON API with the user's token -------------

  function randomKey() {
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function bodyFor(button) {
    const live = document.querySelector("[data-stage]");
    const stage = live ? Number(live.getAttribute("data-stage")) : null;
    const field = button.getAttribute("data-input");
    const text = field ? document.getElementById(field).value.trim() : "";
    switch (button.getAttribute("data-action")) {
      case "advance": return { expected_stage: stage };
      case "override": return { expected_stage: stage, override: true, reason: text };
      case "start": return text ? { override: true, reason: text } : {};
      case "approve": return { expected_stage: stage, decision: "approve", comment: text };
      case "reject": return { expected_stage: stage, decision: "reject", comment: text };
      case "pause": return { reason: text };
      case "resume": return { reason: text };
      default: return null;
    }
  }

  function cell(row, text, cls) { row.appendChild(el("td", cls ? { class: cls } : {}, text)); }

  function showRefusal(body) {
    const box = document.getElementById("result");
    box.replaceChildren();
    box.hidden = false;
    box.className = "result refused";
    box.appendChild(el("h3", {}, T.refused));
    if (body.detail) box.appendChild(el("p", {}, body.detail));
    const gate = body.gate;
    if (!gate) return;
    box.appendChild(el("p", {}, T.gate_outcome + ": " + (T.outcomes[gate.outcome] || gate.outcome)));
    const table = el("table", { class: "refusal-criteria" });
    const head = el("tr");
    [T.criterion, T.outcome, T.value, T.threshold, T.sample].forEach((h) => head.appendChild(el("th", {}, h)));
    table.appendChild(head);
    gate.criteria.forEach((c) => {
      const row = el("tr", { "data-criterion": c.name });
      cell(row, T.criteria[c.name] || c.name);
      cell(row, T.outcomes[c.outcome] || c.outcome, "outcome " + c.outcome);
      const lang = document.documentElement.lang;
      const share = new Intl.NumberFormat(lang, { style: "percent" });
      const whole = new Intl.NumberFormat(lang, { maximumFractionDigits: 0 });
      const pct = c.name === "satisfaction" || c.name === "training";
      const unit = c.name === "soak" ? " s" : "";
      const fmt = (v) => v === null ? "–" : pct ? share.format(v) : whole.format(v) + unit;
      cell(row, fmt(c.value));
      cell(row, fmt(c.threshold));
      cell(row, c.sample_size === null ? "–" : String(c.sample_size));
      table.appendChild(row);
    });
    box.appendChild(table);
    if (gate.missing && gate.missing.length) {
      box.appendChild(el("h4", {}, T.missing));
      const list = el("ul");
      gate.missing.forEach((m) => list.appendChild(el("li", {}, m)));
      box.appendChild(list);
    }
  }

  function currentStage() {
    const live = document.querySelector("[data-stage]");
    return live ? live.getAttribute("data-stage") + "/" + live.getAttribute("data-status") : "";
  }

  // A command's answer belongs to the stage it was given on: once the stage or status moves
  // on, it is cleared so that it cannot be read as news about the new state.
  document.addEventListener("htmx:afterSettle", () => {
    const box = document.getElementById("result");
    if (box && !box.hidden && box.dataset.stage !== currentStage()) box.hidden = true;
  });

  async function run(button) {
    const body = bodyFor(button);
    const box = document.getElementById("result");
    button.disabled = true;
    try {
      const response = await window.fetch(button.getAttribute("data-url"), {
        method: "POST",
        headers: {
          "Authorization": "Bearer " + token(),
          "Content-Type": "application/json",
          "Idempotency-Key": randomKey(),
        },
        body: JSON.stringify(body),
      });
      const text = await response.text();
      let answer = {};
      try { answer = JSON.parse(text); } catch (e) { answer = {}; }
      box.dataset.stage = currentStage();
      if (response.ok) {
        const r = answer.rollout || {};
        box.dataset.stage = (r.stage === null || r.stage === undefined ? "" : r.stage) + "/" + r.status;
        box.hidden = false;
        box.className = "result ok";
        box.textContent = T.done + ": " + (T.results[answer.result] || answer.result || "");
        const field = button.getAttribute("data-input");
        if (field) document.getElementById(field).value = "";
      } else if (response.status === 409 && answer.gate) {
        showRefusal(answer);
      } else {
        box.hidden = false;
        box.className = "result refused";
        let message = answer.detail || "";
        if (answer.errors) message += " " + answer.errors.map((e) => e.msg).join("; ");
        box.textContent = T.failed + " " + response.status + ": " + message;
      }
    } catch (e) {
      notice(T.offline);
    } finally {
      button.disabled = false;
      refresh();
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (button) { event.preventDefault(); run(button); }
  });

  // --- inbox: mark a notification read ---------------------------------------------------

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-read]");
    if (!button) return;
    event.preventDefault();
    const response = await window.fetch(button.getAttribute("data-read"), {
      method: "POST",
      headers: { "Authorization": "Bearer " + token() },
    });
    if (!response.ok) notice(T.failed + " " + response.status);
    refresh();
  });

  if (showUser()) document.body.classList.add("has-token");
})();
