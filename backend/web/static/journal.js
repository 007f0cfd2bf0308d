// The journal grid's keyboard (decision 1000): arrows move, a digit puts a mark, «н» «б» «у»
// put an absence, «о» a late arrival («оп»), «п» clears it, Delete/Backspace removes the cell's last mark (or absence).
// Each keystroke is saved at once through HTMX; the server answers the cell as stored.
(function () {
  "use strict";
  const ABSENCE = { "н": "absent", "б": "sick", "у": "excused", "о": "late", "п": "present" };
  // The same physical keys on a Latin layout (a PC left in English).
  const BY_CODE = { KeyY: "absent", Comma: "sick", KeyE: "excused", KeyJ: "late", KeyG: "present" };

  function opId() {
    if (window.crypto && crypto.randomUUID) return "web-" + crypto.randomUUID();
    return "web-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
  }

  function status(text, error) {
    const box = document.getElementById("journal-status");
    if (!box) return;
    box.textContent = text;
    box.classList.toggle("error", !!error);
  }

  function cellAt(table, row, col) {
    const tr = table.tBodies[0].rows[row];
    return tr ? tr.cells[col] : null;
  }

  function focusCell(td) {
    if (!td || !td.classList.contains("cell")) return;
    const table = td.closest("table");
    table.querySelectorAll("td.cell[tabindex='0']").forEach((c) => c.setAttribute("tabindex", "-1"));
    td.setAttribute("tabindex", "0");
    td.focus();
  }

  function save(table, td, values) {
    if (td.dataset.lock) {
      status(td.dataset.lock, true);
      return;
    }
    const lesson = td.dataset.lesson;
    const pupil = td.dataset.pupil;
    values.lesson_id = lesson;
    values.student_id = pupil;
    values.op_id = opId();
    td.classList.add("saving");
    htmx
      .ajax("POST", table.dataset.save, {
        target: td,
        swap: "outerHTML",
        values: values,
        headers: { "X-CSRF-Token": document.body.dataset.csrf },
      })
      .then(() => {
        const fresh = table.querySelector(`td.cell[data-lesson="${lesson}"][data-pupil="${pupil}"]`);
        if (fresh) {
          fresh.classList.remove("saving");
          focusCell(fresh);
        }
      });
  }

  // A printable key: a digit puts a mark, a letter an absence. True when it was one of ours.
  function putKey(table, td, char, code) {
    const key = char.toLowerCase();
    if (/^[0-9]$/.test(key)) {
      const kind = document.getElementById("work-kind");
      save(table, td, { action: "mark", value: key, work_kind: kind ? kind.value : "answer" });
      return true;
    }
    const absence = ABSENCE[key] || (/^[a-z,]$/.test(key) ? BY_CODE[code] : undefined);
    if (absence === "late") {
      // «оп»: the journal keeps how late, so the minutes are asked (Esc: nothing is saved).
      const minutes = window.prompt(table.dataset.latePrompt, "5");
      if (minutes !== null) {
        save(table, td, {
          action: "attendance", value: "late", late_minutes: minutes.trim(),
          base_version: td.dataset.attVersion,
        });
      }
      return true;
    }
    if (absence) {
      save(table, td, { action: "attendance", value: absence, base_version: td.dataset.attVersion });
      return true;
    }
    return false;
  }

  // Some input methods (and ChromeDriver's typing of Cyrillic) leave keydown's `key` empty and
  // carry the character in keypress only; keydown's preventDefault stops this for the rest.
  function onPress(event) {
    const td = event.target.closest("td.cell");
    if (!td || event.ctrlKey || event.altKey || event.metaKey) return;
    const char =
      event.key && event.key.length === 1 ? event.key : String.fromCharCode(event.charCode || 0);
    if (char && putKey(td.closest("table"), td, char, event.code)) event.preventDefault();
  }

  function onKey(event) {
    const td = event.target.closest("td.cell");
    if (!td || event.ctrlKey || event.altKey || event.metaKey) return;
    const table = td.closest("table");
    const row = td.parentElement.sectionRowIndex;
    const col = td.cellIndex;
    const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    if (moves[event.key]) {
      event.preventDefault();
      const [dr, dc] = moves[event.key];
      focusCell(cellAt(table, row + dr, col + dc));
      return;
    }
    if (event.key.length === 1 && putKey(table, td, event.key, event.code)) {
      event.preventDefault();
      return;
    }
    if (event.key === "Delete" || event.key === "Backspace") {
      event.preventDefault();
      const marks = td.dataset.marks ? td.dataset.marks.split(",") : [];
      if (marks.length) {
        const [id, version] = marks[marks.length - 1].split(":");
        save(table, td, { action: "mark_delete", mark_id: id, base_version: version });
      } else if (td.querySelector(".att")) {
        save(table, td, { action: "attendance", value: "present", base_version: td.dataset.attVersion });
      }
    }
  }

  function start() {
    const table = document.getElementById("journal");
    if (!table) return;
    table.addEventListener("keydown", onKey);
    table.addEventListener("keypress", onPress);
    table.addEventListener("click", (event) => focusCell(event.target.closest("td.cell")));
    focusCell(table.querySelector("td.cell"));
    // A refusal (4xx) comes with its Russian message, swapped into the status line by htmx; a
    // server failure or a lost connection says so in the page's own words.
    const failed = () => status(table.dataset.failed, true);
    document.body.addEventListener("htmx:responseError", (event) => {
      if (event.detail.xhr.status >= 500) failed();
    });
    document.body.addEventListener("htmx:sendError", failed);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
