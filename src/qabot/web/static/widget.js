/*
 * qabot chat launcher. Add to any page:
 *
 *   <script src="http://127.0.0.1:7860/widget.js" defer></script>
 *
 * It adds a round button in the bottom-right corner; the button opens the chat (/chat/ on the
 * same server as this script) in a panel. Optional attributes on the <script> tag:
 *   data-label="Ask us"      the button's text for screen readers and its tooltip
 *   data-position="left"     put the button in the bottom-left corner instead
 * Everything comes from the qabot server; nothing is loaded from a CDN.
 */
(function () {
  "use strict";
  if (window.qabotWidget) return;

  var script = document.currentScript;
  var base = new URL(script && script.src ? script.src : "/widget.js", window.location.href);
  var chatUrl = base.origin + "/chat/";
  var label = (script && script.getAttribute("data-label")) || "Ask a question";
  var side = script && script.getAttribute("data-position") === "left" ? "left" : "right";

  var css =
    ":host{all:initial}" +
    ".launcher{position:fixed;bottom:20px;" + side + ":20px;z-index:2147483000;width:56px;height:56px;" +
    "border-radius:50%;border:none;cursor:pointer;background:#ea580c;color:#fff;" +
    "box-shadow:0 4px 14px rgba(0,0,0,.25);display:flex;align-items:center;justify-content:center}" +
    ".launcher:hover{background:#c2410c}.launcher:focus-visible{outline:3px solid #1d4ed8;outline-offset:2px}" +
    ".launcher svg{width:28px;height:28px;fill:currentColor}" +
    ".panel{position:fixed;bottom:88px;" + side + ":20px;z-index:2147483000;width:min(420px,calc(100vw - 40px));" +
    "height:min(640px,calc(100vh - 120px));background:#fff;border-radius:12px;overflow:hidden;" +
    "box-shadow:0 8px 30px rgba(0,0,0,.3);display:none;flex-direction:column}" +
    ".panel.open{display:flex}" +
    ".bar{display:flex;align-items:center;justify-content:space-between;padding:8px 12px;background:#ea580c;" +
    "color:#fff;font:600 15px system-ui,sans-serif}" +
    ".close{background:none;border:none;color:#fff;font-size:22px;line-height:1;cursor:pointer;padding:0 4px}" +
    "iframe{flex:1;border:0;width:100%}";

  var host = document.createElement("div");
  host.id = "qabot-widget";
  var root = host.attachShadow({ mode: "open" });
  var style = document.createElement("style");
  style.textContent = css;

  var button = document.createElement("button");
  button.className = "launcher";
  button.type = "button";
  button.title = label;
  button.setAttribute("aria-label", label);
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("data-qabot", "launcher");
  button.innerHTML =
    '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"/></svg>';

  var panel = document.createElement("div");
  panel.className = "panel";
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", label);
  panel.setAttribute("data-qabot", "panel");
  var bar = document.createElement("div");
  bar.className = "bar";
  var heading = document.createElement("span");
  heading.textContent = label;
  var close = document.createElement("button");
  close.className = "close";
  close.type = "button";
  close.setAttribute("aria-label", "Close the chat");
  close.textContent = "\u00d7";
  bar.appendChild(heading);
  bar.appendChild(close);
  panel.appendChild(bar);

  var frame = null;
  function open() {
    if (!frame) {
      // Created on first open, so pages that never use the chat never load it.
      frame = document.createElement("iframe");
      frame.src = chatUrl;
      frame.title = label;
      frame.setAttribute("data-qabot", "frame");
      panel.appendChild(frame);
    }
    panel.classList.add("open");
    button.setAttribute("aria-expanded", "true");
  }
  function hide() {
    panel.classList.remove("open");
    button.setAttribute("aria-expanded", "false");
  }
  function toggle() {
    if (panel.classList.contains("open")) hide();
    else open();
  }
  button.addEventListener("click", toggle);
  close.addEventListener("click", hide);
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") hide();
  });

  root.appendChild(style);
  root.appendChild(panel);
  root.appendChild(button);
  function mount() {
    document.body.appendChild(host);
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);

  window.qabotWidget = { open: open, close: hide, toggle: toggle, chatUrl: chatUrl };
})();
