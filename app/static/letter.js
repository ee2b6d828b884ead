// The transfer letter's print button (no inline script: CSP).
document.addEventListener("DOMContentLoaded", function () {
  var button = document.getElementById("print-letter");
  if (button) { button.addEventListener("click", function () { window.print(); }); }
});
