// dmvault viewer. Every text from the vault goes into the page through
// textContent or attributes set by the DOM, never as HTML.
"use strict";

const main = document.getElementById("main");

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// A static export (`dmvault export --html`) sets DMV_SITE in data/site.js
// and keeps its data in data/*.js files, which load from file:// where
// fetch() cannot; `dmvault view` answers the same questions at /api/.
const SITE = window.DMV_SITE || null;

async function api(path) {
  const r = await fetch("/api/" + path, { credentials: "same-origin" });
  if (!r.ok) throw new Error((await r.text()) || r.statusText);
  return r.json();
}

const loaded = new Map();
const waiting = new Map();
window.DMV_DATA = (key, value) => {
  const ok = waiting.get(key);
  waiting.delete(key);
  if (ok) ok(value);
};

// One data file of a static export, loaded once.
function data(key) {
  if (!loaded.has(key)) {
    loaded.set(key, new Promise((ok, fail) => {
      waiting.set(key, ok);
      const s = document.createElement("script");
      s.src = "data/" + key + ".js";
      s.onload = () => s.remove();
      s.onerror = () => {
        waiting.delete(key);
        loaded.delete(key);
        fail(new Error("this export has no data/" + key + ".js; export it again"));
      };
      document.head.append(s);
    }));
  }
  return loaded.get(key);
}

function siteConversation(id) {
  const c = SITE.conversations.find((c) => c.id === id);
  if (!c) throw new Error("this export holds no conversation " + id);
  return c;
}

// A message in its conversation; `page` is where a static export keeps it.
function messageHref(conversationId, messageId, page) {
  return "#/c/" + encodeURIComponent(conversationId) + "?m=" + encodeURIComponent(messageId) +
    (page === undefined || page === null ? "" : "&p=" + page);
}

function show(...nodes) {
  main.replaceChildren(...nodes);
}

function failed(e) {
  show(el("p", { class: "error", text: "Could not load this page: " + e.message }));
}

const when = (t) => (t ? t.slice(0, 10) + " " + t.slice(11, 16) : "");
const day = (t) => (t ? t.slice(0, 10) : "");

function personName(p) {
  if (!p) return "someone";
  if (p.name && p.handle) return p.name + " (@" + p.handle + ")";
  return p.name || (p.handle ? "@" + p.handle : p.user_id);
}

function senderName(m) {
  return personName({ user_id: m.sender_id || "?", handle: m.sender_handle, name: m.sender_name });
}

function conversationLabel(c) {
  return c.name || c.conversation_name || c.id || c.conversation_id;
}

function link(text, href) {
  return el("a", { href, text });
}

// ---- conversations

async function conversations() {
  const list = SITE ? SITE.conversations : await api("conversations");
  const filter = el("input", { class: "filter", type: "search", placeholder: "Filter by name or id", "aria-label": "Filter conversations" });
  const ul = el("ul", { class: "list", id: "conversations" });
  const render = () => {
    const q = filter.value.trim().toLowerCase();
    ul.replaceChildren(
      ...list
        .filter((c) => !q || [c.id, c.name || "", ...c.participants.map(personName)].join(" ").toLowerCase().includes(q))
        .map((c) =>
          el("li", { "data-id": c.id },
            el("a", { href: "#/c/" + encodeURIComponent(c.id) },
              el("div", { class: "title", text: conversationLabel(c) }),
              el("div", { class: "meta", text:
                (c.kind === "group" ? "group · " : "") + c.messages + " messages · " + c.media + " media · " +
                day(c.first) + " – " + day(c.last) + (c.name ? " · " + c.id : "") }))))
    );
  };
  filter.addEventListener("input", render);
  render();
  show(el("h1", { text: "Conversations (" + list.length + ")" }), filter, ul);
}

// ---- lazy images: loaded when they come near the screen. (Chromium's
// loading="lazy" left an image unloaded for good now and then.)

const nearScreen = new IntersectionObserver((entries) => {
  for (const e of entries) {
    if (e.isIntersecting && e.target.dataset.src) {
      e.target.src = e.target.dataset.src;
      delete e.target.dataset.src;
      nearScreen.unobserve(e.target);
    }
  }
}, { rootMargin: "800px 0px" });

