// UI strings in English and Chinese (Simplified and Traditional); the browser language picks, the button switches.
const STRINGS = {
  en: {
    title: "Help center", apikey: "API key (optional)", newchat: "New chat", agentview: "Agent view",
    welcome: "How can we help?",
    welcome2: "Ask a question. Every answer shows its sources; click a number to read the passage.",
    placeholder: "Type your question…", send: "Send", sourcehint: "Click a citation to see the passage it quotes.",
    sources: "Sources", helpful: "Helpful", nothelpful: "Not helpful", comment: "What was wrong? (optional)",
    submit: "Send", thanks: "Thanks for your feedback!", handoff: "A support agent will take over this conversation.",
    handoffbadge: "Hand-off", confidence: "confidence", error: "Something went wrong", thinking: "Thinking…",
    agenttitle: "Agent assist", session: "Session id", load: "Load", conversation: "Customer conversation",
    suggestion: "Suggested reply", passages: "Passages behind it", nosession: "Enter a customer session id.",
    copy: "Copy reply", copied: "Copied", lang: "中文", noturns: "No conversation for this session yet.",
    cited: "cited", chat: "Customer chat", suggestfor: "Suggest a reply to this question",
    act_faq: "FAQ", act_answer: "answer", act_clarify: "clarifying question", act_refuse: "not found",
    act_handoff: "Hand-off", cutoff: "the answer was cut off before it was checked; please ask again",
    sessionlost: "this conversation was started with another API key, so a new one has begun; please ask again",
    toolong: "the question is too long ({n} characters, at most {limit}); please shorten it",
    nokey: "this page needs an API key: enter it above", badkey: "the API key was not accepted: check it above",
    busy: "we are very busy right now; your question is back in the box, please send it again in a minute",
    busywait: "We are busy right now; trying again in a moment…",
    unreachable: "the help center cannot be reached; check your connection and send your question again",
    close: "Close", commentup: "Anything to add? (optional)", noted: "Thanks! Your rating is saved.",
    apikeyreq: "API key (required)", askperson: "Talk to a person",
    fb_extractive: "quoted from the documents: the assistant model is unavailable",
    fb_partial: "cut short: the assistant model stopped; ask again for the rest",
  },
  zh: {
    title: "帮助中心", apikey: "API 密钥（可选）", newchat: "新对话", agentview: "客服视图",
    welcome: "有什么可以帮您？", welcome2: "请输入您的问题。每个回答都附有来源，点击编号即可查看原文段落。",
    placeholder: "请输入您的问题…", send: "发送", sourcehint: "点击引用编号查看所引用的原文。",
    sources: "来源", helpful: "有帮助", nothelpful: "没有帮助", comment: "哪里不对？（可选）",
    submit: "提交", thanks: "感谢您的反馈！", handoff: "人工客服将接手此对话。", handoffbadge: "转人工",
    confidence: "置信度", error: "出错了", thinking: "思考中…", agenttitle: "客服辅助", session: "会话 ID",
    load: "加载", conversation: "客户对话", suggestion: "建议回复", passages: "依据段落", nosession: "请输入客户会话 ID。",
    copy: "复制回复", copied: "已复制", lang: "繁體中文", noturns: "该会话暂无对话。", cited: "已引用", chat: "客户聊天", suggestfor: "为此问题生成建议回复",
    act_faq: "常见问题", act_answer: "回答", act_clarify: "澄清问题", act_refuse: "未找到答案", act_handoff: "转人工",
    cutoff: "回答在核对完成前中断，请重新提问", sessionlost: "此对话由另一个 API 密钥发起，已为您开始新对话，请重新提问",
    toolong: "问题过长（{n} 个字符，最多 {limit} 个），请缩短后再发送", nokey: "此页面需要 API 密钥，请在上方输入",
    badkey: "API 密钥无效，请检查上方的密钥", busy: "当前咨询人数较多，您的问题已放回输入框，请稍后再发送",
    busywait: "当前咨询人数较多，稍后自动重试…", unreachable: "无法连接帮助中心，请检查网络后重新发送问题",
    close: "关闭", commentup: "还有什么想说的？（可选）", noted: "谢谢！您的评价已保存。",
    apikeyreq: "API 密钥（必填）", askperson: "转人工客服",
    fb_extractive: "直接引自文档：智能模型暂不可用", fb_partial: "回答不完整：智能模型中断，可重新提问",
  },
  "zh-Hant": {
    title: "幫助中心", apikey: "API 金鑰（選填）", newchat: "新對話", agentview: "客服視圖",
    welcome: "有什麼可以幫您？", welcome2: "請輸入您的問題。每個回答都附有來源，點擊編號即可查看原文段落。",
    placeholder: "請輸入您的問題…", send: "發送", sourcehint: "點擊引用編號查看所引用的原文。",
    sources: "來源", helpful: "有幫助", nothelpful: "沒有幫助", comment: "哪裡不對？（選填）",
    submit: "提交", thanks: "感謝您的回饋！", handoff: "人工客服將接手此對話。", handoffbadge: "轉人工",
    confidence: "信心度", error: "出錯了", thinking: "思考中…", agenttitle: "客服輔助", session: "會話 ID",
    load: "載入", conversation: "客戶對話", suggestion: "建議回覆", passages: "依據段落", nosession: "請輸入客戶會話 ID。",
    copy: "複製回覆", copied: "已複製", lang: "English", noturns: "該會話暫無對話。", cited: "已引用", chat: "客戶聊天", suggestfor: "為此問題產生建議回覆",
    act_faq: "常見問題", act_answer: "回答", act_clarify: "澄清問題", act_refuse: "未找到答案", act_handoff: "轉人工",
    cutoff: "回答在核對完成前中斷，請重新提問", sessionlost: "此對話由另一個 API 金鑰發起，已為您開始新對話，請重新提問",
    toolong: "問題過長（{n} 個字元，最多 {limit} 個），請縮短後再發送", nokey: "此頁面需要 API 金鑰，請在上方輸入",
    badkey: "API 金鑰無效，請檢查上方的金鑰", busy: "目前諮詢人數較多，您的問題已放回輸入框，請稍後再發送",
    busywait: "目前諮詢人數較多，稍後自動重試…", unreachable: "無法連線幫助中心，請檢查網路後重新發送問題",
    close: "關閉", commentup: "還有什麼想說的？（選填）", noted: "謝謝！您的評價已儲存。",
    apikeyreq: "API 金鑰（必填）", askperson: "轉人工客服",
    fb_extractive: "直接引自文件：智慧模型暫不可用", fb_partial: "回答不完整：智慧模型中斷，可重新提問",
  },
};
// the order the language button goes through; each language's "lang" string names the next one
const ORDER = ["en", "zh", "zh-Hant"];
const HTML_LANG = { en: "en", zh: "zh-CN", "zh-Hant": "zh-Hant" };

