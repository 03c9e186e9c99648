// The field pages: picking a saved solution fills the note (it can still be edited).
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var picker = event.target;
    if (!picker.matches || !picker.matches("select[data-fill-note]")) { return; }
    var option = picker.options[picker.selectedIndex];
    var note = picker.form && picker.form.querySelector("textarea[name='note']");
    if (note && option && option.dataset.body) {
      note.value = option.dataset.body;
      note.focus();
    }
  });
})();
