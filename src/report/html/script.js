// Hovering a fault in the table highlights its window in every chart.
document.querySelectorAll("tr.faultrow").forEach(function (row) {
  var cls = row.getAttribute("data-fw");
  function mark(on) {
    document.querySelectorAll("rect." + cls).forEach(function (r) {
      r.classList.toggle("hl", on);
    });
  }
  row.addEventListener("mouseenter", function () { mark(true); });
  row.addEventListener("mouseleave", function () { mark(false); });
});
// How long the page took to load, for the browser test.
window.addEventListener("load", function () {
  document.documentElement.setAttribute("data-load-ms", String(Math.round(performance.now())));
});