function pickLang() {
  const saved = localStorage.getItem("kb.lang");
  if (saved && STRINGS[saved]) return saved;
  const nav = (navigator.language || "en").toLowerCase();
  if (/^zh-(tw|hk|mo|hant)/.test(nav)) return "zh-Hant";  // Taiwan, Hong Kong, Macau: Traditional characters
  return nav.startsWith("zh") ? "zh" : "en";
}

let LANG = pickLang();

function t(key) { return (STRINGS[LANG] && STRINGS[LANG][key]) || STRINGS.en[key] || key; }

function applyI18n() {
  document.documentElement.lang = HTML_LANG[LANG] || "en";
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll("[data-i18n-ph]").forEach((el) => { el.placeholder = t(el.dataset.i18nPh); });
  const btn = document.getElementById("lang");
  if (btn) btn.textContent = t("lang");
  document.title = t(document.body.dataset.titleKey || "title");
}

function toggleLang() {
  LANG = ORDER[(ORDER.indexOf(LANG) + 1) % ORDER.length];
  localStorage.setItem("kb.lang", LANG);
  applyI18n();
}

// an action's name in the UI language ("refuse" -> "not found"); an unknown one as it came
function actionName(action) { return STRINGS.en["act_" + action] ? t("act_" + action) : String(action || ""); }

// an error response's code and message: its JSON body's, or its status when the body is not the
// service's JSON (a proxy's HTML error page)
async function failure(r) {
  try {
    const b = await r.json();
    if (b && typeof b.message === "string") return { code: String(b.error || ""), message: b.message };
  } catch (e) { /* not JSON */ }
  return { code: "", message: `HTTP ${r.status}${r.statusText ? " " + r.statusText : ""}` };
}

function errorNode(message) { return el("div", { class: "error", role: "alert" }, `${t("error")}: ${message}`); }

// The API key lives in this tab's sessionStorage, not localStorage: it is gone when the tab
// closes, and a script of another page of this origin in another tab cannot read it.
function apiKey() { return (document.getElementById("apikey") || {}).value || sessionStorage.getItem("kb.apikey") || ""; }

function authHeaders() {
  const key = apiKey();
  const h = { "Content-Type": "application/json" };
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

// A passage's text as nodes: a section heading the retriever wrote before a part ("## 3. Items
// that cannot be returned") shows as a bold line, not as its marker; all text stays text.
function passageNodes(text) {
  const out = [];
  String(text || "").split("\n").forEach((line, i) => {
    if (i) out.push(document.createTextNode("\n"));
    out.push(line.startsWith("## ") ? el("strong", { class: "ph" }, line.slice(3)) : document.createTextNode(line));
  });
  return out;
}

async function loadKbs(select) {
  try {
    const r = await fetch("/v1/models", { headers: authHeaders() });
    const key = document.getElementById("apikey");
    // the service wants a key: the box says so ("optional" was said of a key every question needed)
    if (key) key.dataset.i18nPh = r.status === 401 ? "apikeyreq" : "apikey";
    if (key) key.placeholder = t(key.dataset.i18nPh);
    if (!r.ok) { select.innerHTML = ""; select.hidden = true; return; }  // no key yet: loaded again when one is entered
    const data = await r.json();
    const current = localStorage.getItem("kb.kb");
    select.innerHTML = "";
    for (const m of data.data) select.append(el("option", { value: m.id }, m.id));
    if (current && [...select.options].some((o) => o.value === current)) select.value = current;
    select.hidden = data.data.length <= 1;
  } catch (e) { /* the page still works with the default knowledge base */ }
}

function setupHeader() {
  const key = document.getElementById("apikey");
  const kb = document.getElementById("kb");
  if (key) {
    const saved = localStorage.getItem("kb.apikey");  // where earlier versions of this page kept it
    if (saved && !sessionStorage.getItem("kb.apikey")) sessionStorage.setItem("kb.apikey", saved);
    localStorage.removeItem("kb.apikey");
    key.value = sessionStorage.getItem("kb.apikey") || "";
    key.addEventListener("change", () => {
      if (key.value) sessionStorage.setItem("kb.apikey", key.value); else sessionStorage.removeItem("kb.apikey");
      if (kb) loadKbs(kb);  // the knowledge bases this key may use
      document.dispatchEvent(new Event("kb-key"));
    });
  }
  const lang = document.getElementById("lang");
  if (lang) lang.addEventListener("click", toggleLang);
  if (kb) {
    kb.addEventListener("change", () => localStorage.setItem("kb.kb", kb.value));
    loadKbs(kb);
  }
  applyI18n();
}
