// Idle session warning. The server puts the seconds left in this session on
// <body data-session-remaining>; a minute before they run out this shows a
// dialog with a button to stay logged in. No inline script: CSP-safe.
(function () {
  "use strict";
  const body = document.body;
  if (!body || !body.dataset.sessionRemaining) return;
  const keepaliveUrl = body.dataset.keepaliveUrl;
  const loginUrl = body.dataset.loginUrl || "/accounts/login/";
  const WARN_BEFORE = 60; // seconds
  let deadline = Date.now() + Number(body.dataset.sessionRemaining) * 1000;
  let dialog = null;
  let tick = null;

  function csrfToken() {
    try {
      return JSON.parse(body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (e) {
      return "";
    }
  }

  function buildDialog() {
    dialog = document.createElement("dialog");
    dialog.className = "session-warning";
    dialog.setAttribute("aria-labelledby", "session-warning-title");
    dialog.setAttribute("role", "alertdialog");
    const title = document.createElement("h2");
    title.id = "session-warning-title";
    title.textContent = "You will be logged out soon";
    const text = document.createElement("p");
    text.id = "session-warning-text";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "primary";
    button.textContent = "Stay logged in";
    button.addEventListener("click", stay);
    dialog.append(title, text, button);
    document.body.append(dialog);
  }

  function secondsLeft() {
    return Math.max(0, Math.round((deadline - Date.now()) / 1000));
  }

  function update() {
    const left = secondsLeft();
    if (left <= 0) {
      window.location.assign(loginUrl + "?next=" + encodeURIComponent(window.location.pathname));
      return;
    }
    if (left <= WARN_BEFORE) {
      if (!dialog) buildDialog();
      dialog.querySelector("#session-warning-text").textContent =
        "For privacy, you will be logged out in " + left + " seconds without activity.";
      if (!dialog.open) {
        if (typeof dialog.showModal === "function") dialog.showModal();
        else dialog.setAttribute("open", "");
        dialog.querySelector("button").focus();
      }
    } else if (dialog && dialog.open) {
      dialog.close();
    }
  }

  function stay() {
    fetch(keepaliveUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" },
    })
      .then((response) => (response.ok && !response.redirected ? response.json() : null))
      .then((data) => {
        if (data && typeof data.remaining === "number") {
          deadline = Date.now() + data.remaining * 1000;
          update();
        } else {
          window.location.assign(loginUrl);
        }
      })
      .catch(() => {});
  }

  // Requests made by htmx count as activity on the server too.
  document.addEventListener("htmx:afterRequest", (event) => {
    const header = event.detail.xhr && event.detail.xhr.getResponseHeader("X-Session-Remaining");
    if (header) {
      deadline = Date.now() + Number(header) * 1000;
      update();
    }
  });

  tick = window.setInterval(update, 1000);
  update();
  window.iopSession = { secondsLeft: secondsLeft, stay: stay, tick: tick };
})();
