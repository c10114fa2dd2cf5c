// The web catalog's only script (served by the lake; no inline scripts under its CSP).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Search as you type: hide the rows of a table whose data-name does not match.
  for (const input of document.querySelectorAll("input[data-filter]")) {
    const rows = document.querySelectorAll(input.dataset.filter + " tbody tr");
    input.addEventListener("input", () => {
      const wanted = input.value.trim().toLowerCase();
      for (const row of rows) {
        row.hidden = wanted !== "" && !row.dataset.name.toLowerCase().includes(wanted);
      }
    });
  }
  // A version picker goes to the version as soon as one is chosen.
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.requestSubmit());
  }
  // Ctrl/Cmd+Enter runs the query in the SQL console.
  const sql = document.getElementById("sql");
  if (sql) {
    sql.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) sql.form.requestSubmit();
    });
  }
});
