// Progressive enhancement only: the preview follows the form while the person types, and what
// was typed is saved on the server as it goes. Without this script, "Show preview" does the same.
(function () {
  "use strict";
  var form = document.getElementById("announcement");
  var target = document.getElementById("preview");
  var status = document.getElementById("preview-status");
  if (!form || !target || !window.fetch || !window.FormData) { return; }
  var timer = null, running = null, again = false;

  function refresh() {
    if (running) { again = true; return; }
    var data = new FormData(form);
    data.delete("media.0.file"); // the image goes up with the buttons, not with every key
    data.set("action", "preview");
    running = fetch(form.getAttribute("data-preview"), { method: "POST", body: data, credentials: "same-origin" })
      .then(function (answer) {
        // Signed out (401) or sent meanwhile (409): the text stays in the form; the buttons say more.
        if (!answer.ok || answer.redirected) { throw new Error(String(answer.status)); }
        return answer.text();
      })
      .then(function (html) {
        target.innerHTML = html;
        if (status) { status.textContent = status.getAttribute("data-done") || ""; }
      })
      .catch(function () {
        if (status) { status.textContent = status.getAttribute("data-failed") || ""; }
      })
      .then(function () {
        running = null;
        if (again) { again = false; refresh(); }
      });
  }

  function soon() {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(refresh, 350);
  }

  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
})();
