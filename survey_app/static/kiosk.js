/* The kiosk screen's script (templates/kiosk/screen.html, survey_app/kiosk/).

   Without it the form posts to the server as the phone form does (online only). With it:
   - a rating goes first to the outbox, an IndexedDB store on the tablet, with a submission token
     the server issued beforehand (a stock of them waits in IndexedDB too), then to
     /k/api/ratings; the server counts a token once, so a rating sent twice is counted once;
   - while the tablet is offline its ratings wait in the outbox and go when it is back (the
     `online` event, and every 30 seconds);
   - a rating the server refuses (e.g. kept offline longer than its token lives) moves to the
     "refused" store and is shown to the staff until they dismiss it: never dropped silently;
   - the thank-you shows in place, and the screen resets for the next citizen (in Vietnamese)
     after a few seconds, or after 90 seconds untouched;
   - a service worker (/k/sw.js) keeps the screen's page and files, so that it opens offline. */
(function () {
  "use strict";

  const form = document.querySelector("form.kiosk-form");
  if (!form || !window.indexedDB || !window.fetch) return;

  const data = form.dataset;
  const kiosk = data.kiosk;
  const RESET_MS = (parseInt(data.resetSeconds, 10) || 6) * 1000;
  const IDLE_MS = 90 * 1000;
  const STOCK_LOW = 150; // fetch tokens when fewer fresh ones are left
  const STOCK_FULL = 200; // a busy counter's day of ratings, kept for when the tablet is offline
  const PER_CALL = 100; // the most the server gives at once
  const RENEW_MS = 24 * 3600 * 1000; // a token older than a day is replaced while online
  const BATCH = 20;
  const RETRY_MS = 30 * 1000;
  const CACHE = "mscore-kiosk-v1"; // the service worker reads the same cache
  const SKIP = new Set(["csrf_token", "submission_token", "website"]);

  const $ = (id) => document.getElementById(id);
  const rating = $("kiosk-rating");
  const thanks = $("kiosk-thanks");
  const saved = thanks.querySelector("[data-state=saved]");
  const missing = $("kiosk-missing");

  // --- IndexedDB: tokens (the stock), outbox (ratings to send), refused (to show) ----------
  let opened = null;
  function database() {
    if (!opened) {
      opened = new Promise((resolve, reject) => {
        const request = indexedDB.open("mscore-kiosk", 1);
        request.onupgradeneeded = () => {
          for (const name of ["tokens", "outbox", "refused"]) {
            request.result.createObjectStore(name, { keyPath: "token" });
          }
        };
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
    }
    return opened;
  }

  // One transaction: `work` makes its requests at once and may fill `box.value` from their
  // callbacks; resolves with box.value once the transaction has committed.
  async function transact(names, mode, work) {
    const db = await database();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(names, mode);
      const stores = {};
      for (const name of names) stores[name] = tx.objectStore(name);
      const box = {};
      work(stores, box);
      tx.oncomplete = () => resolve(box.value);
      tx.onerror = tx.onabort = () => reject(tx.error);
    });
  }

  function all(name) {
    return transact([name], "readonly", (s, box) => {
      s[name].getAll().onsuccess = (event) => (box.value = event.target.result);
    });
  }

  // The freshest token of this kiosk, taken out of the stock in the same transaction.
  function takeToken() {
    return transact(["tokens"], "readwrite", (s, box) => {
      s.tokens.getAll().onsuccess = (event) => {
        const mine = event.target.result.filter((t) => t.kiosk === kiosk);
        mine.sort((a, b) => b.fetched - a.fetched);
        if (mine.length) {
          box.value = mine[0].token;
          s.tokens.delete(mine[0].token);
        }
      };
    });
  }

  // --- what the staff see ----------------------------------------------------------------
  function setOnline(online) {
    $("kiosk-offline").hidden = online;
  }

  function setEnrolled(enrolled) {
    $("kiosk-unenrolled").hidden = enrolled;
  }

  function count(element, n) {
    element.querySelector("[data-count]").textContent = String(n);
    element.hidden = n === 0;
  }

  async function show() {
    const [waiting, refused] = await Promise.all([all("outbox"), all("refused")]);
    count($("kiosk-pending"), waiting.length);
    const box = $("kiosk-refused");
    const expired = refused.filter((r) => r.reason === "expired").length;
    count(box.querySelector("[data-reason=expired]"), expired);
    count(box.querySelector("[data-reason=other]"), refused.length - expired);
    count(box, refused.length);
  }

  // --- the server: tokens in, ratings out --------------------------------------------------
  async function refill() {
    const tokens = await all("tokens");
    const now = Date.now();
    const fresh = tokens.filter((t) => t.kiosk === kiosk && now - t.fetched < t.renew);
    if (fresh.length >= STOCK_LOW) return;
    let answer;
    try {
      const count = Math.min(PER_CALL, STOCK_FULL - fresh.length);
      answer = await fetch(`${data.tokens}?count=${count}`, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
    } catch (error) {
      setOnline(false);
      return;
    }
    setOnline(true);
    if (answer.status === 401 || answer.status === 403) return setEnrolled(false);
    if (!answer.ok) return;
    setEnrolled(true);
    const body = await answer.json();
    const fetched = Date.now();
    const renew = Math.min(RENEW_MS, (body.max_age_seconds * 1000) / 2);
    await transact(["tokens"], "readwrite", (s) => {
      for (const t of tokens) {
        if (t.kiosk !== kiosk || fetched - t.fetched >= t.renew) s.tokens.delete(t.token);
      }
      for (const token of body.tokens) s.tokens.put({ token, kiosk, fetched, renew });
    });
  }

  // Send the outbox, oldest first, a batch at a time; stop at the first failure (kept for later).
  async function send() {
    for (;;) {
      const waiting = (await all("outbox")).sort((a, b) => (a.rated_at < b.rated_at ? -1 : 1));
      if (!waiting.length) return;
      const batch = waiting.slice(0, BATCH);
      let answer;
      try {
        answer = await fetch(`${data.ratings}?lang=${data.lang}`, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify({
            ratings: batch.map((r) => ({
              token: r.token,
              rated_at: r.rated_at,
              language: r.language,
              fields: r.fields,
            })),
          }),
        });
      } catch (error) {
        setOnline(false);
        return;
      }
      setOnline(true);
      if (answer.status === 401 || answer.status === 403) return setEnrolled(false);
      setEnrolled(true);
      let results;
      if (answer.status === 422) {
        // a batch the server cannot read will never be accepted: show it rather than retry
        results = batch.map((r) => ({ token: r.token, status: "refused", reason: "invalid" }));
      } else if (answer.ok) {
        results = (await answer.json()).results;
      } else {
        return; // 409, 429, 5xx: the same batch again later
      }
      const byToken = new Map(batch.map((r) => [r.token, r]));
      let done = 0;
      await transact(["outbox", "refused"], "readwrite", (s) => {
        for (const result of results) {
          const sent = byToken.get(result.token);
          if (!sent) continue;
          done += 1;
          s.outbox.delete(result.token);
          if (result.status === "refused") {
            s.refused.put({ ...sent, reason: result.reason, message: result.message || "" });
          }
        }
      });
      if (!done) return;
    }
  }

  let sending = null;
  function sync() {
    if (!sending) {
      sending = send()
        .catch(() => {})
        .then(show)
        .finally(() => (sending = null));
    }
    return sending;
  }

  // --- the citizen -------------------------------------------------------------------------
  let resetTimer = null;
  let idleTimer = null;

  function answeredRequired() {
    const names = new Set(
      [...form.querySelectorAll("input[type=radio][required]")].map((input) => input.name),
    );
    for (const name of names) {
      if (!form.querySelector(`input[name="${name}"]:checked`)) return false;
    }
    return true;
  }

  function nextCitizen() {
    clearTimeout(resetTimer);
    clearTimeout(idleTimer);
    if (data.lang !== "vi") {
      location.assign(data.home); // the next citizen starts in Vietnamese
      return;
    }
    form.reset();
    missing.hidden = true;
    $("kiosk-no-token").hidden = true;
    thanks.hidden = true;
    rating.hidden = false;
    window.scrollTo(0, 0);
  }

  function thank(token) {
    clearTimeout(idleTimer);
    rating.hidden = true;
    missing.hidden = true;
    saved.hidden = navigator.onLine;
    thanks.hidden = false;
    thanks.focus();
    window.scrollTo(0, 0);
    resetTimer = setTimeout(nextCitizen, RESET_MS);
    if (!token) return;
    sync().then(async () => {
      const waiting = await all("outbox");
      saved.hidden = !waiting.some((r) => r.token === token);
      refill().catch(() => {});
    });
  }

  async function rate() {
    if (!answeredRequired()) {
      missing.hidden = false;
      missing.focus();
      return;
    }
    if (form.elements.website && form.elements.website.value) return thank(null); // a bot
    const fields = [];
    for (const [name, value] of new FormData(form)) {
      if (!SKIP.has(name)) fields.push([name, String(value)]);
    }
    let token = await takeToken();
    if (!token) {
      await refill().catch(() => {}); // the stock ran out: online, a new one comes at once
      token = await takeToken();
    }
    if (!token) {
      $("kiosk-no-token").hidden = false;
      return;
    }
    const item = { token, kiosk, rated_at: new Date().toISOString(), language: data.lang, fields };
    await transact(["outbox"], "readwrite", (s) => s.outbox.put(item));
    thank(token);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    // IndexedDB refused (a private window, a full disk): the form goes to the server instead
    rate().catch(() => form.submit());
  });
  form.addEventListener("input", () => {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(nextCitizen, IDLE_MS); // a citizen who walked away mid-form
  });
  $("kiosk-next").addEventListener("click", nextCitizen);
  $("kiosk-refused-dismiss").addEventListener("click", async () => {
    await transact(["refused"], "readwrite", (s) => s.refused.clear());
    show();
  });

  // --- the tablet ----------------------------------------------------------------------------
  const full = $("kiosk-fullscreen");
  if (full && document.fullscreenEnabled) {
    full.hidden = false;
    full.addEventListener("click", () => document.documentElement.requestFullscreen().catch(() => {}));
    document.addEventListener("fullscreenchange", () => (full.hidden = !!document.fullscreenElement));
  }

  window.addEventListener("online", () => {
    setOnline(true);
    sync().then(refill).catch(() => {});
  });
  window.addEventListener("offline", () => setOnline(false));
  setInterval(() => sync().then(refill).catch(() => {}), RETRY_MS);
  setOnline(navigator.onLine);
  sync()
    .then(refill)
    .catch(() => {});

  async function precache() {
    if (!window.caches || !navigator.onLine) return;
    const files = [...document.querySelectorAll("link[rel=stylesheet], script[src]")];
    const cache = await caches.open(CACHE);
    await cache.addAll([data.home, data.other, ...files.map((e) => e.href || e.src)]);
  }

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker
      .register(data.worker, { scope: data.scope })
      .then(precache)
      .catch(() => {});
  }
})();