function lazy(img) {
  nearScreen.observe(img);
  return img;
}

// ---- one conversation

function mediaNode(m, x) {
  const box = el("div", { class: "media" });
  if (!x.object) {
    box.append(el("div", { class: "missing", text:
      "No file: X left this " + x.kind + " out of this archive. Another archive (an older or newer download) may have it; import it to fill the gap." }));
    return box;
  }
  if (SITE && !x.file) {
    box.append(el("div", { class: "missing", text: "This " + x.kind + " is in the vault but not in this export (its filters left it out)." }));
    return box;
  }
  // One URL per place: Chromium shares one load between images of the same
  // URL, and a shared lazy load could stay deferred for good.
  const at = "?at=" + encodeURIComponent((m.id || m.message_id || "") + "-" + (x.ordinal || 0));
  const src = SITE ? x.file + at : "/media/" + x.object + at;
  const poster = x.poster ? (SITE ? x.poster : "/media/" + x.poster) + at : null;
  if (x.kind === "image") {
    // A large image shows its small poster, which leads to the whole; the
    // server makes it when asked (/poster/; 512 KiB is poster::LARGE_IMAGE).
    const large = (x.size || 0) >= 512 * 1024;
    const thumb = poster || (SITE || !large ? null : "/poster/" + x.object + at);
    const img = lazy(el("img", { "data-src": thumb || src, alt: x.original_name || "image", "data-object": x.object }));
    box.append(thumb ? el("a", { href: src, target: "_blank", rel: "noopener" }, img) : img);
  }
  else if (x.kind === "gif") {
    const gif = el("video", { src, muted: true, loop: true, autoplay: true, playsinline: true, "data-object": x.object });
    // The attribute only sets the default: a video made by a script must be
    // muted by its property too, or the browser will not play it by itself.
    gif.muted = true;
    box.append(gif);
  }
  else box.append(el("video", { src, poster, controls: true, preload: "none", "data-object": x.object }));
  if (x.integrity === "damaged" || x.integrity === "unreadable") {
    box.append(el("div", { class: "badge " + x.integrity, text: x.integrity + (x.integrity_detail ? ": " + x.integrity_detail : "") }));
  }
  return box;
}

function messageNode(m) {
  const d = el("div", { class: "msg", id: "m" + m.id, "data-id": m.id },
    el("span", { class: "who", text: senderName(m) }),
    el("span", { class: "when", text: when(m.created_at) + (m.welcome ? " · welcome message" : "") + (m.headers_only ? " · only in the headers file: no text" : "") }));
  if (m.text) d.append(el("div", { class: "text", text: m.text }));
  for (const l of m.links || []) {
    if (l.expanded && !l.expanded.includes("/messages/media/")) {
      d.append(el("div", { class: "meta" }, el("a", { href: l.expanded, rel: "noopener noreferrer", target: "_blank", text: l.expanded })));
    }
  }
  for (const e of m.edits || []) d.append(el("div", { class: "edits", text: "earlier version (" + when(e.at) + "): " + (e.text || "") }));
  if (m.reactions && m.reactions.length) {
    d.append(el("div", { class: "reactions", text: m.reactions.map((r) => (r.emoji || r.key) + " " + (r.sender_name || r.sender_id)).join(" · ") }));
  }
  for (const x of m.media || []) d.append(mediaNode(m, x));
  return d;
}

function eventNode(e) {
  const by = personName(e.by);
  const users = (e.users || []).map(personName).join(", ");
  const what = {
    join_conversation: by + " added you; members: " + users,
    participants_join: by + " added " + users,
    participants_leave: users + " left",
    rename: by + " named the group “" + (e.name || "") + "”",
    reaction: by + " reacted " + (e.emoji || "") + " " + (e.key || ""),
  }[e.kind] || "event: " + (e.detail || e.kind);
  return el("div", { class: "event", text: when(e.at) + " — " + what });
}

function itemNode(i) {
  return i.item === "message" ? messageNode(i) : eventNode(i);
}

