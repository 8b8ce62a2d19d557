/* Small helpers for the dashboard pages: copy buttons, confirmations, live job polling, SVG charts. */
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var target = document.querySelector(button.getAttribute("data-copy"));
    if (!target) return;
    var text = target.textContent.trim();
    if (navigator.clipboard) {
      navigator.clipboard.writeText(text).then(function () { button.textContent = "Copied"; });
    } else {
      var range = document.createRange();
      range.selectNodeContents(target);
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
    }
  });

  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });

  // Poll a JSON status URL and hand the data to a page-specific renderer until it reports done.
  window.Recsys = window.Recsys || {};
  window.Recsys.poll = function (url, render, intervalMs) {
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          var done = render(data);
          if (!done) window.setTimeout(tick, intervalMs || 1000);
        })
        .catch(function () { window.setTimeout(tick, (intervalMs || 1000) * 3); });
    }
    tick();
  };

  // Draw series [{label, color, points: [[x, y], ...]}] as a line chart into an <svg>.
  window.Recsys.lineChart = function (svg, series, options) {
    options = options || {};
    var width = 600, height = 240, left = 46, right = 12, top = 12, bottom = 28;
    var xs = [], ys = [];
    series.forEach(function (s) { s.points.forEach(function (p) { xs.push(p[0]); ys.push(p[1]); }); });
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    if (!xs.length) return;
    var xmin = Math.min.apply(null, xs), xmax = Math.max.apply(null, xs);
    var ymin = options.ymin !== undefined ? options.ymin : Math.min.apply(null, ys);
    var ymax = options.ymax !== undefined ? options.ymax : Math.max.apply(null, ys);
    if (xmax === xmin) { xmax = xmin + 1; }
    if (ymax === ymin) { ymax = ymin + 1; }
    function sx(x) { return left + (x - xmin) / (xmax - xmin) * (width - left - right); }
    function sy(y) { return height - bottom - (y - ymin) / (ymax - ymin) * (height - top - bottom); }
    var ns = "http://www.w3.org/2000/svg";
    function el(name, attrs, text) {
      var node = document.createElementNS(ns, name);
      Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
      if (text !== undefined) node.textContent = text;
      svg.appendChild(node);
      return node;
    }
    el("line", { x1: left, y1: height - bottom, x2: width - right, y2: height - bottom, "class": "axis" });
    el("line", { x1: left, y1: top, x2: left, y2: height - bottom, "class": "axis" });
    for (var i = 0; i <= 4; i++) {
      var yv = ymin + (ymax - ymin) * i / 4;
      el("text", { x: 4, y: sy(yv) + 4 }, yv.toFixed(options.decimals === undefined ? 3 : options.decimals));
    }
    el("text", { x: left, y: height - 8 }, String(xmin));
    el("text", { x: width - right - 20, y: height - 8 }, String(xmax));
    if (options.xlabel) el("text", { x: width / 2 - 20, y: height - 8 }, options.xlabel);
    series.forEach(function (s) {
      if (!s.points.length) return;
      var d = s.points.map(function (p, idx) { return (idx ? "L" : "M") + sx(p[0]).toFixed(1) + "," + sy(p[1]).toFixed(1); }).join(" ");
      el("path", { d: d, "class": "line", stroke: s.color });
      s.points.forEach(function (p) { el("circle", { cx: sx(p[0]), cy: sy(p[1]), r: 3, fill: s.color }); });
    });
  };

  // --- Page behaviour, switched on by data attributes; values are written with textContent only. ---
  var MODEL_COLOR = "#2457c5", BASELINE_COLOR = "#98a2b3", FINISHED = { succeeded: true, failed: true };

  function field(box, name) { return box.querySelector('[data-field="' + name + '"]'); }
  function setText(box, name, text) { var node = field(box, name); if (node) node.textContent = text; }
  function setStatus(box, status) {
    var badge = field(box, "status");
    if (badge) { badge.textContent = status; badge.className = "badge " + status; }
  }
  function setBar(box, percent) {
    var bar = field(box, "bar");
    if (!bar) return;
    bar.style.width = Math.max(0, Math.min(100, percent)) + "%";
    bar.parentNode.setAttribute("aria-valuenow", String(Math.round(percent)));
  }
  function readJson(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }
  function fixed(value, digits) { return value === null || value === undefined ? "—" : Number(value).toFixed(digits); }

  // Rejected rows as they are found (the first 100), written with textContent like everything else.
  function showRowErrors(errors, rejected) {
    var section = document.getElementById("row-errors");
    var body = section && section.querySelector('[data-field="errors"]');
    if (!body || !errors.length) return;
    while (body.firstChild) body.removeChild(body.firstChild);
    errors.forEach(function (error) {
      var row = document.createElement("tr");
      [[error.line, "num"], [error.column || "", ""], [error.message, "wrap"]].forEach(function (cell) {
        var td = document.createElement("td");
        td.textContent = cell[0] === null || cell[0] === undefined ? "" : String(cell[0]);
        if (cell[1]) td.className = cell[1];
        row.appendChild(td);
      });
      body.appendChild(row);
    });
    setText(section, "errors-count", rejected > errors.length ? " (the first " + errors.length + " of " + rejected + ")" : "");
    section.hidden = false;
  }

  // An import page: live counts until the job ends, then a reload shows the server-rendered report.
  // An interactions import that queues a training is followed a little longer, until its job appears.
  document.querySelectorAll("[data-poll-import]").forEach(function (box) {
    var waitTraining = box.hasAttribute("data-wait-training"), extraPolls = 5;
    window.Recsys.poll(box.getAttribute("data-poll-import"), function (job) {
      if (!job || !job.status) return true;
      setStatus(box, job.status);
      setBar(box, job.progress_percent || 0);
      setText(box, "rows_total", String(job.rows_total));
      setText(box, "rows_rejected", String(job.rows_rejected));
      showRowErrors(job.errors || [], job.rows_rejected);
      if (job.status === "running") setText(box, "hint", "Importing… This page updates by itself.");
      if (!FINISHED[job.status]) return false;
      if (job.status === "succeeded" && waitTraining && !job.training_job && extraPolls-- > 0) return false;
      window.location.reload();
      return true;
    });
  });

  function drawTraining(history) {
    var loss = [], val = [];
    (history || []).forEach(function (h) {
      if (h.loss !== null && h.loss !== undefined) loss.push([h.epoch, h.loss]);
      if (h.val_hr !== null && h.val_hr !== undefined) val.push([h.epoch, h.val_hr]);
    });
    var lossSvg = document.querySelector('svg[data-chart="loss"]');
    var valSvg = document.querySelector('svg[data-chart="val_hr"]');
    if (lossSvg) window.Recsys.lineChart(lossSvg, [{ label: "loss", color: MODEL_COLOR, points: loss }], { decimals: 3 });
    if (valSvg) window.Recsys.lineChart(valSvg, [{ label: "val HR@10", color: MODEL_COLOR, points: val }], { ymin: 0 });
    var empty = document.querySelector('[data-field="no-curves"]');
    if (empty) empty.hidden = loss.length > 0;
  }

  // A training job page: curves from the stored history, then live epochs until the job ends.
  if (document.getElementById("training-history")) drawTraining(readJson("training-history"));
  document.querySelectorAll("[data-poll-training]").forEach(function (box) {
    window.Recsys.poll(box.getAttribute("data-poll-training"), function (job) {
      if (!job || !job.status) return true;
      var progress = job.progress || {};
      setStatus(box, job.status);
      setText(box, "epoch", String(progress.epoch || 0));
      setText(box, "epochs", progress.epochs ? String(progress.epochs) : "?");
      setText(box, "loss", fixed(progress.loss, 4));
      setText(box, "val_hr", fixed(progress.val_hr, 4));
      setText(box, "stage", progress.stage || (job.status === "queued" ? "waiting for a worker" : job.status));
      setBar(box, progress.epochs ? 100 * (progress.epoch || 0) / progress.epochs : 0);
      drawTraining(progress.history);
      if (!FINISHED[job.status]) return false;
      window.location.reload();
      return true;
    }, 1500);
  });

  // The models page: HR@10 and NDCG@10 of each version beside its popularity baseline.
  var versions = document.getElementById("model-metrics") ? readJson("model-metrics") : null;
  if (versions) {
    ["hr_at_10", "ndcg_at_10"].forEach(function (metric) {
      var svg = document.querySelector('svg[data-chart="' + metric + '"]');
      if (!svg) return;
      function points(name) {
        return versions.filter(function (v) { return typeof v[name] === "number"; })
          .map(function (v) { return [v.version, v[name]]; });
      }
      window.Recsys.lineChart(svg, [
        { label: "popularity", color: BASELINE_COLOR, points: points("popularity_" + metric) },
        { label: "model", color: MODEL_COLOR, points: points(metric) }
      ], { ymin: 0, xlabel: "version" });
    });
  }
})();
