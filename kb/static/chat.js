// The customer chat: POST /v1/ask with stream: true, parse the Server-Sent Events as they arrive.
(function () {
  const messages = document.getElementById("messages");
  const form = document.getElementById("composer");
  const input = document.getElementById("question");
  const send = document.getElementById("send");
  let sessionId = sessionStorage.getItem("kb.session") || null;
  // this tab's conversation ({question, final} per answered turn), kept so that a reload shows the
  // conversation the server goes on with
  let turns = readTurns();
  let inflight = null;  // the AbortController of the question being answered
  let chat = 0;  // which conversation is on screen: a reply to an earlier one ("New chat") is dropped

  function readTurns() {
    try {
      const v = JSON.parse(sessionStorage.getItem("kb.turns") || "[]");
      return Array.isArray(v) ? v : [];
    } catch (e) { return []; }
  }

  function keepTurns() {
    try { sessionStorage.setItem("kb.turns", JSON.stringify(turns.slice(-KEPT_TURNS))); }
    catch (e) { /* storage full: a reload shows fewer turns */ }
  }

  function newChat() {
    chat += 1;
    if (inflight) inflight.abort();
    forgetSession();
    messages.querySelectorAll(".msg").forEach((m) => m.remove());
    document.getElementById("empty").hidden = false;
    showSource(null);
  }

  const KEPT_TURNS = 50;
  const BUSY_TRIES = 3;  // a busy service is asked again this many times, as long as it says when
  const keyBox = document.getElementById("apikey");
  setupHeader();
  document.getElementById("newchat").addEventListener("click", newChat);

  function scroll() { messages.scrollTop = messages.scrollHeight; }

  // an answer longer than the view is shown from its question down, not from its last line
  function showAnswer(bubble) {
    const start = bubble.previousElementSibling || bubble;
    if (bubble.getBoundingClientRect().bottom - start.getBoundingClientRect().top <= messages.clientHeight) { scroll(); return; }
    messages.scrollTop += start.getBoundingClientRect().top - messages.getBoundingClientRect().top - 12;
  }

  const panel = document.getElementById("source");
  const closer = document.getElementById("source-close");
  // on a narrow screen the passage covers the page: it is one step of the browser's history, so
  // that Back closes it as the close button and Escape do (and does not leave the chat)
  const narrow = window.matchMedia("(max-width: 900px)");
  let stepped = false;

  function showSource(c, button) {
    document.querySelectorAll(".cite.active").forEach((b) => b.classList.remove("active"));
    const body = document.getElementById("source-body");
    const empty = document.getElementById("source-empty");
    if (!c) {
      body.hidden = true; empty.hidden = false; closer.hidden = true;
      panel.classList.remove("open");
      if (stepped) { stepped = false; history.back(); }
      return;
    }
    if (narrow.matches && !stepped) { history.pushState({ kbSource: true }, ""); stepped = true; }
    closer.hidden = false;
    if (button) button.classList.add("active");
    document.getElementById("source-title").textContent = `[${c.n}] ${c.title || c.source}`;
    document.getElementById("source-loc").textContent = c.locator ? `${c.source} · ${c.locator}` : c.source;
    document.getElementById("source-text").replaceChildren(...passageNodes(c.text));
    body.hidden = false; empty.hidden = true;
    panel.classList.add("open");
    if (narrow.matches) closer.focus();
  }

  closer.addEventListener("click", () => { showSource(null); input.focus(); });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && !closer.hidden) { showSource(null); input.focus(); }
  });
  window.addEventListener("popstate", () => { if (stepped) { stepped = false; showSource(null); } });

  // answer text with [n] markers turned into buttons that open the cited passage
  function renderAnswer(container, text, citations) {
    container.textContent = "";
    const byN = new Map(citations.map((c) => [c.n, c]));
    const re = /\[(\d+)\]/g;
    let last = 0, m;
    while ((m = re.exec(text)) !== null) {
      container.append(text.slice(last, m.index));
      const c = byN.get(Number(m[1]));
      if (c) {
        const b = el("button", { class: "cite", type: "button", title: c.source }, String(c.n));
        b.addEventListener("click", () => showSource(c, b));
        container.append(b);
      } else container.append(m[0]);
      last = re.lastIndex;
    }
    container.append(text.slice(last));
  }

  const THUMB = '<svg width="15" height="15" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" ' +
    'stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M7 10v11H3V10h4z"/>' +
    '<path d="M7 10l4-8a3 3 0 0 1 3 3v4h5.5a2 2 0 0 1 2 2.3l-1.4 8A2 2 0 0 1 18.1 21H7"/></svg>';

  function feedbackBar(answerId) {
    const bar = el("div", { class: "meta" });
    const up = el("button", { class: "fb", type: "button", title: t("helpful"), "aria-label": t("helpful"), "data-rating": "up" });
    const down = el("button", { class: "fb", type: "button", title: t("nothelpful"), "aria-label": t("nothelpful"), "data-rating": "down" });
    up.innerHTML = THUMB;
    down.innerHTML = THUMB;
    down.classList.add("down");
    const wrap = el("div", {});
    // the click records the rating; the comment, if one is written, is sent with it again (a
    // later rating of an answer replaces the earlier one)
    async function record(rating, comment) {
      const r = await fetch("/v1/feedback", { method: "POST", headers: authHeaders(),
        body: JSON.stringify({ answer_id: answerId, rating, comment }) });
      if (!r.ok) throw new Error((await failure(r)).message);
    }
    function choose(rating, btn) {
      up.classList.remove("chosen"); down.classList.remove("chosen"); btn.classList.add("chosen");
      wrap.innerHTML = "";
      const noted = el("span", { class: "fb-noted" });
      const comment = el("input", { type: "text", placeholder: t(rating === "up" ? "commentup" : "comment"),
        maxlength: "4000", class: "fb-comment" });
      const submit = el("button", { type: "submit", class: "fb-send" }, t("submit"));
      const f = el("form", { class: "fb-form" }, comment, submit);
      function failed(e) {
        wrap.querySelectorAll(".error").forEach((x) => x.remove());
        wrap.append(errorNode(e.message));
      }
      record(rating, null).then(() => {
        if (btn.classList.contains("chosen")) noted.textContent = t("noted");
      }, failed);  // not recorded: the form's Send tries again
      f.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        submit.disabled = true;
        try {
          await record(rating, comment.value || null);
        } catch (e) {
          submit.disabled = false;  // the form stays, to send again
          failed(e);
          return;
        }
        wrap.innerHTML = "";
        wrap.append(el("span", { class: "thanks" }, t("thanks")));
      });
      wrap.append(noted, f);
      comment.focus();
    }
    up.addEventListener("click", () => choose("up", up));
    down.addEventListener("click", () => choose("down", down));
    bar.append(up, down);
    return [bar, wrap];
  }

  function finish(bubble, textEl, final) {
    bubble.classList.remove("streaming");
    bubble.querySelectorAll(".error").forEach((x) => x.remove());
    renderAnswer(textEl, final.answer, final.citations || []);
    if (final.citations && final.citations.length) {
      const chips = el("div", { class: "sources" });
      for (const c of final.citations) {
        const chip = el("button", { class: "source-chip", type: "button" }, `[${c.n}] ${c.title || c.source}`);
        chip.addEventListener("click", () => showSource(c, null));
        chips.append(chip);
      }
      bubble.append(chips);
    }
    if (final.handoff) {
      bubble.classList.add("handoff");
      bubble.append(el("div", { class: "handoff-banner", role: "status" }, t("handoff")));
    } else if (final.action === "refuse") {
      // the refusal offers a person: one click takes the offer (typing "yes" still does)
      const person = el("button", { class: "ask-person", type: "button" }, t("askperson"));
      person.addEventListener("click", () => {
        if (inflight) return;
        person.disabled = true;
        input.value = t("askperson");
        form.requestSubmit();
      });
      bubble.append(person);
    }
    const [bar, wrap] = feedbackBar(final.answer_id);
    const badge = el("span", { class: "badge" + (final.handoff ? " handoff" : "") },
      final.handoff ? t("handoffbadge") : actionName(final.action));
    bar.append(badge);
    // how sure an answer is; a hand-off or a refusal is no less sure for its "0%"
    if (final.action === "answer" || final.action === "faq") {
      bar.append(el("span", {}, `${t("confidence")} ${Math.round((final.confidence || 0) * 100)}%`));
    }
    // an answer composed without the model (it was down, or stopped part-way) says so
    if (final.fallback === "extractive" || final.fallback === "partial") {
      bar.append(el("span", { class: "badge fallback", role: "note" }, t("fb_" + final.fallback)));
    }
    bubble.append(bar, wrap);
    bubble.dataset.answerId = final.answer_id;
  }

  // parse "event: x\ndata: {...}\n\n" blocks from a growing buffer
  function* sseEvents(state) {
    let i;
    while ((i = state.buf.indexOf("\n\n")) >= 0) {
      const block = state.buf.slice(0, i);
      state.buf = state.buf.slice(i + 2);
      let event = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trimStart();
      }
      if (data) yield [event, JSON.parse(data)];
    }
  }

  function bubbles(question) {
    document.getElementById("empty").hidden = true;
    messages.append(el("div", { class: "msg user" }, question));
    const textEl = el("div", { class: "text" });
    const bubble = el("div", { class: "msg bot streaming" }, textEl);
    messages.append(bubble);
    return [bubble, textEl];
  }

  async function ask(question, mine, signal) {
    const [bubble, textEl] = bubbles(question);
    scroll();
    const kb = document.getElementById("kb").value || undefined;
    const sent = sessionId;
    const body = { question, stream: true, session_id: sent, kb };
    // a visitor without a key is a customer of no access group: in local development mode (no API
    // keys) every caller is an admin, and this page, open to anyone, answered from staff-only
    // documents. With a key, the key's own groups apply (the service enforces them)
    if (!apiKey()) body.user = { groups: [] };
    let final = null;
    try {
      let r, why = null;
      // a busy service (503) or a rate limit (429) says when to come back: the page waits and
      // asks again, a few times, before it gives up
      for (let tries = 0; ; tries++) {
        try {
          r = await fetch("/v1/ask", { method: "POST", headers: authHeaders(), body: JSON.stringify(body), signal });
        } catch (e) {
          if (e.name === "AbortError") throw e;
          throw new Error(t("unreachable"));  // the network, or the service is down ("Failed to fetch")
        }
        if (r.ok || tries >= BUSY_TRIES) break;
        why = await failure(r);
        const wait = Number(r.headers.get("Retry-After") ?? NaN);
        if (!(why.code === "busy" || why.code === "rate_limited") || !(wait >= 0 && wait <= 15)) break;
        textEl.textContent = t("busywait");
        await new Promise((done) => setTimeout(done, Math.max(wait, 1) * 1000));
        if (mine !== chat) return;
        textEl.textContent = "";
      }
      if (!r.ok || !r.body) {
        why = why || await failure(r);
        if (r.status === 401) {
          // the customer is told what to do, not the header an integrator sends; a key typed in
          // and refused is told so
          if (keyBox) keyBox.focus();
          throw new Error(t(apiKey() ? "badkey" : "nokey"));
        }
        if (sent && r.status === 403 && why.code === "session_forbidden") {
          forgetSession();  // another key's conversation: the next question starts a new one
          throw new Error(t("sessionlost"));
        }
        if (why.code === "busy" || why.code === "rate_limited") throw new Error(t("busy"));
        // the limit, in the page's language, without the hint meant for the operator ("or raise
        // KB_MAX_QUESTION_CHARS")
        const counts = why.code === "question_too_long" && why.message.match(/has (\d+) characters, the limit is (\d+)/);
        throw new Error(counts ? t("toolong").replace("{n}", counts[1]).replace("{limit}", counts[2]) : why.message);
      }
      const reader = r.body.getReader();
      const decoder = new TextDecoder();
      const state = { buf: "" };
      let streamed = "", done = false;
      while (!done) {
        const chunk = await reader.read();
        done = chunk.done;
        state.buf += decoder.decode(chunk.value || new Uint8Array(), { stream: !done });
        for (const [event, data] of sseEvents(state)) {
          if (mine !== chat) return;  // "New chat" was pressed meanwhile
          if (event === "token") { streamed += data.text; textEl.textContent = streamed; scroll(); }
          else if (event === "final") { final = data; finish(bubble, textEl, data); showAnswer(bubble); }
          else if (event === "error") throw new Error(data.message);
        }
      }
      // a stream that ends without its final event was cut (a proxy, the network): what came
      // was never checked against its sources
      if (!final) throw new Error(t("cutoff"));
    } catch (e) {
      if (mine !== chat) return;
      bubble.classList.remove("streaming");
      if (!final) textEl.textContent = "";  // streamed text not yet checked is not left standing
      bubble.append(errorNode(e.name === "AbortError" ? t("cutoff") : e.message));
      input.value = input.value || question;  // not answered: back in the box, to edit or send again
      return;
    }
    if (mine !== chat) return;
    if (final.session_id) { sessionId = final.session_id; sessionStorage.setItem("kb.session", sessionId); }
    turns.push({ question, final });
    keepTurns();
  }

  function forgetSession() {
    sessionId = null;
    turns = [];
    sessionStorage.removeItem("kb.session");
    sessionStorage.removeItem("kb.turns");
  }

  // the conversation of this tab again, after a reload
  for (const turn of turns) {
    if (!turn || typeof turn.question !== "string" || !turn.final) continue;
    const [bubble, textEl] = bubbles(turn.question);
    finish(bubble, textEl, turn.final);
  }
  scroll();

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (inflight) return;  // one question at a time: Enter while an answer streams sends nothing
    const q = input.value.trim();
    if (!q) return;
    input.value = "";
    send.disabled = true;
    const controller = new AbortController();
    inflight = controller;
    try { await ask(q, chat, controller.signal); } finally {
      if (inflight === controller) inflight = null;
      send.disabled = false;
      if (!keyBox || document.activeElement !== keyBox) input.focus();  // a refused key is the box to mend
    }
  });
  input.addEventListener("keydown", (ev) => {
    // Enter that ends an input method's composition (pinyin, kana) picks the characters: it sends nothing
    if (ev.isComposing || ev.keyCode === 229) return;
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); form.requestSubmit(); }
  });
})();
