// hailuo_nb's live views: one widget model each (a task, or a whole gallery).
// Everything from the kernel is put in the page as text (textContent, attributes), never
// as markup. Elapsed time and ETA tick here, from absolute timestamps: no comm messages
// for the clock. No build step: this file is sent as it is.

const RUNNING = new Set(["queued", "submitting", "pending", "processing"]);

function fmt(seconds) {
  // The same words as describe.format_seconds in Python.
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "—";
  let s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  let m = Math.floor(s / 60);
  s %= 60;
  if (m < 60) return `${m}m${String(s).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  m %= 60;
  return `${h}h${String(m).padStart(2, "0")}m`;
}

// The kernel's clock, seen from here: the smallest (browser - kernel) gap seen so far
// (message latency only ever adds to it).
function makeClock() {
  let skew = null;
  return {
    seen(sentAt) {
      if (typeof sentAt !== "number") return;
      const gap = Date.now() / 1000 - sentAt;
      if (skew === null || gap < skew) skew = gap;
    },
    now() {
      return Date.now() / 1000 - (skew ?? 0);
    },
  };
}

function elapsedOf(st, clock) {
  if (!st.started) return null;
  if (!RUNNING.has(st.status)) return st.elapsed;
  return Math.max(st.elapsed || 0, clock.now() - st.started);
}

function statusText(st, clock) {
  // describe.status_line's words, without the percentage (the bar's label has it).
  const parts = [st.status];
  const elapsed = elapsedOf(st, clock);
  parts.push(`elapsed ${fmt(elapsed)}`);
  if (st.estimated && (st.status === "pending" || st.status === "processing")) {
    const eta = st.estimated - (elapsed || 0);
    parts.push(eta >= 1 ? `ETA ~${fmt(eta)}` : `past the ~${fmt(st.estimated)} estimate`);
  }
  if (st.note) parts.push(st.note);
  if (st.download) parts.push(st.download);
  return parts.join(" · ");
}

function linkLife(st, clock) {
  if (!st.link_expires) return "";
  const left = st.link_expires - clock.now();
  return left <= 0 ? "link expired" : `link valid ~${fmt(left)} more`;
}

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === "") continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function safeUrl(url, images = false) {
  // Absolute http(s), a path on the page's own server (a saved video it serves), or an
  // inline JPEG/PNG/WebP. Parsed as the browser will, so "/\t/evil" cannot pass as a path.
  if (typeof url !== "string" || !url) return null;
  if (images && /^data:image\/(jpeg|png|webp);base64,[A-Za-z0-9+/=]+$/.test(url)) return url;
  if (/[\u0000-\u0020\\]/.test(url)) return null;
  let parsed;
  try {
    parsed = new URL(url, window.location.href);
  } catch (_err) {
    return null;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return null;
  if (url.startsWith("/")) return parsed.origin === window.location.origin ? url : null;
  return /^https?:\/\//i.test(url) ? url : null;
}

const AUTO_BYTES = 64 * 1024 * 1024; // a saved video up to this size is fetched unasked

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (_err) {
    // Not a secure context, or no permission: the old way.
  }
  const area = h("textarea", { readonly: true, style: "position:fixed;top:0;left:0;opacity:0" });
  area.value = text;
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch (_err) {
    ok = false;
  }
  area.remove();
  return ok;
}

function copyButton(getId, small = false) {
  const button = h("button", {
    class: `hl-button${small ? " hl-small" : ""}`, type: "button",
    title: "Copy the task id to the clipboard",
  }, "Copy id");
  button.addEventListener("click", async () => {
    const id = getId();
    if (!id) {
      button.textContent = "no id yet";
    } else {
      const ok = await copyText(id);
      button.textContent = ok ? "✓ Copied" : "copy failed: select the id";
    }
    setTimeout(() => { button.textContent = "Copy id"; }, 1600);
  });
  return button;
}

function bar(st) {
  const done = st.status === "completed" || st.status === "failed";
  const value = done ? 100 : st.progress;
  const fill = h("div", { class: "hl-fill", style: `width:${value}%;background:${st.colour}` });
  return h("div", {
    class: "hl-bar", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100,
    "aria-valuenow": value, "aria-label": "progress",
  }, fill);
}

function pctText(st) {
  if (st.status === "completed") return "100%";
  if (st.status === "failed") return "✖";
  return `${st.progress}%`;
}

function meta(st) {
  const bits = [h("b", { text: st.mode })];
  if (st.model) bits.push(st.model);
  if (st.quality) bits.push(`${st.quality} · ${st.duration} s`);
  if (st.image) bits.push(h("span", { title: st.image }, "image ", h("code", { text: st.image_short })));
  bits.push(h("code", { class: "hl-id", text: st.id || "not yet submitted" }));
  if (st.credits !== null && st.credits !== undefined) bits.push(`${st.credits} credits`);
  if (st.emulator) bits.push(h("span", { class: "hl-muted", title: "a local emulator, not the real service" }, "emulator"));
  if (st.reused) bits.push(h("span", { class: "hl-muted" }, "reused"));
  const line = h("div", { class: "hl-meta" });
  bits.forEach((bit, i) => {
    if (i) line.append(" · ");
    line.append(bit instanceof Node ? bit : document.createTextNode(bit));
  });
  return line;
}

function errors(st) {
  const lines = [...(st.errors || []), ...(st.missing ? [st.missing] : [])];
  if (!lines.length) return null;
  return h("div", { class: "hl-errors", role: "alert" }, ...lines.map((line) => h("div", { text: line })));
}

// The one player: a <video> with controls and no autoplay; `onFail` runs once if the
// source will not load (the page then asks the kernel for the bytes).
function videoPlayer(src, poster, preload, onFail) {
  const video = h("video", { class: "hl-video", src, poster, controls: true, preload, playsinline: true });
  if (onFail) video.addEventListener("error", onFail, { once: true });
  return video;
}

// -- one task --------------------------------------------------------------------------

function renderTask(model, el) {
  const clock = makeClock();
  const root = h("div", { class: "hl-view" });
  el.append(root);
  let st = model.get("state");
  clock.seen(st.sent_at);
  let statusNode = null;
  let lifeNode = null;
  let videoNode = null;
  // Kept across redraws: a redraw must not stop a playing video or take a half-typed path.
  const input = h("input", {
    class: "hl-input", type: "text", placeholder: "save as… e.g. results/fox.mp4",
    "aria-label": "save the video as",
  });
  const save = () => model.send({ type: "save", path: input.value.trim() });
  input.addEventListener("keydown", (event) => {
    event.stopPropagation(); // the notebook's shortcuts must not take the keys
    if (event.key === "Enter") save();
  });
  const saveButton = h("button", { class: "hl-button", type: "button", onclick: save }, "Save as…");

  // A saved video no server has (marimo), or whose served URL failed: its bytes come from
  // the kernel, once per file (a big one on a click).
  let blob = { saved: "", url: null };
  let servedFailed = "";
  const wantsBytes = () => st.saved && (st.bytes_video || servedFailed === st.saved);
  function askForBytes(force = false) {
    if (!wantsBytes() || blob.saved === st.saved) return;
    if (!force && st.saved_size > AUTO_BYTES) return;
    if (blob.url) URL.revokeObjectURL(blob.url);
    blob = { saved: st.saved, url: null };
    model.send({ type: "video" });
  }
  function onCustom(msg, buffers) {
    if (msg && msg.type === "now") {
      clock.seen(msg.t);
      return;
    }
    if (!msg || msg.type !== "video" || !buffers || !buffers.length || blob.url) return;
    blob.url = URL.createObjectURL(new Blob([buffers[0]], { type: "video/mp4" }));
    draw();
  }

  function player() {
    const bytes = wantsBytes() && blob.saved === st.saved ? blob.url : null;
    const src = (servedFailed === st.saved ? null : safeUrl(st.video)) || bytes;
    const poster = safeUrl(st.poster, true);
    if (!src) {
      videoNode = null;
      if (wantsBytes() && blob.saved !== st.saved) {
        const mb = (st.saved_size / 1048576).toFixed(1);
        return h("button", { class: "hl-button", type: "button", onclick: () => askForBytes(true) },
          `Load the saved video (${mb} MB) from the kernel`);
      }
      return poster ? h("img", { class: "hl-video", src: poster, alt: "poster" }) : null;
    }
    if (!videoNode || videoNode.getAttribute("src") !== src) {
      // The server would not give it (another origin, a hidden folder): ask the kernel.
      const onFail = src === bytes ? null : () => {
        if (!st.saved || servedFailed === st.saved) return;
        servedFailed = st.saved;
        askForBytes(false);
        draw();
      };
      videoNode = videoPlayer(src, null, "metadata", onFail);
    }
    if (poster) videoNode.setAttribute("poster", poster);
    return videoNode;
  }

  function draw() {
    st = model.get("state");
    const top = h("div", { class: "hl-top" });
    const thumb = safeUrl(st.thumbnail, true);
    if (thumb) top.append(h("img", { class: "hl-thumb", src: thumb, alt: "input image" }));
    top.append(h("div", { class: "hl-head" }, meta(st),
      h("div", { class: "hl-prompt", title: st.prompt, text: st.prompt || "(no prompt)" })));
    statusNode = h("div", { class: "hl-status", style: `color:${st.colour}`, text: statusText(st, clock) });
    const progress = h("div", { class: "hl-progress" }, bar(st),
      h("span", { class: "hl-pct", style: `color:${st.colour}`, text: pctText(st) }));
    const actions = h("div", { class: "hl-actions" }, copyButton(() => st.id));
    if (st.status === "completed") actions.append(input, saveButton);
    const url = safeUrl(st.url);
    if (url) {
      actions.append(h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, "Open in a new tab ↗"));
      lifeNode = h("span", { class: "hl-muted", text: linkLife(st, clock) });
      actions.append(lifeNode);
    } else {
      lifeNode = null;
    }
    if (st.saved) actions.append(h("span", {}, "saved as ", h("code", { text: st.saved })));
    const notice = model.get("notice") || {};
    const children = [top, progress, statusNode, errors(st), player(), actions];
    if (notice.text) {
      children.push(h("div", { class: notice.error ? "hl-errors" : "hl-muted", text: notice.text }));
    }
    if (st.facts && st.facts.length) {
      const rows = st.facts.map(([label, value]) => h("tr", {}, h("th", { text: label }), h("td", { text: value })));
      children.push(h("details", { class: "hl-facts" }, h("summary", {}, "Details"), h("table", {}, ...rows)));
    }
    const keepOpen = root.querySelector("details")?.open;
    const typing = input.matches(":focus");
    root.replaceChildren(...children.filter(Boolean));
    if (keepOpen) root.querySelector("details").open = true;
    if (typing) input.focus();
  }

  function tick() {
    if (statusNode) statusNode.textContent = statusText(st, clock);
    if (lifeNode) lifeNode.textContent = linkLife(st, clock);
  }

  const onState = () => { clock.seen(model.get("state").sent_at); draw(); askForBytes(); };
  model.on("change:state", onState);
  model.on("change:notice", draw);
  model.on("msg:custom", onCustom);
  draw();
  askForBytes();
  model.send({ type: "hello" }); // the kernel answers with its clock: no stale elapsed time
  const timer = setInterval(tick, 1000);
  return () => {
    clearInterval(timer);
    model.off("change:state", onState);
    model.off("change:notice", draw);
    model.off("msg:custom", onCustom);
    if (blob.url) URL.revokeObjectURL(blob.url);
  };
}

// -- a gallery: one model for all its cards ---------------------------------------------------

function renderGallery(model, el) {
  const clock = makeClock();
  let cards = (model.get("cards") || []).slice();
  let summary = model.get("summary") || {};
  let seq = 0;
  const blobs = {}; // card index → Blob URL of a video the kernel sent (marimo)
  clock.seen(summary.sent_at);
  const head = h("div", { class: "hl-gallery-head" });
  const grid = h("div", { class: "hl-grid" });
  const root = h("div", { class: "hl-gallery" }, head, grid);
  el.append(root);
  const nodes = [];
  const statusNodes = [];

  const failedSrc = {}; // card index → the served URL that would not play
  const saving = {}; // card index → the "save as" box is open

  function cardMedia(st, i) {
    const served = failedSrc[i] === st.video ? null : safeUrl(st.video);
    const src = served || blobs[i] || null;
    const poster = safeUrl(st.poster, true);
    if (src) {
      const onFail = src === served && st.saved ? () => { failedSrc[i] = st.video; redrawCard(i); } : null;
      return videoPlayer(src, poster, "none", onFail);
    }
    if (st.saved && (st.bytes_video || failedSrc[i] === st.video)) {
      // No server has the file: the kernel sends it when asked (one click, one video).
      return h("button", {
        class: "hl-button hl-small", type: "button", title: "Load the saved video from the kernel",
        onclick: () => model.send({ type: "video", index: i }),
      }, "Play the saved video");
    }
    return poster ? h("img", { class: "hl-video", src: poster, alt: "poster" }) : null;
  }

  function saveBox(st, i) {
    const input = h("input", {
      class: "hl-input", type: "text", value: `${st.id || "video"}.mp4`, "aria-label": "save the video as",
    });
    const go = () => {
      const path = input.value.trim();
      if (path) model.send({ type: "save", index: i, path });
      saving[i] = false;
      redrawCard(i);
    };
    input.addEventListener("keydown", (event) => {
      event.stopPropagation(); // the notebook's shortcuts must not take the keys
      if (event.key === "Enter") go();
      if (event.key === "Escape") { saving[i] = false; redrawCard(i); }
    });
    setTimeout(() => input.focus(), 0);
    return h("div", { class: "hl-actions" }, input,
      h("button", { class: "hl-button hl-small", type: "button", onclick: go }, "Save"));
  }

  function card(i) {
    const st = cards[i];
    if (!st) return h("div", { class: "hl-card" });
    statusNodes[i] = h("div", { class: "hl-status", style: `color:${st.colour}`, text: statusText(st, clock) });
    const title = h("div", { class: "hl-card-label", title: st.label || st.prompt, text: st.label || st.prompt_short });
    const actions = h("div", { class: "hl-actions" }, copyButton(() => st.id, true));
    if (st.status === "completed") {
      actions.append(h("button", {
        class: "hl-button hl-small", type: "button",
        onclick: () => { saving[i] = !saving[i]; redrawCard(i); },
      }, "Save as…"));
      const url = safeUrl(st.url);
      if (url) actions.append(h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, "open ↗"));
    }
    const notice = (model.get("notices") || {})[String(i)];
    return h("div", { class: "hl-card", "data-status": st.status },
      title,
      h("div", { class: "hl-progress" }, bar(st), h("span", { class: "hl-pct", style: `color:${st.colour}`, text: pctText(st) })),
      statusNodes[i],
      errors(st),
      cardMedia(st, i),
      actions,
      saving[i] && st.status === "completed" ? saveBox(st, i) : null,
      notice ? h("div", { class: notice.error ? "hl-errors" : "hl-muted", text: notice.text }) : null,
      h("div", { class: "hl-muted hl-card-id", title: st.prompt, text: st.id || "not yet submitted" }),
    );
  }

  function redrawCard(i) {
    const fresh = card(i);
    if (nodes[i]) nodes[i].replaceWith(fresh);
    else grid.append(fresh);
    nodes[i] = fresh;
  }

  function drawHead() {
    const s = summary;
    const total = s.total || cards.length;
    const ended = (s.done || 0) + (s.failed || 0);
    const partial = cards.reduce((sum, st) => sum + (st && RUNNING.has(st.status) ? st.progress : 0), 0) / 100;
    const pct = total ? Math.min(100, Math.round((100 * (ended + partial)) / total)) : 100;
    const words = [s.words || ""]; // facts.status_summary's words, made in Python
    if (s.running && s.eta_at) {
      const left = s.eta_at - clock.now();
      words.push(left >= 1 ? `ETA ~${fmt(left)}` : "past the estimate");
    }
    const segments = [
      // The colours of the one table in Python (facts.STATUS_COLOURS, as CSS variables).
      ["done", s.done || 0, "var(--hl-status-completed)"], ["failed", s.failed || 0, "var(--hl-status-failed)"],
      ["running", partial, "var(--hl-status-processing)"],
    ].map(([name, n, colour]) => h("div", {
      class: `hl-seg hl-seg-${name}`, style: `width:${total ? (100 * n) / total : 0}%;background:${colour}`,
    }));
    head.replaceChildren(
      h("div", { class: "hl-bar hl-bar-total", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": pct, "aria-label": "all tasks" }, ...segments),
      h("div", { class: "hl-summary" }, h("b", { text: `${pct}%` }), " ", words.join(" · ")),
    );
  }

  function drawAll() {
    nodes.length = 0;
    statusNodes.length = 0;
    grid.replaceChildren(...cards.map((_st, i) => { nodes[i] = card(i); return nodes[i]; }));
    drawHead();
  }

  function applyDelta() {
    const d = model.get("delta") || {};
    if (!d.seq || d.seq <= seq) return;
    if (!d.all && d.seq !== seq + 1) model.send({ type: "sync" }); // missed one: ask for all
    seq = d.seq;
    if (d.summary) { summary = d.summary; clock.seen(summary.sent_at); }
    if (d.all) {
      cards = d.all.slice();
      drawAll();
      return;
    }
    for (const [key, st] of Object.entries(d.changed || {})) {
      const i = Number(key);
      cards[i] = st;
      clock.seen(st.sent_at);
      redrawCard(i);
    }
    drawHead();
  }

  let shownNotices = {};
  function onNotices() {
    const notices = model.get("notices") || {};
    for (const [key, notice] of Object.entries(notices)) {
      if (JSON.stringify(shownNotices[key]) !== JSON.stringify(notice)) redrawCard(Number(key));
    }
    shownNotices = notices;
  }

  function onCustom(msg, buffers) {
    if (!msg || msg.type !== "video" || !buffers || !buffers.length) return;
    const i = Number(msg.index);
    if (blobs[i]) URL.revokeObjectURL(blobs[i]);
    blobs[i] = URL.createObjectURL(new Blob([buffers[0]], { type: "video/mp4" }));
    redrawCard(i);
  }

  function tick() {
    cards.forEach((st, i) => {
      if (st && RUNNING.has(st.status) && statusNodes[i]) statusNodes[i].textContent = statusText(st, clock);
    });
    if (summary.running) drawHead();
  }

  model.on("change:delta", applyDelta);
  model.on("change:notices", onNotices);
  model.on("msg:custom", onCustom);
  drawAll();
  applyDelta(); // the newest change the model already holds
  model.send({ type: "sync" }); // a page (re)opened while the kernel runs: ask for now
  const timer = setInterval(tick, 1000);
  return () => {
    clearInterval(timer);
    model.off("change:delta", applyDelta);
    model.off("change:notices", onNotices);
    model.off("msg:custom", onCustom);
    Object.values(blobs).forEach((url) => URL.revokeObjectURL(url));
  };
}

export default {
  render({ model, el }) {
    el.classList.add("hailuo-live");
    return model.get("kind") === "gallery" ? renderGallery(model, el) : renderTask(model, el);
  },
};
