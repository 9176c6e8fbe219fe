// Agent assist: a customer's conversation by session id, a suggested reply with citations, and
// the passages behind it (cited ones highlighted).
(function () {
  setupHeader();
  const form = document.getElementById("load");
  const sessionInput = document.getElementById("session");
  const params = new URLSearchParams(location.search);
  if (params.get("session")) sessionInput.value = params.get("session");

  let current = null;

  function renderTurns(turns, picked) {
    const box = document.getElementById("turns");
    box.innerHTML = "";
    if (!turns.length) { box.append(el("p", { class: "placeholder" }, t("noturns"))); return; }
    turns.forEach((turn, i) => {
      const node = el("div", { class: "turn" + (i === picked ? " picked" : "") + (turn.role === "user" ? " asks" : "") },
        el("div", { class: "who" }, turn.role), el("div", { class: "what" }, turn.content));
      if (turn.role === "user") {
        node.title = t("suggestfor");
        node.addEventListener("click", () => suggest(current, i, turns));
      }
      box.append(node);
    });
  }

  async function suggest(sessionId, turn, turns) {
    const kb = document.getElementById("kb").value || undefined;
    const body = { session_id: sessionId, kb };
    if (turn !== undefined) body.turn = turn;
    let message;
    try {
      const s = await fetch("/v1/agent/suggest", { method: "POST", headers: authHeaders(), body: JSON.stringify(body) });
      if (s.ok) {
        const data = await s.json();
        renderTurns(turns, data.turn);
        renderSuggestion(data.suggestion);
        return;
      }
      message = (await failure(s)).message;
    } catch (e) { message = e.message; }
    const box = document.getElementById("suggestion");
    box.hidden = false;
    box.textContent = `${t("error")}: ${message}`;
    document.getElementById("suggestion-meta").innerHTML = "";
    document.getElementById("passages").innerHTML = "";
  }

  // what the service said when it refused (no key, a reader's key, a session of other groups)
  async function refused(r) {
    const why = await failure(r);
    return r.status === 401 ? `${t("nokey")} (${why.message})` : why.message;
  }

  function renderSuggestion(s) {
    const box = document.getElementById("suggestion");
    box.hidden = false;
    box.textContent = "";
    const re = /\[(\d+)\]/g;
    let last = 0, m;
    while ((m = re.exec(s.answer)) !== null) {
      box.append(s.answer.slice(last, m.index));
      const n = Number(m[1]);
      const b = el("button", { class: "cite", type: "button" }, String(n));
      b.addEventListener("click", () => {
        const c = (s.citations || []).find((x) => x.n === n);
        const target = c && [...document.querySelectorAll(".passage")].find((p) => p.dataset.source === c.source);
        if (target) { target.scrollIntoView({ behavior: "smooth", block: "center" }); target.classList.add("cited"); }
      });
      box.append(b);
      last = re.lastIndex;
    }
    box.append(s.answer.slice(last));
    const meta = document.getElementById("suggestion-meta");
    meta.innerHTML = "";
    meta.append(el("span", { class: "badge" + (s.handoff ? " handoff" : "") }, s.handoff ? t("handoffbadge") : actionName(s.action)),
      el("span", {}, `${t("confidence")} ${Math.round((s.confidence || 0) * 100)}%`));
    const copy = el("button", { class: "fb", type: "button" }, t("copy"));
    copy.addEventListener("click", async () => {
      try { await navigator.clipboard.writeText(s.answer); copy.textContent = t("copied"); } catch (e) { /* no clipboard */ }
    });
    meta.append(copy);
    const list = document.getElementById("passages");
    list.innerHTML = "";
    const citedSources = new Set((s.citations || []).map((c) => c.source));
    for (const p of s.passages || []) {
      const cited = citedSources.has(p.source);
      const head = el("div", { class: "head" }, p.title || p.source, " ",
        el("small", {}, `${p.source}${p.locator ? " · " + p.locator : ""} · ${p.score.toFixed(2)}${cited ? " · " + t("cited") : ""}`));
      const node = el("div", { class: "passage" + (cited ? " cited" : "") }, head, el("div", { class: "body" }, ...passageNodes(p.text)));
      node.dataset.source = p.source;
      list.append(node);
    }
  }

  function showError(box, message) {
    box.innerHTML = "";
    box.append(errorNode(message));
  }

  async function load(sessionId) {
    const box = document.getElementById("turns");
    let r;
    try { r = await fetch(`/v1/sessions/${encodeURIComponent(sessionId)}`, { headers: authHeaders() }); }
    catch (e) { showError(box, e.message); return; }
    if (r.status === 404) { renderTurns([]); return; }
    if (!r.ok) { showError(box, await refused(r)); return; }
    const data = await r.json();
    current = sessionId;
    // suggest from the knowledge base the customer was answered from (the agent may pick another)
    const kbSelect = document.getElementById("kb");
    if (data.kb && [...kbSelect.options].some((o) => o.value === data.kb)) kbSelect.value = data.kb;
    renderTurns(data.turns, -1);
    if (data.turns.length) await suggest(sessionId, undefined, data.turns);
  }

  async function loadSessions() {
    const box = document.getElementById("sessions");
    let r;
    try { r = await fetch("/v1/sessions?limit=20", { headers: authHeaders() }); }
    catch (e) { showError(box, e.message); return; }
    if (!r.ok) { showError(box, await refused(r)); return; }
    box.innerHTML = "";
    for (const s of (await r.json()).sessions) {
      const item = el("div", { class: "session-item" }, el("code", {}, s.session_id),
        el("span", { class: "badge" + (s.handoff ? " handoff" : "") }, s.handoff ? t("handoffbadge") : actionName(s.last_action)));
      item.addEventListener("click", () => { sessionInput.value = s.session_id; form.requestSubmit(); });
      box.append(item);
    }
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const id = sessionInput.value.trim();
    if (id) { history.replaceState(null, "", `?session=${encodeURIComponent(id)}`); load(id); }
  });
  document.addEventListener("kb-key", () => {  // another key: what it may see
    loadSessions();
    if (sessionInput.value.trim()) load(sessionInput.value.trim());
  });
  loadSessions();
  if (sessionInput.value) load(sessionInput.value.trim());
})();
