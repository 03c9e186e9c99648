// Live countdowns for running clocks, and the compliance chart.
// A countdown counts from the server's "now" at render time: on live cases it keeps
// ticking with the real clock; a sandbox clock stands still until advanced.
(function () {
  "use strict";
  function fmt(seconds) {
    var sign = seconds < 0 ? "-" : "";
    var s = Math.floor(Math.abs(seconds));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    if (h >= 48) { return sign + Math.floor(h / 24) + "d " + (h % 24) + "h"; }
    return sign + String(h).padStart(2, "0") + ":" + String(m).padStart(2, "0") + ":" + String(r).padStart(2, "0");
  }
  function tick() {
    document.querySelectorAll(".countdown[data-live='1']").forEach(function (el) {
      if (!el.dataset.offset) {
        el.dataset.offset = String(Date.parse(el.dataset.now) - Date.now());
      }
      var now = Date.now() + Number(el.dataset.offset);
      var left = (Date.parse(el.dataset.due) - now) / 1000;
      el.textContent = fmt(left);
      el.classList.toggle("overdue", left < 0);
    });
  }
  function chart() {
    var box = document.getElementById("compliance-chart");
    if (!box || !window.echarts) { return; }
    var data = JSON.parse(box.dataset.chart);
    var c = window.echarts.init(box);
    c.setOption({
      tooltip: { trigger: "axis" },
      legend: { top: 0, data: [box.dataset.met, box.dataset.breached] },
      grid: { left: 40, right: 16, bottom: 90, top: 36, containLabel: true },
      xAxis: { type: "category", data: data.keys, axisLabel: { rotate: 40 } },
      yAxis: { type: "value" },
      series: [
        { name: box.dataset.met, type: "bar", stack: "all", data: data.met, itemStyle: { color: "#12b76a" } },
        { name: box.dataset.breached, type: "bar", stack: "all", data: data.breached, itemStyle: { color: "#f04438" } }
      ]
    });
    window.addEventListener("resize", function () { c.resize(); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 1000);
    chart();
  });
  document.addEventListener("htmx:afterSwap", tick);

  // Behaviour the pages ask for with data- attributes, not inline handlers: the
  // Content-Security-Policy runs no script written into the page.
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.matches && el.matches("select[data-autosubmit]") && el.form) { el.form.submit(); }
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.matches && form.matches("form[data-confirm]") && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[data-back]") : null;
    if (link && window.history.length > 1) {
      event.preventDefault();
      window.history.back();
    }
  });
})();
