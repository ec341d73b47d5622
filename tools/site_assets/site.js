/* The docs site's one script (tools/build_site.py): the phone menu, maths with the vendored KaTeX, and full-text search
   over search-index.js. No network: everything comes from the site's own files, and file:// pages work too. */
(function () {
  'use strict';
  var root = document.body.getAttribute('data-root') || '';

  /* Menu: on a narrow screen the list of pages folds behind a button (site.css). */
  var nav = document.getElementById('site-nav');
  var button = nav && nav.querySelector('.site-menu-button');
  if (button) button.addEventListener('click', function () {
    button.setAttribute('aria-expanded', String(nav.classList.toggle('open')));
  });

  /* Maths: the delimiters nbconvert's MathJax setup used; errors show the TeX in red instead of stopping the page. */
  var main = document.querySelector('main');
  if (main && window.renderMathInElement) {
    window.renderMathInElement(main, {
      delimiters: [
        {left: '$$', right: '$$', display: true}, {left: '\\[', right: '\\]', display: true},
        {left: '\\begin{equation}', right: '\\end{equation}', display: true},
        {left: '\\begin{align}', right: '\\end{align}', display: true},
        {left: '$', right: '$', display: false}, {left: '\\(', right: '\\)', display: false}],
      ignoredClasses: ['jp-OutputArea', 'highlight'],
      throwOnError: false
    });
  }

  /* Search: the index loads on first use; every word must occur (page title, section title or text). */
  var input = document.getElementById('site-search-input');
  var list = nav && nav.querySelector('.site-search-results');
  if (!input || !list) return;
  var loading = false, pending = null;

  function withIndex(done) {
    if (window.PUFFIN_SEARCH) return done();
    pending = done;
    if (loading) return;
    loading = true;
    var s = document.createElement('script');
    s.src = root + 'search-index.js';
    s.onload = function () { if (pending) pending(); };
    s.onerror = function () { show([], 'The search index could not be loaded.'); };
    document.head.appendChild(s);
  }

  function count(hay, word) {
    var n = 0, i = hay.indexOf(word);
    while (i !== -1 && n < 50) { n++; i = hay.indexOf(word, i + word.length); }
    return n;
  }

  function search(query) {
    var words = query.toLowerCase().split(/\s+/).filter(Boolean), hits = [];
    if (!words.length) return hits;
    window.PUFFIN_SEARCH.forEach(function (e) {
      var page = e.p.toLowerCase(), sec = e.s.toLowerCase(), text = e.t.toLowerCase(), score = 0;
      for (var k = 0; k < words.length; k++) {
        var w = words[k], n = count(text, w);
        var inSec = sec.indexOf(w) !== -1, inPage = page.indexOf(w) !== -1;
        if (!n && !inSec && !inPage) return;
        score += n + (inSec ? 20 : 0) + (inPage ? 8 : 0) + (sec === w ? 30 : 0);
      }
      hits.push({e: e, score: score, first: text.indexOf(words[0])});
    });
    hits.sort(function (a, b) { return b.score - a.score; });
    return hits.slice(0, 12);
  }

  function snippet(hit) {
    var t = hit.e.t, i = Math.max(0, hit.first - 40);
    return (i ? '…' : '') + t.slice(i, i + 140) + (t.length > i + 140 ? '…' : '');
  }

  function show(hits, message) {
    list.textContent = '';
    if (message) {
      var li = document.createElement('li'); li.className = 'site-search-empty'; li.textContent = message;
      list.appendChild(li);
    }
    hits.forEach(function (h) {
      var li = document.createElement('li'), a = document.createElement('a');
      a.href = root + h.e.u;
      var title = document.createElement('span'); title.className = 'site-search-title';
      title.textContent = h.e.s ? h.e.p + ' › ' + h.e.s : h.e.p;
      var text = document.createElement('span'); text.className = 'site-search-snippet';
      text.textContent = h.first >= 0 ? snippet(h) : '';
      a.appendChild(title); a.appendChild(text); li.appendChild(a); list.appendChild(li);
    });
    list.hidden = !hits.length && !message;
  }

  function run() {
    var q = input.value.trim();
    if (!q) return show([]);
    withIndex(function () {
      var hits = search(q);
      show(hits, hits.length ? '' : 'No page matches “' + q + '”.');
    });
  }

  input.addEventListener('input', run);
  input.addEventListener('focus', function () { withIndex(function () {}); });
  input.addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter') { var a = list.querySelector('a'); if (a) window.location.href = a.href; }
    if (ev.key === 'Escape') { input.value = ''; show([]); }
  });
  /* `page.html?q=words` opens with a search: a link can share one, and the site's test uses it. */
  var q = /[?&]q=([^&#]*)/.exec(window.location.search);
  if (q) { input.value = decodeURIComponent(q[1].replace(/\+/g, ' ')); run(); }
})();
