// The staff console page: every string comes from the #ui-strings data block and is set with
// textContent; every request goes to this host's /admin/api/ with the session cookie, and every
// changing one carries the X-CSRF-Token the login returned.
"use strict";

(function () {
  const UI = JSON.parse(document.getElementById("ui-strings").textContent);
  const $ = (sel) => document.querySelector(sel);
  let csrf = "";
  let faqFile = "";
  let replacing = "";
  let editing = "";
  let polling = null;

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));
  }
  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }
  function row(cells) {
    const tr = document.createElement("tr");
    for (const cell of cells) {
      const td = document.createElement("td");
      if (cell instanceof Node) td.appendChild(cell);
      else td.textContent = cell === undefined || cell === null ? "" : String(cell);
      tr.appendChild(td);
    }
    return tr;
  }
  function notice(text) { $("#notice").textContent = text || ""; }

  async function api(method, url, body, isForm) {
    const headers = {};
    if (method !== "GET") headers["X-CSRF-Token"] = csrf;
    let payload;
    if (body !== undefined && !isForm) { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
    else payload = body;
    let response;
    try {
      response = await fetch(url, { method, headers, body: payload, credentials: "same-origin" });
    } catch (e) {
      throw new Error(UI.network_error);
    }
    let data = null;
    const type = response.headers.get("content-type") || "";
    if (type.startsWith("application/json")) data = await response.json();
    if (response.status === 401 && !url.endsWith("/login")) { showLogin(UI.session_expired); throw new Error(UI.session_expired); }
    if (!response.ok) throw new Error((data && data.message) || String(response.status));
    return data;
  }

  // --- login ---------------------------------------------------------------------------------------
  function showLogin(message) {
    $("#app").hidden = true; $("#session").hidden = true; $("#login").hidden = false;
    $("#login-error").textContent = message || "";
  }
  function showApp(user) {
    $("#login").hidden = true; $("#app").hidden = false; $("#session").hidden = false;
    $("#whoami").textContent = fill(UI.logged_in_as, { user });
    openTab("documents");
  }
  $("#login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const data = await api("POST", "/admin/api/login", { username: $("#login-username").value, password: $("#login-password").value });
      csrf = data.csrf;
      $("#login-password").value = "";
      await whoAmI();
    } catch (e) { $("#login-error").textContent = e.message; }
  });
  $("#logout").addEventListener("click", async () => {
    try { await api("POST", "/admin/api/logout"); } catch (e) { /* the session is gone either way */ }
    csrf = ""; showLogin("");
  });
  async function whoAmI() {
    try {
      const me = await api("GET", "/admin/api/me");
      csrf = me.csrf; faqFile = me.faq_file; showApp(me.user);
    } catch (e) { showLogin(""); }
  }

  // --- tabs ----------------------------------------------------------------------------------------
  const loaders = {};
  function openTab(name) {
    for (const tab of document.querySelectorAll(".tab")) tab.hidden = tab.id !== "tab-" + name;
    for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.tab === name);
    notice("");
    if (loaders[name]) loaders[name]().catch((e) => notice(e.message));
  }
  for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => openTab(b.dataset.tab));

  // --- documents -----------------------------------------------------------------------------------
  loaders.documents = async function () {
    const rows = await api("GET", "/admin/api/documents");
    const body = $("#documents tbody");
    body.replaceChildren();
    for (const d of rows) {
      const status = el("span", UI["status_" + d.status] + (d.reason ? "：" + d.reason : ""));
      const title = el("span", d.title);
      if (d.ocr) title.appendChild(el("span", UI.ocr_badge, "badge"));
      const actions = document.createElement("span");
      for (const [name, fn] of [["edit", () => startEdit(d)], ["replace", () => startReplace(d.path)], ["delete", () => remove(d.path)]]) {
        const b = el("button", UI[name], name); b.type = "button"; b.addEventListener("click", fn); actions.appendChild(b);
      }
      const tr = row([d.path, title, d.category, d.issued, d.sample ? "✓" : "", d.chunks || "", d.modified.replace("T", " ").slice(0, 16), status, actions]);
      tr.dataset.path = d.path; tr.dataset.status = d.status;
      tr.children[7].className = "status status-" + d.status;
      body.appendChild(tr);
    }
    await loadTrash();
  };

  async function upload(files, path) {
    if (!files.length) return;
    const form = new FormData();
    for (const f of files) form.append("file", f, f.name);
    const folder = path !== undefined ? path : $("#upload-folder").value.trim();
    if (folder) form.append("path", path !== undefined || folder.endsWith("/") ? folder : folder + "/");
    notice(UI.uploading);
    try {
      const data = await api("POST", "/admin/api/documents", form, true);
      const replaced = data.saved.some((s) => s.replaced);
      notice(fill(UI.uploaded, { count: data.saved.length }) + (replaced ? UI.replaced : ""));
      await loaders.documents();
    } catch (e) { notice(e.message); }
  }
  const drop = $("#drop-zone");
  drop.addEventListener("dragover", (ev) => { ev.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (ev) => {
    ev.preventDefault(); drop.classList.remove("over");
    upload(Array.from(ev.dataTransfer.files));
  });
  $("#file-input").addEventListener("change", (ev) => { upload(Array.from(ev.target.files)); ev.target.value = ""; });

  function startReplace(path) { replacing = path; $("#replace-input").click(); }
  $("#replace-input").addEventListener("change", (ev) => {
    const files = Array.from(ev.target.files); ev.target.value = "";
    if (files.length && replacing) upload(files.slice(0, 1), replacing);
  });

  async function remove(path) {
    if (!window.confirm(fill(UI.confirm_delete, { path }))) return;
    try {
      await api("DELETE", "/admin/api/documents/" + path.split("/").map(encodeURIComponent).join("/"));
      notice(fill(UI.deleted, { path }));
      await loaders.documents();
    } catch (e) { notice(e.message); }
  }

  function startEdit(d) {
    editing = d.path;
    const form = $("#edit-form");
    form.hidden = false;
    $("#edit-heading").textContent = fill(UI.edit_title, { path: d.path });
    $("#edit-where").textContent = d.details_in === "sidecar" ? fill(UI.edit_where_sidecar, { path: d.path }) : UI.edit_where_front;
    for (const name of ["title", "category", "issued", "source"]) form.elements[name].value = d[name] || "";
    $("#edit-error").textContent = "";
    form.elements.title.focus();
  }
  $("#edit-cancel").addEventListener("click", () => { $("#edit-form").hidden = true; });
  $("#edit-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = ev.target;
    const values = {};
    for (const name of ["title", "category", "issued", "source"]) values[name] = form.elements[name].value.trim();
    try {
      await api("PATCH", "/admin/api/documents/" + editing.split("/").map(encodeURIComponent).join("/"), values);
      form.hidden = true; notice(UI.saved);
      await loaders.documents();
    } catch (e) { $("#edit-error").textContent = e.message; }
  });

  async function loadTrash() {
    const items = await api("GET", "/admin/api/trash");
    const list = $("#trash");
    list.replaceChildren();
    if (!items.length) list.appendChild(el("li", UI.trash_empty));
    for (const t of items) {
      const li = el("li", `${t.path}（${t.why === "replace" ? UI.trash_replace : UI.trash_delete}，${t.user}，${t.deleted_at.replace("T", " ").slice(0, 16)}） `);
      const b = el("button", UI.restore, "restore"); b.type = "button";
      b.addEventListener("click", async () => {
        try { const r = await api("POST", `/admin/api/trash/${encodeURIComponent(t.id)}/restore`); notice(fill(UI.restored, { path: r.restored })); await loaders.documents(); }
        catch (e) { notice(e.message); }
      });
      li.appendChild(b); list.appendChild(li);
    }
  }

  // --- ingest --------------------------------------------------------------------------------------
  $("#ingest-start").addEventListener("click", () => startIngest());
  async function startIngest() {
    try {
      const data = await api("POST", "/admin/api/ingest");
      watch(data.job);
    } catch (e) { notice(e.message); }
  }
  function watch(job) {
    openTabQuiet("ingest");
    $("#ingest-start").disabled = true;
    $("#ingest-status").textContent = UI.ingest_running;
    $("#ingest-report").replaceChildren();
    if (polling) clearInterval(polling);
    polling = setInterval(async () => {
      let state;
      try { state = await api("GET", "/admin/api/ingest/" + encodeURIComponent(job)); } catch (e) { return; }
      const p = state.progress;
      const bar = $("#ingest-progress");
      if (state.state === "running") {
        const share = p.total ? p.done / p.total : 0;
        bar.value = p.stage === "embed" ? 50 + 50 * share : 50 * share;
        $("#ingest-status").textContent = p.stage === "embed" ? fill(UI.ingest_embed, p) : p.stage === "read" ? fill(UI.ingest_read, { done: p.done + 1, total: p.total, path: p.path }) : UI.ingest_running;
        return;
      }
      clearInterval(polling); polling = null;
      $("#ingest-start").disabled = false;
      bar.value = 100;
      document.body.dataset.ingest = state.state;
      if (state.state === "done") { $("#ingest-status").textContent = UI.ingest_done; showReport(state.report); }
      else $("#ingest-status").textContent = fill(UI.ingest_failed, { message: state.message });
    }, 500);
  }
  function openTabQuiet(name) {
    for (const tab of document.querySelectorAll(".tab")) tab.hidden = tab.id !== "tab-" + name;
    for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.tab === name);
  }
  function showReport(report) {
    const box = $("#ingest-report");
    box.replaceChildren();
    const lists = [
      ["report_added", report.added], ["report_updated", report.updated], ["report_removed", report.removed],
      ["report_skipped", report.skipped.map((s) => `${s.path}：${s.reason}${s.kept_previous ? UI.kept_previous : ""}`)],
      ["report_warnings", report.warnings.map((w) => `${w.path}：${w.warning}`)],
      ["report_directory", report.directory.map((d) => `${d.path}（${d.sites}）`)],
      ["report_unchanged", report.unchanged],
    ];
    for (const [key, items] of lists) {
      if (!items.length) continue;
      const section = el("div", null, "report-" + key.slice(7));
      section.appendChild(el("h4", `${UI[key]}（${items.length}）`));
      const ul = document.createElement("ul");
      for (const item of items) ul.appendChild(el("li", item));
      section.appendChild(ul); box.appendChild(section);
    }
    box.appendChild(el("pre", report.summary.split("\n").pop()));
  }

  // --- try it --------------------------------------------------------------------------------------
  $("#try-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const data = await api("POST", "/admin/api/try", { question: $("#try-question").value });
      $("#try-result").hidden = false;
      $("#try-answer").textContent = data.answer;
      $("#try-why").textContent = data.ranking.why;
      const docs = $("#try-documents tbody"); docs.replaceChildren();
      for (const d of data.ranking.documents) docs.appendChild(row([d.rank, `《${d.title}》`, d.score.toFixed(4), d.cited ? "✓" : ""]));
      const passages = $("#try-passages tbody"); passages.replaceChildren();
      for (const p of data.ranking.passages) passages.appendChild(row([p.rank, p.heading, p.score.toFixed(4), p.dense.toFixed(3), p.sparse.toFixed(2)]));
      document.body.dataset.tried = String(Date.now());
    } catch (e) { notice(e.message); }
  });

  // --- what residents asked ------------------------------------------------------------------------
  loaders.asked = async function () {
    const since = $("#asked-since").value;
    const query = since ? "?since=" + encodeURIComponent(since) : "";
    $("#asked-csv").href = "/admin/api/asked.csv" + query;
    const data = await api("GET", "/admin/api/asked" + query);
    const body = $("#asked tbody"); body.replaceChildren();
    $("#asked-none").hidden = data.rows.length > 0;
    for (const r of data.rows) {
      const b = el("button", UI.add_faq, "add-faq"); b.type = "button";
      b.addEventListener("click", () => startFaq(r.question));
      const tr = row([UI["asked_" + r.kind] || r.kind, r.question, r.count, r.last.replace("T", " "), r.source, b]);
      tr.dataset.kind = r.kind; body.appendChild(tr);
    }
  };
  $("#asked-form").addEventListener("submit", (ev) => { ev.preventDefault(); loaders.asked().catch((e) => notice(e.message)); });
  function startFaq(question) {
    const form = $("#faq-form"); form.hidden = false;
    $("#faq-heading").textContent = fill(UI.faq_title, { file: faqFile });
    $("#faq-question").value = question; $("#faq-answer").value = ""; $("#faq-error").textContent = "";
    $("#faq-answer").focus();
  }
  $("#faq-cancel").addEventListener("click", () => { $("#faq-form").hidden = true; });
  $("#faq-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const data = await api("POST", "/admin/api/faq", { question: $("#faq-question").value, answer: $("#faq-answer").value });
      $("#faq-form").hidden = true;
      watch(data.job);
      notice(fill(UI.faq_saved, { path: data.path }));
    } catch (e) { $("#faq-error").textContent = e.message; }
  });

  // --- standards -----------------------------------------------------------------------------------
  loaders.standards = async function () {
    const box = $("#standards-fields"); box.replaceChildren();
    let data;
    try { data = await api("GET", "/admin/api/standards"); }
    catch (e) { $("#standards-doc").textContent = e.message; $("#standards-form").hidden = true; return; }
    $("#standards-form").hidden = false;
    $("#standards-doc").textContent = fill(UI.standards_doc, { path: data.path });
    for (const section of data.schema) {
      const div = el("div", null, "std-section");
      div.appendChild(el("h4", section.label));
      for (const k of section.keys) {
        const label = document.createElement("label");
        label.appendChild(el("span", k.label));
        const input = document.createElement("input");
        input.name = section.section + "." + k.key; input.inputMode = "decimal";
        const value = (data.standards[section.section] || {})[k.key];
        input.value = value === undefined ? "" : String(value);
        label.appendChild(input); label.appendChild(el("span", " " + k.unit, "hint"));
        div.appendChild(label);
      }
      box.appendChild(div);
    }
  };
  $("#standards-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const block = {};
    for (const input of ev.target.querySelectorAll("input")) {
      const [section, key] = input.name.split(".");
      const text = input.value.trim();
      if (text === "") continue;
      block[section] = block[section] || {};
      block[section][key] = Number.isNaN(Number(text)) ? text : Number(text);
    }
    $("#standards-error").textContent = "";
    const result = $("#standards-result"); result.replaceChildren();
    try {
      const data = await api("PUT", "/admin/api/standards", { standards: block });
      result.appendChild(el("p", UI.standards_saved));
      if (data.warnings.length) {
        result.appendChild(el("p", UI.standards_warnings));
        const ul = document.createElement("ul"); for (const w of data.warnings) ul.appendChild(el("li", w)); result.appendChild(ul);
      }
      if (data.stale.length) {
        result.appendChild(el("p", UI.standards_stale));
        const ul = document.createElement("ul"); for (const s of data.stale) ul.appendChild(el("li", `《${s.title}》（${s.path}）：${s.key} ${s.old} → ${s.new}`)); result.appendChild(ul);
      }
    } catch (e) { $("#standards-error").textContent = e.message; }
  });

  // --- audit ---------------------------------------------------------------------------------------
  loaders.audit = async function () {
    const entries = await api("GET", "/admin/api/audit");
    const body = $("#audit tbody"); body.replaceChildren();
    for (const e of entries) body.appendChild(row([e.at.replace("T", " "), e.user, UI.actions[e.action] || e.action, e.target, e.detail]));
  };

  for (const node of document.querySelectorAll("[data-ui]")) node.textContent = UI[node.dataset.ui] || "";
  $("#logout").textContent = UI.logout;
  whoAmI();
})();
