/* clusteratlas pages: sortable tables, and the charts and maps drawn with the vendored Apache ECharts.
   Tables are plain HTML (they work without JavaScript); this file only adds interaction and drawings.
   The data of a page is in <script id="page-data" type="application/json">; map shapes come from
   /api/v1/geometry/LEVEL (the page's JSON twin for geometry). The page says which drawing it needs in
   <body data-page="…"> (no inline script: the Content-Security-Policy allows scripts from this server only).

   Names come from imported files and may hold anything: every name passes through shown() (invisible and
   direction-changing characters as visible <U+XXXX>) and, where it reaches HTML (tooltips), through esc()
   (echarts.format.encodeHTML). Canvas labels and textContent take shown() text as it is. */
(function () {
  "use strict";
  // Colour-blind-safe sequential scale (viridis) and a categorical scale (Okabe-Ito).
  var VIRIDIS = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"];
  var OKABE = ["#999999", "#56b4e9", "#e69f00", "#d55e00", "#0072b2", "#009e73", "#cc79a7", "#f0e442"];
  var CA = window.CA = {charts: {}, ready: {}};

  // Control, format (right-to-left override, zero-width…), surrogate, private-use and line/paragraph separator
  // characters: the same Unicode categories as the server's rule for codes (clusteratlas.sources.codes).
  var HIDDEN = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Zl}\p{Zp}]/gu;
  function shown(v) {
    return String(v === null || v === undefined ? "" : v).replace(HIDDEN, function (c) {
      return "<U+" + c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0") + ">";
    });
  }
  function esc(v) { return echarts.format.encodeHTML(shown(v)); }
  // A name in the page's language (the other language, then the id, when it is missing), as shown text.
  function pick(lang, en, ja, fallback) { return shown((lang === "ja" ? ja || en : en || ja) || fallback); }

  // The static edition (clusteratlas publish) sets <body data-static-root>: addresses are then its files, named
  // as clusteratlas.publish.file_for names them (bytes other than letters, digits and "-" as _XX; ~key=value).
  var ROOT = document.body.dataset.staticRoot;
  function safe(s) {
    return Array.prototype.map.call(new TextEncoder().encode(String(s)), function (b) {
      var c = String.fromCharCode(b);
      return /[A-Za-z0-9-]/.test(c) ? c : "_" + (b < 16 ? "0" : "") + b.toString(16).toUpperCase();
    }).join("");
  }
  function to(parts, params, api) {  // a page (or, with api, an /api/v1 answer) by its path parts
    params = params || {};
    if (ROOT === undefined) {
      var q = new URLSearchParams(params).toString();
      return (api ? "/api/v1/" : "/") + parts.map(encodeURIComponent).join("/") + (q ? "?" + q : "");
    }
    return ROOT + (api ? "api/v1/" : document.documentElement.lang + "/") + parts.map(safe).join("/")
      + Object.keys(params).sort().map(function (k) { return "~" + safe(k) + "=" + safe(params[k]); }).join("")
      + (api ? ".json" : ".html");
  }
  CA.to = to;

  function data() {
    var el = document.getElementById("page-data");
    return el ? JSON.parse(el.textContent) : {};
  }
  function num(v, lang, d) {
    if (v === null || v === undefined) return "–";
    return Number(v).toLocaleString(lang === "ja" ? "ja-JP" : "en-US", {maximumFractionDigits: d || 0});
  }
  function chart(id) {
    var el = document.getElementById(id);
    if (!el) return null;
    var c = echarts.init(el, null, {renderer: "canvas"});
    CA.charts[id] = c;
    // the page's own label, in its language (ECharts' aria writes an English list of raw values over it)
    var label = el.getAttribute("aria-label");
    c.on("finished", function () {  // drawn: only once a series is set (an empty chart finishes too)
      if (label && el.getAttribute("aria-label") !== label) el.setAttribute("aria-label", label);
      var o = c.getOption();
      if (o && o.series && o.series.length) CA.ready[id] = true;
    });
    window.addEventListener("resize", function () { c.resize(); });
    window.addEventListener("beforeprint", function () { c.resize(); });
    return c;
  }

  // Sortable tables: click or press Enter on a header; numbers sort by their data-v value.
  function sortable(table) {
    var heads = table.querySelectorAll("thead th");
    heads.forEach(function (th, i) {
      th.tabIndex = 0;
      th.setAttribute("aria-sort", "none");
      function go() {
        var asc = th.getAttribute("aria-sort") !== "ascending";
        heads.forEach(function (h) { h.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[i], y = b.cells[i];
          var xv = x && x.dataset.v !== undefined ? parseFloat(x.dataset.v) : NaN;
          var yv = y && y.dataset.v !== undefined ? parseFloat(y.dataset.v) : NaN;
          var r = (!isNaN(xv) || !isNaN(yv)) ? (isNaN(xv) ? -Infinity : xv) - (isNaN(yv) ? -Infinity : yv)
            : (x ? x.textContent : "").localeCompare(y ? y.textContent : "");
          return asc ? r : -r;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      }
      th.addEventListener("click", go);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); go(); } });
    });
  }
  document.querySelectorAll("table.sortable").forEach(sortable);

  function geometry(level) {
    return fetch(to(["geometry", level], null, true)).then(function (r) {
      if (!r.ok) throw new Error("geometry " + r.status);
      return r.json();
    }).then(function (doc) {
      var name = "level:" + level;
      if (!echarts.getMap(name)) echarts.registerMap(name, doc.data);
      return {name: name, features: doc.data.features};
    });
  }

  CA.regionPage = function () {
    var d = data(), L = d.labels;
    // One year of data has no growth: the bubbles then stand on LQ × employment (dimension 2), not at y = 0.
    var oneYear = !!d.one_year;
    var points = d.clusters.filter(function (c) { return c.employment > 0 && c.lq > 0; }).map(function (c) {
      var growth = oneYear ? null : (c.employment_cagr === null ? 0 : c.employment_cagr * 100);
      return {value: [c.lq, growth, c.employment, c.stars || 0, c.strong ? 1 : 0], cluster: c.cluster,
              name: pick(d.lang, c.cluster_name, c.cluster_name_ja, c.cluster)};
    });
    var maxEmp = Math.max.apply(null, points.map(function (p) { return p.value[2]; }).concat([1]));
    var b = chart("bubble");
    CA.bubbles = points.length;
    b.setOption({
      animation: false,
      aria: {enabled: true},
      grid: {left: 60, right: 30, top: 40, bottom: 50},
      tooltip: {formatter: function (p) {
        var v = p.data.value;
        return esc(p.data.name) + "<br>" + L.lq + ": " + num(v[0], d.lang, 2)
          + (oneYear ? "" : "<br>" + L.growth + ": " + num(v[1], d.lang, 1) + "%")
          + "<br>" + L.employment + ": " + num(v[2], d.lang) + "<br>" + L.stars + ": " + "★".repeat(v[3])
          + (v[4] ? "<br>" + L.strong : "");
      }},
      xAxis: {type: "log", name: L.lq, nameLocation: "middle", nameGap: 30, logBase: 10},
      yAxis: oneYear ? {type: "log", name: L.employment, logBase: 10} : {type: "value", name: L.growth + " (%)"},
      visualMap: {show: false, dimension: 3, type: "piecewise", pieces: [
        {value: 0, color: OKABE[0]}, {value: 1, color: OKABE[1]}, {value: 2, color: OKABE[2]}, {value: 3, color: OKABE[3]}]},
      series: [{type: "scatter", data: points, cursor: "pointer", encode: {x: 0, y: oneYear ? 2 : 1},
        symbolSize: function (v) { return 6 + 54 * Math.sqrt(v[2] / maxEmp); },
        itemStyle: {opacity: 0.8, borderColor: "#000", borderWidth: 0},
        emphasis: {focus: "self"},
        markLine: {silent: true, symbol: "none", lineStyle: {type: "dashed", color: "#333"},
                   data: [{xAxis: 1}], label: {formatter: "LQ = 1"}}}]
    });
    b.setOption({series: [{data: points.map(function (p) {
      return Object.assign({}, p, {itemStyle: {borderWidth: p.value[4] ? 2 : 0}});
    })}]});
    b.on("click", function (p) {
      if (p.data && p.data.cluster) {
        window.location.href = to(["clusters", p.data.cluster], {level: d.level});
      }
    });
    var s = chart("series");  // absent with one year of data: no time axis to draw
    var names = Object.keys(d.series);
    var byId = {};
    d.clusters.forEach(function (c) { byId[c.cluster] = pick(d.lang, c.cluster_name, c.cluster_name_ja, c.cluster); });
    if (s) s.setOption({animation: false, color: OKABE.slice(1), tooltip: {trigger: "axis"}, legend: {type: "scroll", bottom: 0},
      grid: {left: 70, right: 20, top: 20, bottom: 50},
      xAxis: {type: "value", min: "dataMin", max: "dataMax", minInterval: 1, axisLabel: {formatter: String}},
      yAxis: {type: "value"},
      series: names.map(function (c) { return {type: "line", name: byId[c] || shown(c), data: d.series[c]}; })});
    if (d.map_level) {
      var m = chart("locator");
      geometry(d.map_level).then(function (g) {
        m.setOption({animation: false, series: [{type: "map", map: g.name, roam: false, selectedMode: false,
          itemStyle: {areaColor: "#e8e8e8", borderColor: "#888", borderWidth: 0.3},
          data: [{name: d.region, itemStyle: {areaColor: OKABE[3]}}]}]});
      });
    }
  };

  // Map classes: pale for low, dark for high (ColorBrewer YlGnBu, colour-blind-safe), so that the few specialised
  // regions stand out; growth on a diverging scale (ColorBrewer RdBu): falls red, rises blue, around 0.
  var SEQUENTIAL = ["#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494"];
  var DIVERGING = ["#b2182b", "#ef8a62", "#fddbc7", "#d1e5f0", "#67a9cf", "#2166ac"];
  function spread(colours, n) {
    var out = [];
    for (var i = 0; i < n; i++) out.push(colours[Math.round(i * (colours.length - 1) / Math.max(1, n - 1))]);
    return out;
  }
  // The legend of a map from the classes the server chose (clusteratlas.queries.classes): bounds as they are,
  // with the digits that keep them distinct; growth as percentages.
  function classPieces(k, L, lang) {
    if (k.scheme === "lisa") {
      return [{value: 2, label: L.hot, color: OKABE[3]}, {value: 1, label: L.cold, color: OKABE[4]},
              {value: 0, label: L.other, color: "#dddddd"}];
    }
    if (k.scheme === "stars") {
      return [0, 1, 2, 3].map(function (n) {
        return {value: n, label: n ? "★".repeat(n) : L.nostar, color: ["#eeeeee", SEQUENTIAL[1], SEQUENTIAL[3], SEQUENTIAL[4]][n]};
      });
    }
    if (k.scheme === "yes-no") return [{value: 1, label: L.yes, color: OKABE[3]}, {value: 0, label: L.no, color: "#dddddd"}];
    if (!k.breaks.length) return [{min: -1e300, max: 1e300, label: L.allregions, color: SEQUENTIAL[2]}];
    var f = function (b) { return k.percent ? num(b * 100, lang, k.digits) + "%" : num(b, lang, k.digits); };
    var colours = k.kind === "diverging" ? DIVERGING : spread(SEQUENTIAL, k.breaks.length + 1);
    var p = [], lo = null;
    k.breaks.concat([null]).forEach(function (b, i) {
      var piece = {color: colours[i]};
      if (lo !== null) piece.gte = lo;
      if (b !== null) piece.lt = b;
      if (k.whole) {  // counts: [2, 5) reads "2 – 4", [0, 1) reads "0"
        var last = b === null ? null : b - 1;
        piece.label = b === null ? "≥ " + f(lo) : lo === null ? (last === 0 ? f(0) : "≤ " + f(last))
          : lo === last ? f(lo) : f(lo) + " – " + f(last);
      } else {
        piece.label = lo === null ? "< " + f(b) : b === null ? "≥ " + f(lo) : f(lo) + " – " + f(b);
      }
      p.push(piece);
      lo = b;
    });
    return p;
  }
  CA.classPieces = classPieces;
  // The value a region is coloured by: its hot-spot category, its stars or rating, or its value.
  function classValue(k, r) {
    if (k.scheme === "lisa") {
      var hot = (k.regions || {}).hot || [], cold = (k.regions || {}).cold || [];
      return hot.indexOf(r.region) >= 0 ? 2 : cold.indexOf(r.region) >= 0 ? 1 : 0;
    }
    return r.value === true ? 1 : r.value === false ? 0 : r.value;
  }
  // A choropleth of one level: rows {region, name, name_ja, value, stars, strong}; strong regions outlined.
  function choropleth(id, level, rows, k, opts) {
    var L = opts.labels, lang = opts.lang;
    return geometry(level).then(function (g) {
      var m = chart(id);  // made once the shapes are here: no half-made chart in CA.charts meanwhile
      var values = rows.map(function (r) {
        var item = {name: r.region, value: classValue(k, r), raw: r.value, stars: r.stars, strong: r.strong,
                    label: pick(lang, r.name, r.name_ja, r.region)};
        if (r.strong && opts.outline) item.itemStyle = {borderColor: OKABE[3], borderWidth: 2.4};
        return item;
      });
      var ids = {};
      g.features.forEach(function (f) { ids[f.id] = 1; });
      var missing = values.filter(function (v) { return !ids[v.name]; }).map(function (v) { return v.name; });
      CA.mapInfo = {features: g.features.length, values: values.length, missing: missing.length};
      CA.mapLegend = classPieces(k, L, lang).map(function (p) { return p.label; });
      var note = document.getElementById(opts.note || "map-note");
      if (note && missing.length) note.textContent = L.missing + ": " + missing.length + " (" + missing.slice(0, 12).map(shown).join(", ") + (missing.length > 12 ? ", …" : "") + ")";
      m.setOption({
        animation: false, aria: {enabled: true},
        tooltip: {trigger: "item", formatter: function (p) {
          if (!p.data) return esc(p.name) + "<br>" + esc(L.nodata);
          var v = p.data.raw;
          var shownValue = v === true ? L.yes : v === false ? L.no : k.percent ? num(v * 100, lang, 1) + "%" : num(v, lang, 2);
          return esc(p.data.label) + "<br>" + esc(opts.metricLabel) + ": " + shownValue
            + (p.data.stars ? "<br>" + "★".repeat(p.data.stars) : "") + (p.data.strong && L.strong ? "<br>" + esc(L.strong) : "");
        }},
        visualMap: {type: "piecewise", left: 10, bottom: 10, orient: "vertical", itemSymbol: "rect",
                    pieces: classPieces(k, L, lang), textStyle: {fontSize: 12}},
        series: [{type: "map", map: g.name, roam: true, selectedMode: false, data: values,
                  itemStyle: {areaColor: "#f4f4f4", borderColor: "#666", borderWidth: 0.2},
                  emphasis: {label: {show: false}, itemStyle: {borderWidth: 1, borderColor: "#000"}}}]
      });
      m.on("click", function (p) {
        if (p.name) window.location.href = to(["regions", p.name], {level: level});
      });
      return m;
    }).catch(function (e) { CA.error = String(e); });
  }

  CA.clusterPage = function () {
    var d = data(), L = d.labels;
    if (d.has_geometry) {
      choropleth("map", d.level, d.layer, d.classes, {labels: L, lang: d.lang, metricLabel: d.metric_label,
                                                      outline: d.classes.scheme !== "yes-no"});
    }
    var s = chart("series");
    if (s) s.setOption({animation: false, color: [OKABE[4]], tooltip: {trigger: "axis"}, grid: {left: 80, right: 20, top: 20, bottom: 30},
      xAxis: {type: "value", min: "dataMin", max: "dataMax", minInterval: 1, axisLabel: {formatter: String}},
      yAxis: {type: "value"},
      series: [{type: "line", name: L.employment, data: d.series.map(function (r) { return [r.year, r.employment]; })}]});
    var gr = chart("graph");
    if (gr && d.related) {
      var nodes = [{id: d.cluster, name: shown(d.name), symbolSize: 40, itemStyle: {color: OKABE[3]}}];
      var links = [], added = {};
      added[d.cluster] = true;
      d.related.forEach(function (r) {
        if (added[r.related]) return;  // one node per cluster (a relate run at two levels lists it twice)
        added[r.related] = true;
        var label = pick(d.lang, r.related_name, r.related_name_ja, r.related);
        nodes.push({id: r.related, name: label, symbolSize: 20, itemStyle: {color: OKABE[4]}, cluster: r.related});
        links.push({source: d.cluster, target: r.related});
      });
      gr.setOption({animation: false, series: [{type: "graph", layout: "circular", roam: true, label: {show: true, fontSize: 10},
        data: nodes, links: links, lineStyle: {color: "#888"}}]});
      gr.on("click", function (p) { if (p.data && p.data.cluster) window.location.href = to(["clusters", p.data.cluster]); });
    }
  };

  // The compare page's picker: chosen regions as removable chips (the hidden "regions" field follows them), a
  // finder limited to the chosen level, and the last chosen region's peers offered as buttons.
  function comparePicker(d) {
    var form = document.getElementById("compare-form");
    if (!form) return;
    var chips = document.getElementById("picked"), field = document.getElementById("regions-value");
    var offers = document.getElementById("peer-offers"), finderBox = form.querySelector("[data-finder]");
    var level = document.getElementById("pick-level"), L = d.labels;
    function fmt(t, v) { return t.replace(/\{(\w+)\}/g, function (_, k) { return v[k]; }); }
    function ids() { return Array.prototype.map.call(chips.children, function (li) { return li.dataset.region; }); }
    function sync() { field.value = ids().join(","); CA.picked = ids(); }
    function wire(li) {
      li.querySelector("button").addEventListener("click", function () {
        var next = li.nextElementSibling || li.previousElementSibling;
        li.remove(); sync();
        (next ? next.querySelector("button") : finderBox.querySelector("input")).focus();
      });
    }
    function add(code, label) {
      if (ids().indexOf(code) >= 0) return;
      if (ids().length >= d.max) { offers.textContent = fmt(L.full, {n: d.max}); return; }
      var li = document.createElement("li"), b = document.createElement("button");
      li.dataset.region = code; li.textContent = label + " ";
      b.type = "button"; b.textContent = "×"; b.setAttribute("aria-label", fmt(L.remove, {region: label}));
      li.appendChild(b); chips.appendChild(li); wire(li); sync();
    }
    function offerPeers(code, label) {
      if (ROOT !== undefined) return;  // the static edition has no peers route
      fetch("/api/v1/regions/" + encodeURIComponent(code) + "/peers?n=6").then(function (r) { return r.json(); }).then(function (doc) {
        offers.textContent = "";
        var p = document.createElement("p"); p.textContent = fmt(L.peers, {region: label}); offers.appendChild(p);
        doc.data.forEach(function (row) {
          var name = pick(d.lang, row.name, row.name_ja, row.region), b = document.createElement("button");
          b.type = "button"; b.textContent = "+ " + name; b.setAttribute("aria-label", fmt(L.add, {region: name}));
          b.dataset.region = row.region;
          b.addEventListener("click", function () { add(row.region, name); b.remove(); });
          offers.appendChild(b);
        });
        CA.peersOffered = doc.data.length; CA.peersFor = code;
      });
    }
    Array.prototype.forEach.call(chips.children, wire);
    sync();
    level.addEventListener("change", function () { finderBox.dataset.level = level.value; });
    finderBox.addEventListener("picked", function (e) {
      var s = e.detail, label = pick(d.lang, s.name, s.name_ja, s.code);
      add(s.code, label);
      if (s.level && !level.value) { level.value = s.level; finderBox.dataset.level = s.level; }
      offerPeers(s.code, label);
    });
  }

  CA.comparePage = function () {
    var d = data(), box = document.getElementById("multiples");
    comparePicker(d);
    if (!box || !d.rows || !d.rows.length) return;
    var tops = {}, most = 0, least = 0;
    d.ids.forEach(function (region) {
      tops[region] = d.rows.map(function (row) {
        var v = row.cells[region];
        return {name: pick(d.lang, row.name, row.name_ja, row.cluster), value: v === undefined ? null : v};
      }).filter(function (x) { return x.value !== null; }).sort(function (a, b) { return b.value - a.value; }).slice(0, 8).reverse();
      tops[region].forEach(function (x) { most = Math.max(most, x.value); least = Math.min(least, x.value); });
    });
    // one scale for every region, so that equal bars mean equal figures (a chart's own scale would make a
    // region's LQ 1.2 as long as another's 6.0); LQ 1 (as specialised as the reference) drawn on each
    // (a change or a growth rate may be negative: the scale then reaches as far below zero)
    var top = most > 0 || least === 0 ? niceCeil(most) : 0, bottom = least < 0 ? -niceCeil(-least) : 0;
    var lq = d.metric === "lq" || d.metric === "lq_within_type";
    function note(text) { var p = document.createElement("p"); p.className = "note"; p.textContent = text; return p; }
    if (d.ids.every(function (region) { return !tops[region].length; })) {  // e.g. growth in a one-year atlas
      box.appendChild(note(d.labels.none));
      return;
    }
    d.ids.forEach(function (region) {
      var cells = tops[region];
      var fig = document.createElement("figure");
      var div = document.createElement("div");
      div.className = "chart mini";
      div.id = "m-" + region;
      var cap = document.createElement("figcaption");
      var n = d.names[region];
      cap.textContent = n ? pick(d.lang, n.name, n.name_ja, region) : shown(region);
      fig.appendChild(cap); box.appendChild(fig);
      if (!cells.length) { fig.appendChild(note(d.labels.none_here)); return; }  // no empty axes
      // a named image; its figures are in the heat table
      div.setAttribute("role", "img"); div.setAttribute("aria-label", cap.textContent); div.setAttribute("aria-describedby", "heat");
      fig.appendChild(div);
      chart(div.id).setOption({animation: false, grid: {left: 120, right: 14, top: 5, bottom: 38}, color: [OKABE[4]],
        xAxis: {type: "value", min: bottom, max: top, name: d.labels.metric, nameLocation: "middle", nameGap: 22,
                axisLabel: d.fraction ? {formatter: function (v) { return +(v * 100).toPrecision(12) + "%"; }} : {}},
        yAxis: {type: "category", data: cells.map(function (x) { return x.name; }), axisLabel: {fontSize: 9, width: 110, overflow: "truncate"}},
        series: [{type: "bar", data: cells.map(function (x) { return x.value; }),
                  markLine: lq && top >= 1 ? {silent: true, symbol: "none", label: {show: false}, lineStyle: {color: "#000", type: "dashed"},
                                              data: [{xAxis: 1}]} : undefined}]});
    });
    CA.multiplesMax = top;
  };

  // The smallest round number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times a power of ten) at or above v: an
  // axis end a reader can read, at most a third above the largest bar.
  function niceCeil(v) {
    if (!(v > 0)) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v))), steps = [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10];
    for (var i = 0; i < steps.length; i++) {
      if (steps[i] * p >= v * (1 - 1e-12)) return +(steps[i] * p).toPrecision(12);  // 0.3, not 0.30000000000000004
    }
    return +(10 * p).toPrecision(12);
  }

  // A label in lines of at most n characters: English broken at spaces, Japanese between characters.
  function wrapLabel(text, n) {
    var lines = [], line = "";
    String(text).split(/(\s+)/).forEach(function (word) {
      if (/^\s+$/.test(word)) { if (line) line += " "; return; }
      while (word.length > n && /[^\x00-\x7f]/.test(word)) {  // a Japanese run: cut it into pieces
        var room = Math.max(1, n - line.trim().length);
        lines.push((line + word.slice(0, room)).trim()); line = ""; word = word.slice(room);
      }
      if ((line + word).trim().length > n && line.trim()) { lines.push(line.trim()); line = ""; }
      line += word;
    });
    if (line.trim()) lines.push(line.trim());
    return lines.join("\n");
  }

  CA.evaluationsPage = function () {
    var d = data(), box = document.getElementById("radars");
    function nm(o) { return pick(d.lang, o.name, o.name_ja, o.id); }
    CA.radars = 0;
    (d.radars || []).forEach(function (a, i) {
      if (!a.axes.length) return;
      var fig = document.createElement("figure"), div = document.createElement("div"), cap = document.createElement("figcaption");
      div.className = "chart radar"; div.id = "radar-" + i;
      cap.textContent = nm({name: a.name, name_ja: a.name_ja, id: a.assessment});
      div.setAttribute("role", "img"); div.setAttribute("aria-label", cap.textContent);
      fig.appendChild(cap); fig.appendChild(div); box.appendChild(fig);
      var cols = a.columns.length ? a.columns : Object.keys(a.series).map(function (c) { return {id: c}; });
      var max = 3;
      Object.keys(a.series).forEach(function (c) { a.series[c].forEach(function (v) { if (v > max) max = v; }); });
      chart(div.id).setOption({animation: false, color: [OKABE[4], OKABE[3]], legend: {bottom: 0, data: cols.map(nm)},
        // short lines (a few words, or seven Japanese characters) so that no name runs off the chart's edge
        radar: {radius: "50%", center: ["50%", "47%"], indicator: a.axes.map(function (f) { return {name: nm(f), max: max}; }),
                axisName: {color: "#000", fontSize: 9, formatter: function (name) { return wrapLabel(name, d.lang === "ja" ? 7 : 16); }}},
        series: [{type: "radar", data: cols.map(function (c) { return {name: nm(c), value: a.series[c.id] || []}; })}]});
      CA.radars += 1;
    });
    if (d.has_prefectures) {
      var count = {};
      (d.programmes || []).forEach(function (p) {
        String(p.regions || "").split(/[,;\s]+/).forEach(function (r) { if (r) count[r] = (count[r] || 0) + 1; });
      });
      var m = chart("programme-map");
      geometry("prefecture").then(function (g) {
        m.setOption({animation: false, tooltip: {}, visualMap: {type: "piecewise", left: 10, bottom: 10,
          pieces: [{value: 0, color: "#eeeeee"}, {min: 1, max: 1, color: VIRIDIS[1]}, {min: 2, color: VIRIDIS[3]}]},
          series: [{type: "map", map: g.name, data: g.features.map(function (f) { return {name: f.id, value: count[f.id] || 0}; })}]});
        m.on("click", function (p) {  // a prefecture filters the list to its programmes
          var params = new URLSearchParams(window.location.search);
          params.set("region", p.name);
          window.location.search = params.toString();
        });
      });
    }
    var form = document.getElementById("upload");
    if (form) form.addEventListener("submit", function (e) {
      e.preventDefault();
      var body = new FormData(form), out = document.getElementById("upload-result");
      fetch(form.action, {method: "POST", body: body, headers: {Authorization: "Bearer " + document.getElementById("token").value}})
        .then(function (r) { return r.json().then(function (j) { out.textContent = r.status + " " + (j.title || "") + " " + (j.detail || JSON.stringify(j.data || "")); }); });
    });
  };

  CA.homePage = function () {
    var d = data();
    if (!d.layer) return;
    choropleth("home-map", d.level, d.layer, d.classes, {labels: d.labels, lang: d.lang, metricLabel: d.metric_label,
                                                         outline: d.colour !== "strong"});
  };

  // Text as the server's search compares it (clusteratlas.queries.lookup.fold): NFKC (width), katakana as
  // hiragana, lower case. The static edition's index keys are folded so on the server; the typed text is here.
  function fold(s) {
    return String(s || "").normalize("NFKC").trim().replace(/[\u30a1-\u30f6]/g, function (c) {
      return String.fromCharCode(c.charCodeAt(0) - 0x60);
    }).toLowerCase();
  }
  CA.fold = fold;
  // The static edition's search-index.json (clusteratlas.publish: each published region and cluster page, its
  // names and its folded key), fetched once, when first needed: by the finder's suggestions and the search page.
  var searchIndex = null;
  CA.searchIndex = function () {
    if (!searchIndex) searchIndex = fetch(ROOT + "search-index.json").then(function (r) { return r.json(); });
    return searchIndex;
  };
  // The suggestions the server's /api/v1/suggest gives (clusteratlas.queries.lookup.suggest), from the index: the
  // entries whose code or a name contains the text (folded), of the kind asked (and, for regions, the level),
  // those whose code or name is the text first, then those starting with it, then by name; each in the shape
  // of the server's suggestion, with the published page it opens.
  function suggestIn(entries, text, kind, level, limit) {
    var wanted = fold(text);
    function rank(e) {
      var names = [fold(e.id), fold(e.n), fold(e.j)];
      return names.indexOf(wanted) >= 0 ? 0 : names.some(function (n) { return n.indexOf(wanted) === 0; }) ? 1 : 2;
    }
    return entries.filter(function (e) {
      return (kind === "all" || e.t === kind) && !(level && e.t === "region" && e.l !== level)
        && e.k.indexOf(wanted) >= 0;
    }).map(function (e) { return {e: e, rank: rank(e), by: fold(e.n || e.j || e.id)}; }).sort(function (a, b) {
      return a.rank - b.rank || (a.by < b.by ? -1 : a.by > b.by ? 1 : 0);
    }).slice(0, limit).map(function (x) {
      return {kind: x.e.t, code: x.e.id, name: x.e.n, name_ja: x.e.j, level: x.e.l || null, page: x.e.p};
    });
  }
  CA.suggestIn = suggestIn;

  // A search box with suggestions (the ARIA combobox pattern): typing asks /api/v1/suggest (in the static
  // edition: the search index, see suggestIn), the arrow keys move through the list, Enter takes the highlighted
  // one (or submits the form), Escape closes it. Mode "go" opens the region or cluster; mode "pick" hands it to
  // the page (the compare picker) through a "picked" event.
  function finder(box) {
    var input = box.querySelector("input"), list = box.querySelector("[role=listbox]");
    var lang = document.documentElement.lang, items = [], active = -1, timer = null, asked = 0;
    var levels = JSON.parse(box.dataset.levels || "{}");
    function close() { list.hidden = true; input.setAttribute("aria-expanded", "false"); input.removeAttribute("aria-activedescendant"); active = -1; }
    function highlight(i) {
      active = i;
      Array.prototype.forEach.call(list.children, function (li, j) { li.setAttribute("aria-selected", j === i ? "true" : "false"); });
      if (i >= 0) input.setAttribute("aria-activedescendant", list.children[i].id); else input.removeAttribute("aria-activedescendant");
    }
    function choose(s) {
      if (box.dataset.mode === "pick") {
        box.dispatchEvent(new CustomEvent("picked", {detail: s, bubbles: true}));
        input.value = ""; close(); return;
      }
      window.location.href = s.page ? ROOT + lang + "/" + s.page  // the static edition: the page as published
        : s.kind === "cluster" ? to(["clusters", s.code]) : to(["regions", s.code], s.level ? {level: s.level} : {});
    }
    function show(found) {
      items = found; list.textContent = "";
      found.forEach(function (s, i) {
        var li = document.createElement("li");
        li.id = input.id + "-opt-" + i; li.setAttribute("role", "option"); li.dataset.code = s.code;
        var label = pick(lang, s.name, s.name_ja, s.code);
        var kind = s.kind === "cluster" ? (box.dataset.clusterWord || "") : (s.level_name || s.level || "");
        li.textContent = label + (kind ? " · " + kind : "") + (label !== shown(s.code) ? " (" + shown(s.code) + ")" : "");
        li.addEventListener("mousedown", function (e) { e.preventDefault(); choose(s); });
        list.appendChild(li);
      });
      list.hidden = !found.length; input.setAttribute("aria-expanded", found.length ? "true" : "false");
      highlight(-1);
      CA.suggestions = found.length;
    }
    if (ROOT !== undefined) input.addEventListener("focus", function () { CA.searchIndex(); });
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var q = input.value.trim();
      if (!q) { show([]); return; }
      var kind = box.dataset.kind || "all";
      timer = setTimeout(function () {
        var n = ++asked;
        var url = "/api/v1/suggest?q=" + encodeURIComponent(q) + "&kind=" + encodeURIComponent(kind)
          + (box.dataset.level ? "&level=" + encodeURIComponent(box.dataset.level) : "") + "&lang=" + encodeURIComponent(lang);
        var found = ROOT === undefined
          ? fetch(url).then(function (r) { return r.json(); }).then(function (doc) { return doc.data.suggestions; })
          : CA.searchIndex().then(function (index) { return suggestIn(index.entries, q, kind, box.dataset.level, 8); });
        found.then(function (suggestions) {
          if (n === asked) show(suggestions.map(function (s) { s.level_name = levels[s.level]; return s; }));
        });
      }, ROOT === undefined ? 120 : 0);
    });
    input.addEventListener("keydown", function (e) {
      if (e.key === "ArrowDown" && items.length) { e.preventDefault(); list.hidden = false; input.setAttribute("aria-expanded", "true"); highlight((active + 1) % items.length); }
      else if (e.key === "ArrowUp" && items.length) { e.preventDefault(); highlight(active <= 0 ? items.length - 1 : active - 1); }
      else if (e.key === "Enter" && active >= 0 && !list.hidden) { e.preventDefault(); choose(items[active]); }
      else if (e.key === "Escape") { close(); }
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
  }
  document.querySelectorAll("[data-finder]").forEach(finder);

  // Selects that submit their form when changed (here, not in an inline onchange: the CSP forbids those).
  document.querySelectorAll("select[data-submit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  var page = {home: CA.homePage, region: CA.regionPage, cluster: CA.clusterPage, compare: CA.comparePage,
              evaluations: CA.evaluationsPage}[document.body.dataset.page];
  if (page) page();
})();
