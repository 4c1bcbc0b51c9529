// Progressive enhancement only: every form works without this file.
(function () {
  "use strict";

  // Live character counter: "24 of 4000", with a notice at the limit.
  document.querySelectorAll("textarea[data-counter]").forEach(function (area) {
    var out = document.getElementById(area.dataset.counter);
    if (!out) return;
    var max = parseInt(area.getAttribute("maxlength"), 10);
    function update() {
      var n = area.value.length;
      out.textContent = n + " " + out.dataset.of + " " + max;
      if (n >= max) {
        out.textContent += " — " + out.dataset.limitText;
        out.classList.add("at-limit");
      } else {
        out.classList.remove("at-limit");
      }
    }
    area.addEventListener("input", update);
    update();
  });

  // Attachments: several at once, by picker or drag and drop, each removable before sending.
  document.querySelectorAll("[data-drop]").forEach(function (zone) {
    var input = zone.querySelector("input[data-files]");
    var list = zone.querySelector("[data-file-list]");
    var chosen = [];

    function sync() {
      var transfer = new DataTransfer();
      chosen.forEach(function (f) { transfer.items.add(f); });
      input.files = transfer.files;
      list.innerHTML = "";
      chosen.forEach(function (f, i) {
        var li = document.createElement("li");
        li.textContent = f.name + " ";
        var remove = document.createElement("button");
        remove.type = "button";
        remove.className = "link danger";
        remove.textContent = "×";
        // The label comes translated from the page: data-remove-label="… {name} …".
        var label = zone.dataset.removeLabel || "× {name}";
        remove.setAttribute("aria-label", label.split("{name}").join(f.name));
        remove.addEventListener("click", function () { chosen.splice(i, 1); sync(); });
        li.appendChild(remove);
        list.appendChild(li);
      });
    }
    function add(files) {
      Array.prototype.forEach.call(files, function (f) { chosen.push(f); });
      sync();
    }
    input.addEventListener("change", function () {
      var picked = Array.prototype.slice.call(input.files);
      chosen = chosen.filter(function (f) { return picked.indexOf(f) < 0; });
      add(picked);
    });
    ["dragenter", "dragover"].forEach(function (t) {
      zone.addEventListener(t, function (e) { e.preventDefault(); zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (t) {
      zone.addEventListener(t, function (e) { e.preventDefault(); zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (e) { add(e.dataTransfer.files); });
  });
})();

// A print button (no inline handlers: the CSP forbids them).
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.addEventListener("click", function () { window.print(); });
});

// Checklists save as you go: every change is sent in the background, so leaving the page
// loses nothing. Files are left for the buttons (they would otherwise be sent twice).
document.querySelectorAll("form[data-autosave]").forEach(function (form) {
  function save() {
    var data = new FormData(form);
    form.querySelectorAll("input[type=file]").forEach(function (input) { data.delete(input.name); });
    data.set("go", "stay");
    fetch(form.action, { method: "POST", body: data, credentials: "same-origin" })
      .catch(function () { /* the buttons still save */ });
  }
  form.addEventListener("change", function (event) {
    if (event.target && event.target.type !== "file") { save(); }
  });
});
