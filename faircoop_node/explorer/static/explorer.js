// The explorer's one script. Pages work without it; with it, times are shown in the viewer's
// locale and time zone, "ago" figures tick, and a page that shows live data follows the node's
// block stream (/api/v1/blocks/stream, Server-Sent Events) and refreshes its content when a
// block arrives, at most once a second, without reloading the page.
"use strict";
(function () {
  const format = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";

  function ago(ms) {
    const s = Math.max(0, ms) / 1000;
    if (s < 120) return s.toFixed(s < 10 ? 1 : 0) + " s ago";
    if (s < 7200) return Math.round(s / 60) + " min ago";
    if (s < 172800) return (s / 3600).toFixed(1) + " h ago";
    return Math.round(s / 86400) + " days ago";
  }

  function tick(root) {
    for (const el of root.querySelectorAll("[data-since-ms]")) {
      const since = Number(el.dataset.sinceMs);
      if (Number.isFinite(since)) el.textContent = ago(Date.now() - since);
    }
  }

  function localize(root) {
    for (const el of root.querySelectorAll("time[data-ms]")) {
      const ms = Number(el.dataset.ms);
      if (!Number.isFinite(ms)) continue;
      el.title = el.getAttribute("datetime") || "";
      el.textContent = format.format(new Date(ms));
    }
    for (const el of root.querySelectorAll(".tz")) el.textContent = "(" + zone + ")";
    tick(root);
  }

  function setTip(block) {
    const link = document.getElementById("tip-height");
    if (link) {
      link.textContent = String(block.height);
      link.href = "/block/" + block.height;
    }
    const tip = document.getElementById("tip");
    const time = tip && tip.querySelector("time[data-ms]");
    if (time) {
      time.dataset.ms = String(block.time_ms);
      time.setAttribute("datetime", new Date(block.time_ms).toISOString());
    }
    const since = document.querySelector("#tip-ago [data-since-ms]");
    if (since) since.dataset.sinceMs = String(block.time_ms);
    if (tip) localize(tip);
  }

  function follow(main) {
    const status = document.getElementById("live-status");
    const say = (text) => { if (status) status.textContent = text; };
    let last = 0;
    let timer = null;
    let busy = false;
    let shown = main.innerHTML;

    async function refresh() {
      timer = null;
      const active = document.activeElement;
      if (busy || (active && main.contains(active) && active.matches("input, select, textarea"))) {
        schedule();
        return;
      }
      busy = true;
      last = Date.now();
      try {
        const response = await fetch(window.location.href, { cache: "no-store", headers: { Accept: "text/html" } });
        const type = response.headers.get("Content-Type") || "";
        if (!type.startsWith("text/html")) return;
        const doc = new DOMParser().parseFromString(await response.text(), "text/html");
        const fresh = doc.getElementById("main");
        if (fresh && fresh.innerHTML !== shown) {
          shown = fresh.innerHTML;
          main.innerHTML = shown;
          if (doc.title) document.title = doc.title;
          localize(main);
        }
        say("live: follows new blocks");
      } catch (err) {
        say("live updates paused: the node did not answer");
      } finally {
        busy = false;
      }
    }

    function schedule() {
      if (timer === null) timer = window.setTimeout(refresh, Math.max(0, last + 1000 - Date.now()));
    }

    const source = new EventSource("/api/v1/blocks/stream");
    source.addEventListener("open", () => say("live: follows new blocks"));
    source.addEventListener("error", () => say("live updates paused: reconnecting"));
    source.addEventListener("block", (event) => {
      try {
        setTip(JSON.parse(event.data));
      } catch (err) {
        return;
      }
      schedule();
    });
    window.addEventListener("pagehide", () => source.close());
  }

  function start() {
    localize(document);
    window.setInterval(() => tick(document), 1000);
    const main = document.getElementById("main");
    if (main && main.dataset.live && "EventSource" in window) follow(main);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
