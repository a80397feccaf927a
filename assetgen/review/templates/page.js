"use strict";
(function () {
  const serve = document.body.dataset.serve === "true";
  const tokenMeta = document.querySelector('meta[name="assetgen-token"]');
  const token = tokenMeta ? tokenMeta.content : "";
  const toast = document.getElementById("toast");
  let toastTimer = 0;
  function say(text) {
    toast.textContent = text;
    toast.classList.add("show");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => toast.classList.remove("show"), 3500);
  }

  // flipbook: one value of each further matrix axis at a time
  function applyFlip(section) {
    const chosen = {};
    section.querySelectorAll(".flip").forEach((f) => {
      const on = f.querySelector('button[aria-pressed="true"]');
      if (on) chosen[f.dataset.axis] = on.dataset.value;
    });
    section.querySelectorAll("article.variant").forEach((card) => {
      const values = JSON.parse(card.dataset.flip || "{}");
      const show = Object.keys(chosen).every((a) => !(a in values) || values[a] === chosen[a]);
      card.hidden = !show || card.dataset.filtered === "true";
    });
  }
  function flipStep(flip, delta) {
    const buttons = [...flip.querySelectorAll("button[data-value]")];
    const at = buttons.findIndex((b) => b.getAttribute("aria-pressed") === "true");
    const next = buttons[(at + delta + buttons.length) % buttons.length];
    buttons.forEach((b) => b.setAttribute("aria-pressed", b === next ? "true" : "false"));
    applyFlip(flip.closest("section"));
  }
  document.querySelectorAll(".flip").forEach((flip) => {
    let timer = 0;
    flip.addEventListener("click", (e) => {
      const b = e.target.closest("button");
      if (!b) return;
      if (b.classList.contains("play")) {
        if (timer) { clearInterval(timer); timer = 0; b.classList.remove("on"); return; }
        b.classList.add("on");
        timer = setInterval(() => flipStep(flip, 1), 900);
        return;
      }
      flip.querySelectorAll("button[data-value]").forEach((x) => x.setAttribute("aria-pressed", x === b ? "true" : "false"));
      applyFlip(flip.closest("section"));
    });
  });
  document.querySelectorAll("section.asset").forEach(applyFlip);

  // filter
  const filter = document.getElementById("filter");
  filter.addEventListener("input", () => {
    const q = filter.value.trim().toLowerCase();
    document.querySelectorAll("article.variant").forEach((card) => {
      card.dataset.filtered = q && !card.dataset.name.toLowerCase().includes(q) ? "true" : "false";
    });
    document.querySelectorAll("section.asset").forEach(applyFlip);
  });

  // compare sliders
  document.querySelectorAll(".compare input[type=range]").forEach((r) => {
    r.addEventListener("input", () => r.parentNode.style.setProperty("--cut", r.value + "%"));
  });

  // lightbox
  const box = document.getElementById("lightbox");
  function view(img) {
    let big = box.querySelector("img");
    if (!big) { big = document.createElement("img"); box.firstElementChild.prepend(big); }
    big.alt = img.alt;
    big.src = img.dataset.full || img.src;
    box.querySelector("p").textContent = img.alt + (img.dataset.picked === "true" ? " (picked)" : "");
    box.classList.add("open");
  }
  box.addEventListener("click", () => box.classList.remove("open"));
  document.addEventListener("click", (e) => {
    const img = e.target.closest("figure.cand img");
    if (img) view(img);
  });

  // picks
  function showPick(variant, k) {
    document.querySelectorAll("img[data-variant], .missing[data-variant]").forEach((el) => {
      if (el.dataset.variant !== variant) return;
      if (Number(el.dataset.candidate) === k) el.setAttribute("data-picked", "true");
      else el.removeAttribute("data-picked");
    });
  }
  async function post(path, body) {
    const r = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json",
      "X-Assetgen-Token": token}, body: JSON.stringify(body)});
    const data = await r.json().catch(() => ({error: r.statusText}));
    if (!r.ok) throw new Error(data.error || r.statusText);
    return data;
  }
  async function pick(variant, k) {
    if (!serve) { say("picking needs assetgen review --serve"); return; }
    try {
      const data = await post("/api/pick", {variant: variant, candidate: k});
      Object.entries(data.picks).forEach(([v, p]) => showPick(v, p));
      say(`${variant}: candidate ${k} picked (${data.recipe})`);
    } catch (err) { say(`pick failed: ${err.message}`); }
  }
  async function reroll(variant) {
    try {
      const est = await post("/api/estimate", {variant: variant});
      const sure = window.confirm(`Call the API again for ${variant}? ${est.calls} call(s), ` +
        `estimated $${est.cost_usd.toFixed(3)} on ${est.provider}. The new images replace the current candidates.`);
      if (!sure) return;
      say(`re-rolling ${variant}...`);
      const done = await post("/api/reroll", {variant: variant, confirm: true});
      say(`${variant}: ${done.message}`);
      setTimeout(() => location.reload(), 400);
    } catch (err) { say(`re-roll failed: ${err.message}`); }
  }
  document.addEventListener("click", (e) => {
    const b = e.target.closest("button[data-action]");
    if (!b) return;
    e.stopPropagation();
    if (b.dataset.action === "pick") pick(b.dataset.variant, Number(b.dataset.candidate));
    if (b.dataset.action === "reroll") reroll(b.dataset.variant);
  });

  // keyboard: arrows move between variants, 1-9 pick, [ ] flip, Enter view
  function cards() { return [...document.querySelectorAll("article.variant")].filter((c) => !c.hidden); }
  function current() { return document.activeElement && document.activeElement.closest("article.variant"); }
  function focusCard(card) { if (card) { card.focus(); card.scrollIntoView({block: "nearest"}); } }
  document.addEventListener("keydown", (e) => {
    if (e.target === filter) { if (e.key === "Escape") filter.blur(); return; }
    if (e.key === "/") { e.preventDefault(); filter.focus(); return; }
    if (e.key === "Escape") { box.classList.remove("open"); return; }
    const all = cards();
    const card = current();
    const at = card ? all.indexOf(card) : -1;
    if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
      e.preventDefault();
      focusCard(all[Math.max(0, Math.min(all.length - 1, at + (e.key === "ArrowRight" ? 1 : -1)))] || all[0]);
    } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      if (!card) { focusCard(all[0]); return; }
      const r = card.getBoundingClientRect();
      const down = e.key === "ArrowDown";
      let best = null, bestScore = Infinity;
      for (const c of all) {
        const q = c.getBoundingClientRect();
        const dy = down ? q.top - r.bottom : r.top - q.bottom;
        if (dy < -2) continue;
        const score = dy * 4 + Math.abs(q.left - r.left);
        if (c !== card && score < bestScore) { best = c; bestScore = score; }
      }
      focusCard(best);
    } else if (/^[1-9]$/.test(e.key) && card) {
      const k = Number(e.key) - 1;
      if (card.querySelector(`[data-candidate="${k}"]`)) pick(card.dataset.name, k);
    } else if ((e.key === "[" || e.key === "]") && card) {
      const flip = card.closest("section").querySelector(".flip");
      if (flip) { flipStep(flip, e.key === "]" ? 1 : -1); focusCard(cards().find((c) => c.closest("section") === flip.closest("section"))); }
    } else if (e.key === "Enter" && card) {
      const img = card.querySelector("img[data-picked=true]") || card.querySelector("figure.cand img");
      if (img) view(img);
    }
  });

  // live: the server bumps a version when a recipe or the lock changes; picks follow without a reload
  if (serve) {
    let version = null;
    setInterval(async () => {
      try {
        const r = await fetch("/api/state", {cache: "no-store"});
        const s = await r.json();
        if (version !== null && s.version !== version) {
          if (s.reload) { location.reload(); return; }
          Object.entries(s.picks).forEach(([v, p]) => showPick(v, p));
        }
        version = s.version;
      } catch (err) { /* the server stopped */ }
    }, 1500);
  }
})();
