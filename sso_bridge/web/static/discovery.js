// The discovery page's search as you type (web/discovery.py). Without this script the form
// still works: the server answers the search. No framework, no inline script (the page's CSP
// allows only this file and requests to the bridge itself).
(function () {
  "use strict";
  var form = document.querySelector("form.search");
  var results = document.getElementById("results");
  var input = document.getElementById("q");
  if (!form || !results || !input || !window.fetch) { return; }
  var status = document.getElementById("status");
  var list = document.getElementById("found");
  var timer = null;
  var latest = 0;

  function item(idp) {
    var li = document.createElement("li");
    var a = document.createElement("a");
    a.href = idp.href;
    if (idp.logo) {
      var img = document.createElement("img");
      img.src = idp.logo; img.alt = ""; img.width = 32; img.height = 32;
      img.loading = "lazy"; img.referrerPolicy = "no-referrer";
      a.appendChild(img);
    }
    var name = document.createElement("span");
    name.textContent = idp.name;
    a.appendChild(name);
    li.appendChild(a);
    return li;
  }

  function show(answer) {
    status.textContent = answer.status;
    while (list.firstChild) { list.removeChild(list.firstChild); }
    answer.results.forEach(function (idp) { list.appendChild(item(idp)); });
  }

  function search() {
    var params = new URLSearchParams(new FormData(form));
    params.set("lang", results.getAttribute("data-lang") || "");
    var ticket = ++latest;
    fetch(results.getAttribute("data-search") + "?" + params.toString(),
          { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (reply) { return reply.ok ? reply.json() : null; })
      .then(function (answer) { if (answer && ticket === latest) { show(answer); } })
      .catch(function () { /* the form still searches on the server */ });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(search, 150);
  });

  // Arrow keys: from the field down into the results, and between them (Tab works as well).
  document.addEventListener("keydown", function (event) {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") { return; }
    var links = Array.prototype.slice.call(list.querySelectorAll("a"));
    var at = links.indexOf(document.activeElement);
    if (document.activeElement === input && event.key === "ArrowDown" && links.length) {
      event.preventDefault();
      links[0].focus();
    } else if (at >= 0) {
      event.preventDefault();
      var next = at + (event.key === "ArrowDown" ? 1 : -1);
      if (next < 0) { input.focus(); } else if (next < links.length) { links[next].focus(); }
    }
  });
})();