// Pages of a conversation from the server: keyset pages around a message.
function serverPages(id, around) {
  const base = "conversations/" + encodeURIComponent(id);
  const at = (anchor) => api(base + "/messages?limit=100" + anchor);
  return {
    info: () => api(base),
    first: () => at(around ? "&around=" + encodeURIComponent(around) : ""),
    older: (firstId) => at("&before=" + encodeURIComponent(firstId)),
    newer: (lastId) => at("&after=" + encodeURIComponent(lastId)),
  };
}

// Pages of a conversation in a static export: numbered files, oldest 0.
function sitePages(id, params) {
  const dir = "c/" + siteConversation(id).dir + "/";
  let lo = 0, hi = 0;
  return {
    info: () => data(dir + "info"),
    first: async () => {
      const info = await data(dir + "info");
      lo = hi = params.has("p") ? Number(params.get("p")) : Math.max(0, info.pages - 1);
      return data(dir + lo);
    },
    older: () => data(dir + --lo),
    newer: () => data(dir + ++hi),
  };
}

async function conversation(id, params) {
  const around = params.get("m");
  const pages = SITE ? sitePages(id, params) : serverPages(id, around);
  const [info, page] = await Promise.all([pages.info(), pages.first()]);
  const box = el("div", { id: "messages" });
  const older = el("button", { class: "more", text: "Older messages" });
  const newer = el("button", { class: "more", text: "Newer messages" });
  const firstId = () => box.querySelector(".msg")?.dataset.id;
  const lastId = () => [...box.querySelectorAll(".msg")].pop()?.dataset.id;
  older.hidden = !page.more_before;
  newer.hidden = !page.more_after;
  older.addEventListener("click", async () => {
    const p = await pages.older(firstId());
    box.prepend(...p.items.map(itemNode));
    older.hidden = !p.more_before;
  });
  newer.addEventListener("click", async () => {
    const p = await pages.newer(lastId());
    box.append(...p.items.map(itemNode));
    newer.hidden = !p.more_after;
  });
  box.append(...page.items.map(itemNode));
  const months = el("nav", { class: "months", "aria-label": "Jump to a month" },
    ...info.months.map((mo) => link(mo.month, messageHref(id, mo.first_id, mo.page))));
  show(
    el("h1", { text: conversationLabel(info) }),
    el("div", { class: "meta", text: info.conversation_id + " · " + info.messages + " messages · with " + info.participants.map(personName).join(", ") }),
    months,
    link("Media of this conversation", "#/media?conversation=" + encodeURIComponent(id)),
    older, box, newer
  );
  const target = around ? document.getElementById("m" + around) : box.lastElementChild;
  if (target) {
    if (around) target.classList.add("target");
    target.scrollIntoView({ block: around ? "center" : "end" });
  }
}

// ---- search

async function search(params) {
  const q = params.get("q") || "";
  document.getElementById("search-box").value = q;
  const hits = SITE ? await siteSearch(q) : await api("search?limit=50&q=" + encodeURIComponent(q));
  const ul = el("ul", { class: "list", id: "results" },
    ...hits.map((h) =>
      el("li", { "data-id": h.id },
        el("a", { href: messageHref(h.conversation_id, h.id, h.page) },
          el("div", { class: "meta", text: when(h.created_at) + " · " + conversationLabel(h) + " · " + senderName(h) }),
          snippet(h.snippet)))));
  show(el("h1", { text: hits.length + " messages for “" + q + "”" }), ul);
}

