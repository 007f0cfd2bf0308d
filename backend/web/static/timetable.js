// The timetable grid: «+» in a cell fills the form above with that day and lesson number.
document.addEventListener("click", (event) => {
  const button = event.target.closest("td.slot button.add");
  const form = document.getElementById("entry-form");
  if (!button || !form) return;
  const cell = button.closest("td.slot");
  form.elements.weekday.value = cell.dataset.day;
  form.elements.lesson_number.value = cell.dataset.number;
  form.scrollIntoView({ block: "nearest" });
  form.elements.subject_id.focus();
});
