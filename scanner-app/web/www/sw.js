// The browser gate's service worker: keeps the gate's own files so it loads and runs with
// no network at all. The build names the cache (__GATE_VERSION__ is replaced by a hash of
// the files): a new server version installs a new cache and removes the old one.
const CACHE = "tessera-gate-__GATE_VERSION__";
const FILES = [
  "./",
  "app.js",
  "style.css",
  "screen.js",
  "web.css",
  "tessera_gate_web.js",
  "tessera_gate_web_bg.wasm",
  "manifest.webmanifest",
  "icon.svg",
  "icon-192.png",
  "icon-512.png",
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(FILES)).then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(
        keys.filter((k) => k.startsWith("tessera-gate-") && k !== CACHE).map((k) => caches.delete(k)),
      ))
      .then(() => self.clients.claim()),
  );
});

// The gate's files from the cache first; everything else (the device API) goes to the
// network untouched, so a sync fails plainly when the network is gone.
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  const scope = new URL(self.registration.scope);
  if (event.request.method !== "GET" || url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) {
    return;
  }
  event.respondWith(
    caches.open(CACHE)
      .then((cache) => cache.match(event.request, { ignoreSearch: true }))
      .then((hit) => hit || fetch(event.request)),
  );
});