// A static export has no search index: every page is read, and a message
// matches when its text holds every word and "phrase" (prefix* too).
async function siteSearch(q) {
  const terms = (q.toLowerCase().match(/"[^"]*"|\S+/g) || [])
    .map((t) => t.replace(/^"|"$/g, "").replace(/\*$/, ""))
    .filter((t) => t && !/^(and|or|not|near)$/.test(t));
  if (!terms.length) return [];
  const hits = [];
  for (const c of SITE.conversations) {
    const dir = "c/" + c.dir + "/";
    const info = await data(dir + "info");
    for (let p = 0; p < info.pages; p++) {
      for (const m of (await data(dir + p)).items) {
        const text = (m.item === "message" && m.text) || "";
        if (!terms.every((t) => text.toLowerCase().includes(t))) continue;
        const at = text.toLowerCase().indexOf(terms[0]);
        const snip = text.slice(0, at) + "**" + text.slice(at, at + terms[0].length) + "**" + text.slice(at + terms[0].length);
        hits.push({ ...m, conversation_id: c.id, conversation_name: c.name, page: p, snippet: snip });
      }
    }
  }
  hits.sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
  return hits.slice(0, 50);
}

// Matches come marked **like this**; they become <mark> elements.
function snippet(s) {
  const d = el("div", { class: "text" });
  s.split("**").forEach((part, i) => d.append(i % 2 ? el("mark", { text: part }) : document.createTextNode(part)));
  return d;
}

// ---- media gallery

async function gallery(params) {
  const qs = new URLSearchParams(params);
  qs.set("limit", "300");
  const rows = SITE ? await siteMedia(params) : await api("media?" + qs.toString());
  const pick = (name, values) => {
    const s = el("select", { "aria-label": name }, el("option", { value: "", text: "any " + name }), ...values.map((v) => el("option", { value: v, text: v })));
    s.value = params.get(name) || "";
    s.addEventListener("change", () => {
      const p = new URLSearchParams(params);
      if (s.value) p.set(name, s.value); else p.delete(name);
      location.hash = "#/media?" + p.toString();
    });
    return s;
  };
  const grid = el("div", { class: "grid", id: "gallery" },
    ...rows.filter((r) => r.object).map((r) =>
      el("div", { class: "cell" },
        mediaNode(r, { kind: r.kind, object: r.object, file: r.file, poster: r.poster, integrity: r.integrity, integrity_detail: r.integrity_detail, original_name: r.original_name, ordinal: r.ordinal, size: r.size }),
        r.conversation_id
          ? link(when(r.created_at) + " · " + (r.sender_name || r.sender_handle || r.sender_id || ""), messageHref(r.conversation_id, r.message_id, r.page))
          : el("span", { class: "meta", text: "orphan file " + (r.original_name || "") }))));
  show(el("h1", { text: "Media (" + rows.length + ")" }), el("div", { class: "filters" }, pick("kind", ["image", "gif", "video"]), pick("integrity", ["ok", "damaged", "unreadable"])), grid);
}

// A static export's gallery: pages of rows, newest first, filtered here.
async function siteMedia(params) {
  const is = (k, v) => !params.get(k) || params.get(k) === v;
  const rows = [];
  for (let p = 0; p < SITE.media_pages && rows.length < 300; p++) {
    rows.push(...(await data("media/" + p)).filter((r) =>
      is("kind", r.kind) && is("integrity", r.integrity) && is("conversation", r.conversation_id) && is("sender", r.sender_id)));
  }
  return rows.slice(0, 300);
}

// ---- people

async function people() {
  const list = SITE ? SITE.people : await api("people");
  const rows = list.map((p) =>
    el("tr", { "data-id": p.user_id },
      el("td", { text: p.name ? p.name.value : "" }),
      el("td", { text: p.handle ? "@" + p.handle.value : "" }),
      el("td", { class: "meta", text: p.user_id + (p.owner ? " (you)" : "") }),
      el("td", { text: p.messages_sent + " messages, " + p.media_sent + " media" }),
      el("td", {}, link("media", "#/media?sender=" + encodeURIComponent(p.user_id)))));
  show(el("h1", { text: "People (" + list.length + ")" }),
    el("table", { id: "people" }, el("tr", {}, ...["Name", "Handle", "Id", "Sent", ""].map((h) => el("th", { text: h }))), ...rows));
}

// ---- routing

async function route() {
  const hash = location.hash.slice(1) || "/";
  const [path, query] = hash.split("?");
  const params = new URLSearchParams(query || "");
  try {
    if (path.startsWith("/c/")) await conversation(decodeURIComponent(path.slice(3)), params);
    else if (path === "/search") await search(params);
    else if (path === "/media") await gallery(params);
    else if (path === "/people") await people();
    else await conversations();
    document.body.dataset.ready = hash;
    window.readyAt = performance.now();
  } catch (e) {
    failed(e);
    document.body.dataset.ready = "error";
  }
}

document.getElementById("search-form").addEventListener("submit", (e) => {
  e.preventDefault();
  location.hash = "#/search?q=" + encodeURIComponent(document.getElementById("search-box").value);
});
window.addEventListener("hashchange", route);
route();
