/* The static edition's search (clusteratlas publish): the search page finds regions and clusters in
   search-index.json, in the browser, with no server. The index's keys are folded as the server's search folds
   text (clusteratlas.queries.lookup.fold: NFKC width, katakana as hiragana, case); CA.fold (app.js) folds the
   query the same way, so ｱｲﾁ, あいち and AICHI find what they find on the server. The page's labels come translated in
   <script id="search-labels">. With ?go=1 (the home page's box) one hit opens its page directly. */
(function () {
  "use strict";
  var fold = window.CA.fold;  // app.js, which runs before this deferred script: one fold, one index fetch
  var root = document.body.dataset.staticRoot || "";
  var lang = document.documentElement.lang;
  var labels = JSON.parse(document.getElementById("search-labels").textContent);
  var params = new URLSearchParams(window.location.search);
  var q = params.get("q") || "";
  var box = document.getElementById("q-page");
  if (box) box.value = q;
  if (!q.trim()) return;
  var needle = fold(q);
  window.CA.searchIndex().then(function (index) {
    var hits = index.entries.filter(function (e) { return e.k.indexOf(needle) >= 0; });
    var regions = hits.filter(function (e) { return e.t === "region"; });
    var clusters = hits.filter(function (e) { return e.t === "cluster"; });
    if (params.get("go") && hits.length === 1) {
      window.location.href = root + lang + "/" + hits[0].p;
      return;
    }
    var main = document.getElementById("main");
    function list(title, entries, region) {
      var h = document.createElement("h2"), ul = document.createElement("ul");
      h.textContent = title + " (" + entries.length + ")";
      ul.className = "results";
      entries.slice(0, 50).forEach(function (e) {
        var li = document.createElement("li"), a = document.createElement("a");
        a.href = root + lang + "/" + e.p;
        a.textContent = (lang === "ja" ? e.j || e.n : e.n || e.j) || e.id;
        li.appendChild(a);
        if (region) {
          var m = document.createElement("span");
          m.className = "muted";
          m.textContent = " " + e.id + " · " + (labels.levels[e.l] || e.l || "");
          li.appendChild(document.createTextNode(" "));
          li.appendChild(m);
        }
        ul.appendChild(li);
      });
      main.appendChild(h);
      main.appendChild(ul);
    }
    list(labels.regions, regions, true);
    list(labels.clusters, clusters, false);
    if (!hits.length) {
      var p = document.createElement("p");
      p.textContent = labels.nothing;
      main.appendChild(p);
    }
  });
})();
