/* The kiosk's service worker, served at /k/sw.js with the scope /k/ (survey_app/kiosk/screen.py):
   the kiosk screen opens without a connection.

   The page's script (kiosk.js) puts the screen (in both languages) and its files in the cache;
   here a visit to the screen tries the network first and falls back to the cache, and static
   files come from the cache first (their URLs change with their content). Ratings never pass
   through here: the page sends them itself, and anything but a GET goes straight to the network. */
"use strict";

const CACHE = "mscore-kiosk-v1"; // kiosk.js fills the same cache

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname === "/k/") {
    event.respondWith(screen(request, url));
  } else if (url.pathname.startsWith("/static/")) {
    event.respondWith(file(request));
  }
});

async function screen(request, url) {
  try {
    const response = await fetch(request);
    if (response.ok && !response.redirected) {
      const cache = await caches.open(CACHE);
      await cache.put(request, response.clone());
    }
    return response;
  } catch (offline) {
    const lang = url.searchParams.get("lang") === "en" ? "en" : "vi";
    const cached =
      (await caches.match(request, { ignoreVary: true })) ||
      (await caches.match(`/k/?lang=${lang}`, { ignoreVary: true }));
    if (cached) return cached;
    throw offline;
  }
}

async function file(request) {
  const cached = await caches.match(request, { ignoreVary: true });
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) {
    const cache = await caches.open(CACHE);
    await cache.put(request, response.clone());
  }
  return response;
}
