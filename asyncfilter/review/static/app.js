// asyncfilter review page: keyboard first, no build step. Decisions are queued and sent in
// order, in batches, each with an id made here so that a retried request counts once.
"use strict";
(() => {
  const token = new URLSearchParams(location.search).get("token") || "";
  const $ = (id) => document.getElementById(id);
  const PREFETCH = 5;
  const GRID_PAGE = 24;
  const state = {
    info: null, mode: "focus",
    items: [], index: 0, next: undefined, loading: null,    // focus
    grid: [], gridCursor: 0, gridNext: undefined,            // grid
    undo: [],                                                // groups of {item, id, prev}
    decided: new Map(),          // "bucket/key" -> verdict this page set (null: undone)
    groups: new Map(),           // near-copy group id -> promise of its members
    queue: [], sending: false, times: [], acks: 0,
    done: 0, left: 0,
  };

  function newId() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  }

  async function api(path, options = {}) {
    const headers = Object.assign({ "X-Review-Token": token }, options.headers || {});
    const response = await fetch(path, Object.assign({}, options, { headers }));
    if (!response.ok) {
      let message = response.statusText;
      try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
      const error = new Error(message);
      error.status = response.status;
      throw error;
    }
    return response.json();
  }

  // A page read while decisions were on their way may have been counted before them: its
  // counts are used only if no decision was sent or acknowledged since it was asked for.
  function countsMark() { return state.sending || state.queue.length ? -1 : state.acks; }

  function setCounts(data, mark = null) {
    if (data.done === undefined) return;
    if (mark !== null && (mark === -1 || mark !== countsMark())) return;
    state.done = data.done; state.left = data.left;
    const c = $("counter");
    c.dataset.done = data.done; c.dataset.left = data.left;
    c.textContent = `${data.done.toLocaleString()} done · ${data.left.toLocaleString()} left`;
  }

  function showRate() {
    const now = Date.now();
    const t = state.times;
    if (!t.length) { $("rate").textContent = "0 / min"; return; }
    const minutes = Math.max((now - t[0]) / 60000, 1 / 60);
    $("rate").textContent = `${Math.round(t.length / minutes)} / min`;
  }

  const keyOf = (item) => `${item.bucket}\u0000${item.key}`;

  // A verdict set here holds for every copy of the item the page has (focus list, grid,
  // group strips), and for pages that were read before the decision was saved.
  function setVerdict(item, verdict) {
    const k = keyOf(item);
    state.decided.set(k, verdict);
    for (const list of [state.items, state.grid]) {
      for (const it of list) if (keyOf(it) === k) it.verdict = verdict;
    }
    item.verdict = verdict;
  }

  function known(items) {
    for (const item of items) {
      const k = keyOf(item);
      if (state.decided.has(k)) item.verdict = state.decided.get(k);
    }
    return items;
  }

  // --- sending decisions ------------------------------------------------------------------
  function enqueue(item, decision) {
    const entry = { id: newId(), bucket: item.bucket, key: item.key, decision };
    state.queue.push(entry);
    state.times.push(Date.now());
    showRate();
    flush();
    return entry.id;
  }

  async function flush() {
    if (state.sending) return;
    state.sending = true;
    let delay = 250;
    try {
      while (state.queue.length) {
        const batch = state.queue.slice(0, 200);
        $("saving").textContent = `saving ${state.queue.length}…`;
        try {
          const data = await api("api/decisions", {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ decisions: batch }),
          });
          state.queue.splice(0, batch.length);
          state.acks += 1;
          setCounts(data);
          delay = 250;
        } catch (error) {
          if (error.status === 403 || error.status === 400) {
            $("saving").textContent = `not saved: ${error.message}`;
            state.queue.splice(0, batch.length);
            continue;
          }
          $("saving").textContent = "server unreachable, retrying…";
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(delay * 2, 5000);
        }
      }
      $("saving").textContent = "all saved";
    } finally {
      state.sending = false;
    }
  }

  function settled() {  // resolves when everything queued has been acknowledged
    return new Promise((resolve) => {
      const check = () => (!state.queue.length && !state.sending ? resolve() : setTimeout(check, 20));
      check();
    });
  }

  // --- images -----------------------------------------------------------------------------
  function drawBoxes(frame, item) {
    const layer = frame.querySelector(".boxes");
    layer.replaceChildren(...item.boxes.map((b) => {
      const d = document.createElement("div");
      d.className = "box";
      d.style.left = `${b.left * 100}%`; d.style.top = `${b.top * 100}%`;
      d.style.width = `${b.width * 100}%`; d.style.height = `${b.height * 100}%`;
      return d;
    }));
  }

  // A presigned URL lives url_expires_s: one about to expire is renewed before it is used,
  // and an image that fails to load anyway (expired, or moved by a verdict) asks once for a
  // fresh URL of where the image is now.
  function stamp(items) {
    const life = state.info.url_expires_s * 1000;
    for (const item of items) item.expiresAt = Date.now() + life;
    return items;
  }

  function stale(item) {
    const life = state.info.url_expires_s * 1000;
    return Date.now() > item.expiresAt - Math.min(30000, life / 4);
  }

  async function refresh(item) {
    const q = new URLSearchParams({ bucket: item.bucket, key: item.key });
    item.url = (await api(`api/url?${q}`)).url;
    stamp([item]);
    item.warm = null;
  }

  async function loadInto(img, item) {
    img.dataset.key = item.key;
    const frame = img.closest(".frame");
    img.onload = () => { if (img.dataset.key === item.key) frame.dataset.shown = item.key; };
    img.onerror = async () => {
      if (item.refreshedFrom === item.url) { img.alt = "image unavailable"; return; }
      item.refreshedFrom = item.url;
      try {
        await refresh(item);
        if (img.dataset.key === item.key) img.src = item.url;
      } catch (e) { img.alt = "image unavailable"; }
    };
    if (stale(item)) {
      try { await refresh(item); } catch (e) { /* the old URL may still do */ }
      if (img.dataset.key !== item.key) return;  // moved on meanwhile
    }
    img.src = item.url;
  }

  async function prefetch(from) {
    for (const item of state.items.slice(from, from + PREFETCH)) {
      if (stale(item)) {
        try { await refresh(item); } catch (e) { continue; }
      }
      if (!item.warm) { item.warm = new Image(); item.warm.src = item.url; }
    }
  }

  // --- focus ------------------------------------------------------------------------------
  async function loadMore() {
    if (state.next === null) return;
    if (state.loading) return state.loading;
    state.loading = (async () => {
      // a small first page shows the first image soonest; then whole pages
      const limit = state.items.length ? state.info.page_size : Math.min(10, state.info.page_size);
      const q = new URLSearchParams({ order: state.info.focus_order || "key", pending: "1", limit });
      if (state.next) q.set("after", JSON.stringify(state.next));
      const mark = countsMark();
      const data = await api(`api/items?${q}`);
      state.items.push(...known(stamp(data.items)));
      state.next = data.next;
      setCounts(data, mark);
    })();
    try { await state.loading; } finally { state.loading = null; }
  }

  function renderFocus() {
    const item = state.items[state.index];
    const frame = $("focus-frame"), img = $("focus-img");
    $("empty").hidden = !!item;
    frame.hidden = !item;
    if (!item) {
      $("cap-key").textContent = ""; $("cap-label").textContent = ""; $("cap-verdict").textContent = "";
      delete frame.dataset.key;
      return;
    }
    frame.dataset.key = item.key;
    frame.dataset.verdict = item.verdict || "";
    if (img.dataset.key !== item.key) { delete frame.dataset.shown; loadInto(img, item); }
    drawBoxes(frame, item);
    $("cap-key").textContent = item.key;
    const seen = item.via === "broader"
      ? `${item.name}? only ${item.detected} seen`  // a miss: a broader label, not the class
      : `${item.name}${item.detected && item.detected !== item.name ? ` (as ${item.detected})` : ""}`;
    $("cap-label").textContent = `${seen} · ${item.confidence == null ? "?" : item.confidence.toFixed(1)}%`;
    const v = $("cap-verdict");
    v.textContent = item.verdict || "pending";
    v.className = item.verdict ? `verdict-${item.verdict}` : "";
    renderGroup(item);
    prefetch(state.index + 1);
    if (state.items.length - state.index < 15) loadMore().then(() => prefetch(state.index + 1));
  }

  async function move(step) {
    const to = state.index + step;
    if (to < 0) return;
    if (to >= state.items.length) {
      await loadMore();
      if (to >= state.items.length) { state.index = state.items.length; renderFocus(); return; }
    }
    state.index = to;
    renderFocus();
  }

  // After a decision: the next image still pending (a group decision may have decided some).
  async function advance() {
    let to = state.index + 1;
    for (;;) {
      if (to >= state.items.length) {
        await loadMore();
        if (to >= state.items.length) break;
      }
      if (!state.items[to].verdict) break;
      to += 1;
    }
    state.index = Math.min(to, state.items.length);
    renderFocus();
  }

  const VERDICT = { accept: "accepted", reject: "rejected" };

  function decideFocus(decision) {
    const item = state.items[state.index];
    if (!item) return;
    const prev = item.verdict || null;
    const id = enqueue(item, decision);
    setVerdict(item, VERDICT[decision]);
    state.undo.push([{ item, id, prev }]);
    advance();
  }

  // --- near-copy groups: shown together, decided together (one event per image) ----------
  function groupOf(item) {
    if (!item.group) return Promise.resolve([]);
    if (!state.groups.has(item.group)) {
      const q = new URLSearchParams({ id: item.group });
      const asked = api(`api/group?${q}`).then((data) => known(stamp(data.members)));
      asked.catch(() => state.groups.delete(item.group));
      state.groups.set(item.group, asked);
    }
    return state.groups.get(item.group);
  }

  async function renderGroup(item) {
    const box = $("group");
    if (!item || !item.group) { box.hidden = true; delete box.dataset.group; return; }
    let members;
    try { members = await groupOf(item); } catch (e) { box.hidden = true; return; }
    if (state.items[state.index] !== item) return;  // moved on meanwhile
    box.hidden = false;
    box.dataset.group = item.group;
    const inBand = members.filter((m) => m.in_band).length;
    $("group-title").textContent =
      `near-copies: ${members.length} images` + (inBand < members.length ? `, ${inBand} here` : "");
    $("group-strip").replaceChildren(...members.map((m) => {
      const cell = document.createElement("div");
      const mine = keyOf(m) === keyOf(item);
      const verdict = state.decided.has(keyOf(m)) ? state.decided.get(keyOf(m)) : m.verdict;
      cell.className = "member frame" + (mine ? " current" : "") + (m.in_band ? "" : " other") +
        (verdict ? ` verdict-${verdict}` : "");
      cell.dataset.key = m.key;
      cell.dataset.verdict = verdict || "";
      cell.title = `${m.key} · ${m.in_band ? verdict || "pending" : m.outcome}`;
      const img = document.createElement("img");
      img.alt = "";
      cell.append(img);
      if (!m.in_band) {
        const tag = document.createElement("span");
        tag.className = "tag";
        tag.textContent = m.outcome;
        cell.append(tag);
      }
      loadInto(img, m);
      return cell;
    }));
  }

  async function decideGroup(decision) {
    const item = state.items[state.index];
    if (!item || !item.group) return;
    let members;
    try { members = await groupOf(item); } catch (e) { return; }
    if (state.items[state.index] !== item) return;
    // the image in focus first (undo comes back to it), then the group's others in this band
    const others = members.filter((m) => m.in_band && keyOf(m) !== keyOf(item));
    const entries = [item, ...others].map((it) => {
      const k = keyOf(it);
      const prev = (state.decided.has(k) ? state.decided.get(k) : it.verdict) || null;
      const id = enqueue(it, decision);
      setVerdict(it, VERDICT[decision]);
      return { item: it, id, prev };
    });
    state.undo.push(entries);
    advance();
  }

  function undo() {
    const group = state.undo.pop();
    if (!group) return;
    for (const { item, prev } of group) {
      enqueue(item, "revert");
      setVerdict(item, prev);
    }
    if (state.mode === "focus") {
      const first = keyOf(group[0].item);
      const at = state.items.findIndex((it) => keyOf(it) === first);
      if (at >= 0) state.index = at;
      renderFocus();
    } else {
      state.grid = group.map((g) => g.item);
      state.grid.forEach((it) => { it.marked = it.verdict === VERDICT[marking().marked]; });
      state.gridCursor = 0;
      renderGrid();
    }
  }

  // --- grid -------------------------------------------------------------------------------
  // A grid page is committed by marking the exceptions: in the band (and among hits) the
  // wrong ones, rejected, the rest accepted; among misses, where most are rightly misses,
  // the ones that do show the class, accepted, the rest rejected.
  function marking() {
    return state.info.outcome === "miss"
      ? { cls: "found", marked: "accept", rest: "reject", word: "accepted", other: "rejected" }
      : { cls: "rejected", marked: "reject", rest: "accept", word: "rejected", other: "accepted" };
  }

  function summary() {
    const m = marking();
    const marked = state.grid.filter((it) => it.marked).length;
    return state.grid.length
      ? `Enter: ${marked} ${m.word}, ${state.grid.length - marked} ${m.other}` : "";
  }

  async function loadGrid() {
    if (state.gridNext === null) { state.grid = []; renderGrid(); return; }
    const q = new URLSearchParams({ order: "confidence", pending: "1", limit: GRID_PAGE });
    if (state.gridNext) q.set("after", JSON.stringify(state.gridNext));
    const mark = countsMark();
    const data = await api(`api/items?${q}`);
    state.grid = known(stamp(data.items));
    state.gridNext = data.next;
    state.gridCursor = 0;
    setCounts(data, mark);
    renderGrid();
  }

  function renderGrid() {
    const grid = $("grid");
    $("grid-empty").hidden = state.grid.length > 0;
    grid.replaceChildren(...state.grid.map((item, i) => {
      const cell = document.createElement("div");
      cell.className = "thumb" + (i === state.gridCursor ? " cursor" : "") +
        (item.marked ? ` ${marking().cls}` : "");
      cell.dataset.key = item.key;
      cell.dataset.index = i;
      const frame = document.createElement("div");
      frame.className = "frame";
      const img = document.createElement("img");
      img.alt = "";
      const boxes = document.createElement("div");
      boxes.className = "boxes";
      frame.append(img, boxes);
      const meta = document.createElement("div");
      meta.className = "meta";
      meta.textContent = (item.group_size ? `⧉${item.group_size} · ` : "") +
        `${item.confidence == null ? "?" : item.confidence.toFixed(1)}% · ${item.key}`;
      if (item.group) cell.dataset.group = item.group;
      cell.append(frame, meta);
      drawBoxes(frame, item);
      loadInto(img, item);
      return cell;
    }));
    $("grid-summary").textContent = summary();
    $("btn-grid-group").hidden = !state.grid.some((it) => it.group);
  }

  function markCursor() {
    const cells = $("grid").children;
    for (const cell of cells) {
      const i = Number(cell.dataset.index);
      cell.classList.toggle("cursor", i === state.gridCursor);
      cell.classList.toggle(marking().cls, !!state.grid[i].marked);
    }
    $("grid-summary").textContent = summary();
  }

  function toggle(i) {
    const item = state.grid[i];
    if (!item) return;
    item.marked = !item.marked;
    state.gridCursor = i;
    markCursor();
  }

  function toggleGroup(i) {  // mark / unmark the near-copies of the image on this page
    const item = state.grid[i];
    if (!item) return;
    if (!item.group) { toggle(i); return; }
    const marked = !item.marked;
    for (const it of state.grid) if (it.group === item.group) it.marked = marked;
    markCursor();
  }

  function gridColumns() {
    const cells = $("grid").children;
    if (cells.length < 2) return 1;
    const top = cells[0].offsetTop;
    let n = 0;
    while (n < cells.length && cells[n].offsetTop === top) n++;
    return n;
  }

  async function commitGrid() {
    if (!state.grid.length) return;
    const group = state.grid.map((item) => {
      const prev = item.verdict || null;
      const decision = item.marked ? marking().marked : marking().rest;
      const id = enqueue(item, decision);
      setVerdict(item, VERDICT[decision]);
      return { item, id, prev };
    });
    state.undo.push(group);
    await loadGrid();
  }

  // --- modes and keys ---------------------------------------------------------------------
  async function setMode(mode) {
    state.mode = mode;
    $("focus-view").hidden = mode !== "focus";
    $("grid-view").hidden = mode !== "grid";
    $("mode-focus").classList.toggle("on", mode === "focus");
    $("mode-grid").classList.toggle("on", mode === "grid");
    if (mode === "grid") {
      await settled();  // the grid starts from what is still pending
      state.gridNext = undefined;
      await loadGrid();
    } else {
      await settled();
      state.items = []; state.index = 0; state.next = undefined;
      await loadMore();
      renderFocus();
    }
  }

  function toggleHelp(show) {
    $("help").hidden = show === undefined ? !$("help").hidden : !show;
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key;
    if (key === "?") { toggleHelp(); event.preventDefault(); return; }
    if (key === "Escape") { toggleHelp(false); return; }
    if (!$("help").hidden) return;
    if (key === "f" && state.mode !== "focus") { setMode("focus"); return; }
    if (key === "g" && state.mode !== "grid") { setMode("grid"); return; }
    if (key === "z") { undo(); event.preventDefault(); return; }
    if (state.mode === "focus") {
      const actions = {
        a: () => decideFocus("accept"), x: () => decideFocus("reject"), " ": () => move(1),
        A: () => decideGroup("accept"), X: () => decideGroup("reject"),
        ArrowRight: () => move(1), ArrowLeft: () => move(-1),
      };
      if (actions[key]) { event.preventDefault(); actions[key](); }
    } else {
      const cols = gridColumns();
      const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols, ArrowUp: -cols };
      if (key in moves) {
        event.preventDefault();
        const to = state.gridCursor + moves[key];
        if (to >= 0 && to < state.grid.length) { state.gridCursor = to; markCursor(); }
      } else if (key === "x") {
        toggle(state.gridCursor);
      } else if (key === "X") {
        toggleGroup(state.gridCursor);
      } else if (key === "Enter") {
        event.preventDefault();
        commitGrid();
      }
    }
  });

  $("grid").addEventListener("click", (event) => {
    const cell = event.target.closest(".thumb");
    if (cell) toggle(Number(cell.dataset.index));
  });
  const click = (id, fn) => $(id).addEventListener("click", (e) => { e.currentTarget.blur(); fn(); });
  click("btn-accept", () => decideFocus("accept"));
  click("btn-reject", () => decideFocus("reject"));
  click("btn-skip", () => move(1));
  click("btn-undo", undo);
  click("btn-group-accept", () => decideGroup("accept"));
  click("btn-group-reject", () => decideGroup("reject"));
  click("btn-grid-group", () => toggleGroup(state.gridCursor));
  click("btn-grid-undo", undo);
  click("btn-prev", () => move(-1));
  click("btn-next", () => move(1));
  click("btn-commit", commitGrid);
  click("mode-focus", () => state.mode !== "focus" && setMode("focus"));
  click("mode-grid", () => state.mode !== "grid" && setMode("grid"));
  click("btn-help", () => toggleHelp());
  click("btn-help-close", () => toggleHelp(false));
  // The worker moves images in S3 behind the page: say so when moves keep failing.
  async function showMoves() {
    try {
      const status = await api("api/status");
      const failing = Object.keys(status.failures).length;
      $("moves").textContent = failing
        ? `${failing} move(s) in S3 failing, retried: ${Object.values(status.failures)[0]}`
        : status.pending_moves ? `${status.pending_moves} moving in S3…` : "";
    } catch (e) { /* the saving line already says the server is unreachable */ }
  }
  setInterval(() => { showRate(); showMoves(); }, 2000);

  (async () => {
    try {
      state.info = await api("api/info");
    } catch (error) {
      $("empty").hidden = false;
      $("empty").textContent = error.status === 403
        ? "This page needs the address printed by `asyncfilter review` (with its token)."
        : `Cannot reach the review server: ${error.message}`;
      $("focus-frame").hidden = true;
      return;
    }
    $("title").textContent =
      `asyncfilter review · ${state.info.names.join(", ") || "nothing"} · ${state.info.outcome}`;
    if (state.info.note) {
      $("title").title = state.info.note;
      $("empty").textContent = `Nothing left to review here (${state.info.note}).`;
    }
    setCounts(state.info);
    await loadMore();
    renderFocus();
  })();
})();
