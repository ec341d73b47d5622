"""Browser test of the static docs site built by `tools/build_site.py`, and a README freshness test.

Builds the site from `nbs/` into a temp dir (or, with `PUFFIN_SITE_DIR=_docs`, uses a site just built there;
a relative path is relative to the repo root), serves it on localhost and loads every page in headless
Chromium (`--dump-dom`): each page must show the sidebar with links to every page, and no local link or
image may point at a missing file. Screenshots of the home page and a recipe page go to `artifacts/`.
Chromium comes from `tools/ensure_chromium.sh`; if it is missing the browser tests fail in CI (CI=true)
and are skipped locally. Chromium runs with name resolution off (only 127.0.0.1 is reached), so the pages are read
as offline: maths must render from the site's own KaTeX, and search must work from `file://`.
Checks of the built HTML need no browser: the notebook CSS is one linked file, no page loads anything from another
host, no page shows markdown link syntax as text, API blocks own their anchors (`#aetrainer`), no private name is in
"On this page", the search index finds a known page; the README opens with the tagline.
"""
from __future__ import annotations

import functools, os, posixpath, re, shutil, subprocess, sys, tempfile, threading
from concurrent.futures import ThreadPoolExecutor
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'
ARTIFACTS = ROOT/'artifacts'
IN_CI = os.environ.get('CI', '').lower() in ('1', 'true', 'yes')
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--hide-scrollbars',
         '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1']  # offline: no host name resolves
SHOT_PAGES = ('index.html', 'api/training.html', 'api/quality.html', 'api/anomaly.html', 'api/autoencoder.html', 'api/loss.html')
sys.path.insert(0, str(ROOT/'tools'))


def _chromium_path() -> str | None:
    return next((p for p in ('/usr/bin/chromium', shutil.which('chromium'), shutil.which('chromium-browser')) if p and os.access(p, os.X_OK)), None)


@pytest.fixture(scope='module')
def chromium() -> str:
    "Path of Chromium; installed via tools/ensure_chromium.sh in CI; skipped locally when absent."
    exe = _chromium_path()
    if exe is None and IN_CI:
        r = subprocess.run(['bash', str(ROOT/'tools/ensure_chromium.sh')], capture_output=True, text=True, stdin=subprocess.DEVNULL)
        exe = _chromium_path()
        if exe is None: pytest.fail(f'Chromium is required in CI and could not be installed (tools/ensure_chromium.sh):\n{r.stderr}')
    if exe is None: pytest.skip('Chromium not installed: run `bash tools/ensure_chromium.sh`')
    return exe


@pytest.fixture(scope='module')
def site(tmp_path_factory) -> Path:
    "The built site folder."
    if d := os.environ.get('PUFFIN_SITE_DIR'):
        if not (ROOT/d/'index.html').exists(): pytest.fail(f'PUFFIN_SITE_DIR={d}: no index.html there')
        return ROOT/d
    if not (NBS/'index.ipynb').exists(): pytest.fail('nbs/index.ipynb is missing: nothing to build')
    from build_site import build_site
    out = tmp_path_factory.mktemp('site')/'_docs'
    build_site(NBS, out)
    return out


@pytest.fixture(scope='module')
def server(site: Path):
    "Base URL of `site` served over HTTP on localhost."
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args): pass
    httpd = ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{httpd.server_address[1]}/'
    httpd.shutdown(); httpd.server_close()


def _chrome(exe: str, *args: str) -> str:
    "Run headless Chromium with a fresh profile; returns stdout."
    with tempfile.TemporaryDirectory() as profile:
        r = subprocess.run([exe, *FLAGS, f'--user-data-dir={profile}', *args], capture_output=True, text=True,
                           timeout=90, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, f'chromium {args} failed:\n{r.stderr[-2000:]}'
    return r.stdout


def _local_file(site: Path, base: str, page_url: str, ref: str) -> Path | None:
    "File in `site` that `ref` (an href/src on page `page_url`) points at, or None if it is not a local URL."
    url = urljoin(page_url, ref)
    if not url.startswith(base): return None
    path = unquote(urlsplit(url).path)[len(urlsplit(base).path):]
    f = site/path
    return f/'index.html' if not path or path.endswith('/') or f.is_dir() else f


@pytest.fixture(scope='module')
def doms(site: Path, server: str, chromium: str) -> dict[str, str]:
    "Every page's DOM after its scripts ran (KaTeX included), loaded over HTTP with no other host reachable."
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob('*.html'))
    with ThreadPoolExecutor(2) as ex: return dict(zip(pages, ex.map(lambda p: _chrome(chromium, '--dump-dom', server + p), pages)))


def test_site_pages(site: Path, server: str, doms: dict[str, str]):
    "Every page loads in Chromium, has the full sidebar, and has no broken local links or images."
    pages = sorted(doms)
    assert 'index.html' in pages and len(pages) > 1, pages
    problems = []
    for page, dom in doms.items():
        url, soup = server + page, BeautifulSoup(dom, 'html.parser')
        nav = soup.select_one('nav.site-sidebar')
        if nav is None or soup.select_one('main.site-main') is None:
            problems.append(f'{page}: no sidebar/main (page did not load?)'); continue
        linked = {_local_file(site, server, url, a['href']) for a in nav.find_all('a', href=True)}
        problems += [f'{page}: sidebar has no link to {p}' for p in pages if site/p not in linked]
        for tag, attr in (('a', 'href'), ('img', 'src'), ('link', 'href')):
            for el in soup.find_all(tag, **{attr: True}):
                ref = el[attr]
                if ref.startswith(('data:', '#', 'mailto:', 'javascript:')): continue
                f = _local_file(site, server, url, ref)
                if f is not None and not f.is_file(): problems.append(f'{page}: broken <{tag} {attr}="{ref}">')
        if tag_count := len(soup.find_all('img', src=False)): problems.append(f'{page}: {tag_count} <img> without src')
    assert not problems, '\n'.join(problems)


def test_screenshots(site: Path, server: str, chromium: str):
    """Screenshots at a desktop (1400 px) and a phone (390 px) width, saved into artifacts/ as `page-width.png`:
    the home page, a recipe page and the pages with long code lines, maths and API blocks."""
    ARTIFACTS.mkdir(exist_ok=True)
    recipes = sorted(p.relative_to(site).as_posix() for p in site.glob('recipes/*.html'))
    pages = [p for p in SHOT_PAGES if (site/p).exists()] + recipes[:1]
    for page in pages:
        for width, height in ((1400, 1000), (390, 844)):
            out = ARTIFACTS/f'{Path(page).stem}-{width}.png'
            out.unlink(missing_ok=True)
            _chrome(chromium, f'--screenshot={out}', f'--window-size={width},{height}', server + page)
            assert out.exists() and out.stat().st_size > 10_000, f'screenshot of {page} at {width} px missing or blank'


def test_readme_fresh():
    "README.md is what `python tools/build_site.py --readme` makes of nbs/index.ipynb (no browser needed)."
    if not (NBS/'index.ipynb').exists(): pytest.fail('nbs/index.ipynb is missing')
    from build_site import write_readme
    assert write_readme(NBS, check=True), 'README.md is stale: run `python tools/build_site.py --readme`'

def test_static_page_outputs():
    "A widget shows a note, not its text repr; streams of terminal control codes go; a method documented twice shows once."
    import nbformat
    from build_site import static_outputs, apply_cell_options, _WIDGET_NOTE
    widget = nbformat.v4.new_output('display_data', data={'application/vnd.jupyter.widget-view+json': {'model_id': 'x'}, 'text/plain': 'HBox(children=(...))'})
    cleared = nbformat.v4.new_output('stream', name='stdout', text='\x1b[2K\r\x1b[2K\r')
    printed = nbformat.v4.new_output('stream', name='stdout', text='loss 1.23\n')
    out = static_outputs([widget, cleared, printed])
    assert [o.get('data', {}).get('text/markdown') for o in out] == [_WIDGET_NOTE, None] and out[1]['text'] == 'loss 1.23\n'
    doc = lambda: nbformat.v4.new_code_cell('#| output: asis\n#| echo: false\nshow_doc(AETrainer.fit)', outputs=[nbformat.v4.new_output('display_data', data={'text/markdown': '### AETrainer.fit'})])
    cells = apply_cell_options(nbformat.v4.new_notebook(cells=[doc(), nbformat.v4.new_markdown_cell('text'), doc()]))
    assert [c.source for c in cells] == ['### AETrainer.fit', 'text']

def test_doc_cells_keep_ids():
    "The markdown cell a `show_doc` output becomes has an id derived from its code cell's: two builds of a page are identical."
    import nbformat
    from build_site import apply_cell_options
    def page():
        cell = nbformat.v4.new_code_cell('#| output: asis\n#| echo: false\nshow_doc(VAE)', id='cafe01', outputs=[nbformat.v4.new_output('display_data', data={'text/markdown': '### VAE'})])
        return apply_cell_options(nbformat.v4.new_notebook(cells=[cell]))
    first, second = page(), page()
    assert [c.id for c in first] == [c.id for c in second] == ['cafe01-md']


def _head_style_bytes(page: Path) -> int:
    "Bytes of CSS inlined in `<style>` blocks of the page's <head>."
    head = BeautifulSoup(page.read_text(encoding='utf-8'), 'html.parser').head
    return sum(len(s.get_text().encode()) for s in head.find_all('style'))


def test_shared_css(site: Path):
    "nbconvert's notebook CSS is a file that every page links (a relative path that resolves from its folder), not inlined in each page."
    problems = []
    for page in sorted(site.rglob('*.html')):
        rel = page.relative_to(site).as_posix()
        links = [l['href'] for l in BeautifulSoup(page.read_text(encoding='utf-8'), 'html.parser').head.find_all('link', rel='stylesheet')]
        files = [f for h in links if (f := page.parent/h).is_file()]
        if not any('.jp-Notebook' in f.read_text(encoding='utf-8') for f in files): problems.append(f'{rel}: links no notebook CSS ({links})')
        if (n := _head_style_bytes(page)) > 20_000: problems.append(f'{rel}: {n:,} bytes of CSS inlined in <head>')
    assert not problems, '\n'.join(problems)


def test_link_shared_css_keeps_page_css():
    "Only the shared styles leave the page; a page's own style stays, and the link goes where the first shared style was."
    from build_site import link_shared_css
    soup = BeautifulSoup('<html><head><style>.own{}</style><style>.a{}</style><style>.b{}</style><link rel="stylesheet" href="site.css"/></head><body></body></html>', 'html.parser')
    link_shared_css(soup, {'.a{}', '.b{}'}, '../notebook.css')
    assert [(t.name, t.get('href') or t.string) for t in soup.head.find_all(True)] == [('style', '.own{}'), ('link', '../notebook.css'), ('link', 'site.css')]


_re_md_link_text = re.compile(r'\[[^\]\n]+\]\((?:https?:|[\w./-]+\.(?:html|ipynb)\b)[^)\s]*\)')   # a notebook target too: nbdev rewrites those it recognises


def test_signature_links():
    "A markdown link in a show_doc signature comment becomes an HTML link; other code and comments outside API blocks stay."
    from build_site import signature_links
    src = ('<div class="api-doc"><div class="highlight"><pre><span class="n">m</span><span class="p">,</span> '
           '<span class="c1"># a [`VAE`](https://x.io/api/model.html#vae) or [`AE`](model.html#ae), fitted</span>\n</pre></div></div>'
           '<pre><span class="c1"># [`VAE`](https://x.io)</span></pre>')
    soup = BeautifulSoup(src, 'html.parser')
    signature_links(soup)
    sig, other = soup.find_all('pre')
    assert sig.get_text() == 'm, # a VAE or AE, fitted\n'
    assert [(a['href'], a.string) for a in sig.select('span.c1 a')] == [('https://x.io/api/model.html#vae', 'VAE'), ('model.html#ae', 'AE')]
    assert other.get_text() == '# [`VAE`](https://x.io)'


def test_no_markdown_links_shown(site: Path):
    "No page shows markdown link syntax (`[VAE](https://...)`) as text, in API signatures or anywhere else."
    shown = []
    for page in sorted(site.rglob('*.html')):
        main = BeautifulSoup(page.read_text(encoding='utf-8'), 'html.parser').select_one('main')
        shown += [f'{page.relative_to(site).as_posix()}: {m}' for m in _re_md_link_text.findall(main.get_text())]
    assert not shown, '\n'.join(shown)


def test_heading_ids_api_first():
    "A show_doc block keeps its plain anchor (`#aetrainer`, where doc links point); a prose heading with the same text gets `-1`."
    from build_site import heading_ids
    soup = BeautifulSoup('<main><h2><code>AETrainer</code></h2><div class="api-doc"><h3>AETrainer</h3></div>'
                         '<h2>Notes</h2><h2>Notes</h2><h2>aetrainer 1</h2></main>', 'html.parser')
    heading_ids(soup.main)
    assert [h['id'] for h in soup.find_all(['h2', 'h3'])] == ['aetrainer-1', 'aetrainer', 'notes', 'notes-1', 'aetrainer-1-1']


def test_fragments_resolve(site: Path):
    "Every link to a place on a page (`training.html#fit`) finds an element with that id there: a doc link to a name with no card of its own (a private helper) would point nowhere."
    pages = {p.relative_to(site).as_posix(): BeautifulSoup(p.read_text(encoding='utf-8'), 'html.parser') for p in site.rglob('*.html')}
    ids = {page: {t['id'] for t in soup.find_all(id=True)} for page, soup in pages.items()}
    problems = []
    for page, soup in pages.items():
        for a in soup.find_all('a', href=True):
            u = urlsplit(a['href'])
            if u.scheme or u.netloc or not u.fragment: continue
            target = posixpath.normpath(posixpath.join(posixpath.dirname(page), unquote(u.path))) if u.path else page
            if target in ids and unquote(u.fragment) not in ids[target]: problems.append(f'{page}: {a["href"]} has no target')
    assert not problems, '\n'.join(problems)


def test_api_anchors(site: Path):
    "On every page each API block's heading has the plain slug of its name (the anchor nbdev's doc links use); ids are unique."
    from build_site import slug
    problems = []
    for page in sorted(site.rglob('*.html')):
        main = BeautifulSoup(page.read_text(encoding='utf-8'), 'html.parser').select_one('main')
        ids = [t['id'] for t in main.find_all(id=True)]
        problems += [f'{page.name}: id {i!r} repeated' for i in sorted(set(ids)) if ids.count(i) > 1]
        for h in main.select('div.api-doc :is(h1, h2, h3, h4, h5, h6)'):
            want = slug(h.get_text().rstrip('¶'))
            if h.get('id') != want: problems.append(f'{page.relative_to(site).as_posix()}: API block {want!r} has id {h.get("id")!r}')
    assert not problems, '\n'.join(problems)


def test_readme_title():
    "The README starts as the home page does: `# title`, then the page's description (its tagline) as a quote."
    from build_site import render_readme, process_notebooks, read_processed
    _, fm = read_processed(process_notebooks(NBS, only='index.ipynb')/'index.ipynb')
    assert fm.get('title') and fm.get('description'), f'nbs/index.ipynb has no title/description: {fm}'
    md, _ = render_readme(NBS)
    assert md.startswith(f'# {fm["title"]}\n\n> {fm["description"]}\n'), md[:300]


# ---------------------------------------------------------------- offline, search, private names (issue #24)
_EXTERNAL = re.compile(r'^\s*(?:https?:)?//', re.I)


def test_no_external_loads(site: Path):
    """No page loads a script, stylesheet, font, image or frame from another host (links to other sites are fine), and
    no CSS file of the site imports one: the site reads the same offline."""
    problems = []
    for page in sorted(site.rglob('*.html')):
        rel, soup = page.relative_to(site).as_posix(), BeautifulSoup(page.read_text(encoding='utf-8'), 'html.parser')
        for tag, attr in (('script', 'src'), ('img', 'src'), ('iframe', 'src'), ('source', 'src'), ('link', 'href')):
            for el in soup.find_all(tag, **{attr: True}):
                if tag == 'link' and not set(el.get('rel', [])) & {'stylesheet', 'icon', 'preload', 'modulepreload'}: continue
                if _EXTERNAL.match(el[attr]): problems.append(f'{rel}: <{tag} {attr}="{el[attr]}">')
        for sc in soup.find_all('script', src=False):
            if re.search(r'https?://', sc.get_text()): problems.append(f'{rel}: inline script names a URL: {sc.get_text()[:120]!r}')
    for css in sorted(site.rglob('*.css')):
        if m := re.search(r'(?:@import|url\()\s*["\']?(?:https?:)?//[^)"\';]*', css.read_text(encoding='utf-8')):
            problems.append(f'{css.relative_to(site).as_posix()}: {m[0]}')
    assert not problems, '\n'.join(problems)


_RAW_TEX = re.compile(r'\$\$|\\\(|\\\[|\$[^$\n]*[\\^_{][^$\n]*\$')  # TeX left as text: $$, \(, \[, or $..\..$


def _prose_text(main) -> str:
    "Text of `main` outside code, scripts and rendered KaTeX."
    for el in main.select('pre, code, script, style, .katex, .katex-display'): el.decompose()
    return main.get_text(' ')


def test_maths_offline(site: Path, doms: dict[str, str]):
    """With no other host reachable, every formula is rendered by the site's KaTeX: no TeX is left as text in the page,
    no formula fails to parse, and the site has the ~125 formulas its notebooks write."""
    from build_site import math_spans
    total, problems = 0, []
    for page, dom in doms.items():
        n = math_spans(BeautifulSoup((site/page).read_text(encoding='utf-8'), 'html.parser').select_one('main'))
        total += n
        main = BeautifulSoup(dom, 'html.parser').select_one('main')
        if main is None: problems.append(f'{page}: no <main>'); continue
        rendered, errors = len(main.select('.katex')), main.select('.katex-error')
        if n and rendered < n: problems.append(f'{page}: {n} formulas, {rendered} rendered')
        problems += [f'{page}: KaTeX error {e.get("title", "")[:100]!r}' for e in errors]
        problems += [f'{page}: raw TeX {m!r}' for m in _RAW_TEX.findall(_prose_text(main))[:3]]
    assert total >= 100, f'only {total} formulas found: the maths detection is broken'
    assert not problems, '\n'.join(problems)


def _search(index: list[dict], query: str) -> list[str]:
    "URLs of the entries where every word of `query` occurs (page title, section title or text), as site.js matches."
    words = query.lower().split()
    return [e['u'] for e in index if all(w in f"{e['p']} {e['s']} {e['t']}".lower() for w in words)]


def test_search_index(site: Path):
    "The site ships a search index covering every page, by section; a query finds the page that documents it."
    from build_site import read_search_index, SEARCH_INDEX
    assert (site/SEARCH_INDEX).exists(), f'no {SEARCH_INDEX} in the site'
    index = read_search_index(site/SEARCH_INDEX)
    pages = {p.relative_to(site).as_posix() for p in site.rglob('*.html')}
    assert {e['u'].split('#')[0] for e in index} == pages
    assert 'api/data.html#fit_scaler' in _search(index, 'fit_scaler')
    assert any(u.startswith('api/loss.html') for u in _search(index, 'kl divergence closed form'))
    assert _search(index, 'zzqx-no-such-word') == []


def test_search_in_browser(site: Path, chromium: str):
    "Typing a query (here `?q=`) into the search box of a page opened from file:// lists the page that documents it."
    dom = _chrome(chromium, '--virtual-time-budget=8000', '--dump-dom', (site/'api/loss.html').as_uri() + '?q=fit_scaler')
    results = BeautifulSoup(dom, 'html.parser').select('ul.site-search-results a')
    hrefs = [a['href'] for a in results]
    assert '../api/data.html#fit_scaler' in hrefs, f'search results: {hrefs}'


_PRIVATE = re.compile(r'(?:^|\.)_(?!_)')  # `_Detector.predict`, `VAE._apply`; `__call__` is not private


def test_toc_has_no_private_names(site: Path):
    "No page lists a private name (`_Detector.predict`) under \"On this page\": the pages show the public API."
    found = []
    for page in sorted(site.rglob('*.html')):
        toc = BeautifulSoup(page.read_text(encoding='utf-8'), 'html.parser').select('aside.site-toc a')
        found += [f'{page.relative_to(site).as_posix()}: {a.get_text()}' for a in toc if _PRIVATE.search(a.get_text().strip())]
    assert not found, '\n'.join(found)


def test_methods_documented_once(site: Path):
    "No page shows a method twice, once as `encode` and once as `VAE.encode` (a decorated `@patch` method did: nbdev's own doc cell took the wrapped function's name)."
    found = []
    for page in sorted(site.rglob('*.html')):
        toc = {a.get_text().strip() for a in BeautifulSoup(page.read_text(encoding='utf-8'), 'html.parser').select('aside.site-toc a')}
        found += [f'{page.relative_to(site).as_posix()}: {t}' for t in sorted(toc) if '.' in t and t.rsplit('.', 1)[1] in toc]
    assert not found, '\n'.join(found)


def test_toc_entries_skip_private():
    "The builder leaves private API names out of the table of contents; public names, dunders and prose headings stay."
    from build_site import toc_entries, is_private
    main = BeautifulSoup('<main><h2 id="a">A common base</h2><h3 id="b">_Detector.predict</h3><h3 id="c">VAE.__call__</h3>'
                         '<h3 id="d">VAE._apply</h3><h3 id="e">fit_scaler</h3></main>', 'html.parser').main
    assert [t for _, _, t in toc_entries(main)] == ['A common base', 'VAE.__call__', 'fit_scaler']
    assert is_private('_x') and not is_private('__init__') and not is_private('a_b.c_d')


def test_drop_external():
    "The template's CDN scripts (require.js, MathJax and its config, the mermaid loader) go; the page's own scripts stay."
    from build_site import drop_external
    soup = BeautifulSoup('<html><head><script src="https://cdn.x/require.min.js"></script><script src="//cdn.x/mathjax.js"></script>'
                         '<script type="text/x-mathjax-config">MathJax.Hub.Config({})</script>'
                         '<script type="module">const m = (await import("https://cdn.x/mermaid.mjs")).default;</script>'
                         '<link rel="stylesheet" href="https://cdn.x/a.css"/><script src="../site.js"></script>'
                         '<script>document.documentElement.classList.add("js")</script></head><body></body></html>', 'html.parser')
    drop_external(soup)
    assert [(t.name, t.get('src') or t.get_text()) for t in soup.head.find_all(True)] == [
        ('script', '../site.js'), ('script', 'document.documentElement.classList.add("js")')]


def test_progress_bars_dropped():
    "A tqdm bar (stderr frames redrawn with \\r) leaves the page; a warning on stderr stays."
    import nbformat
    from build_site import static_outputs
    bar = nbformat.v4.new_output('stream', name='stderr', text='\repochs:   0%|  | 0/2 [00:00<?, ?it/s]\repochs: 100%|##| 2/2 [00:00<00:00]\n')
    warn = nbformat.v4.new_output('stream', name='stderr', text='x.py:1: UserWarning: scale your data\n')
    assert static_outputs([bar, warn]) == [warn]


def test_no_stderr_boxes(site: Path):
    "No page shows an unintended stderr box: a warning printed from an `<ipython-input-...>` cell or a progress bar."
    shown = []
    for page in sorted(site.rglob('*.html')):
        soup = BeautifulSoup(page.read_text(encoding='utf-8'), 'html.parser')
        for box in soup.select('[data-mime-type="application/vnd.jupyter.stderr"]'):
            text = box.get_text()
            if '<ipython-input-' in text or re.search(r'\d+%\|', text): shown.append(f'{page.relative_to(site).as_posix()}: {text[:100]!r}')
    assert not shown, '\n'.join(shown)


def test_reader_furniture(site: Path):
    """Every page has the site name in its title, a favicon and a link to the repository that resolve, and
    previous/next links that follow the sidebar (the first page has no previous, the last no next)."""
    from build_site import project_config
    cfg = project_config(NBS)
    problems, chain = [], {}
    for page in sorted(site.rglob('*.html')):
        rel, soup = page.relative_to(site).as_posix(), BeautifulSoup(page.read_text(encoding='utf-8'), 'html.parser')
        if cfg.title not in soup.title.get_text(): problems.append(f'{rel}: title {soup.title.get_text()!r}')
        icon = soup.select_one('link[rel~="icon"]')
        if icon is None or not (page.parent/icon['href']).is_file(): problems.append(f'{rel}: no favicon')
        if not soup.select_one(f'nav.site-sidebar a[href="{cfg.git_url}"]'): problems.append(f'{rel}: no repository link')
        nxt = soup.select_one('nav.page-nav a.next')
        chain[rel] = posixpath.normpath(posixpath.join(posixpath.dirname(rel), nxt['href'])) if nxt else None
    assert not problems, '\n'.join(problems)
    walked, cur = [], 'index.html'
    while cur and cur not in walked: walked.append(cur); cur = chain.get(cur)
    assert sorted(walked) == sorted(chain), f'previous/next links do not reach every page once: {walked}'


def test_lesson_code_shown(site: Path):
    """The core pages show the lesson's code, open (`#| exports`, nbdev's `code-fold: show`), not only signatures:
    the VAE's methods, the loss's formulas, the trainer's loop and `fit`. Machinery stays hidden (`#| export`)."""
    def shown(page):
        soup = BeautifulSoup((site/page).read_text(encoding='utf-8'), 'html.parser')
        return ' '.join(d.get_text() for d in soup.select('details.code-fold[open]'))
    model, loss, training = shown('api/model.html'), shown('api/loss.html'), shown('api/training.html')
    for code in ('class VAE(nn.Module)', 'def reparameterize(', 'mu + torch.exp(0.5 * log_var) * eps', 'def sample('):
        assert code in model, code
    for code in ('(recon - x).pow(2).sum()', '-0.5 * (1 + log_var - mu.pow(2) - log_var.exp())', 'def vae_loss('):
        assert code in loss, code
    for code in ('def train_loop(', 'def fit(self: AETrainer'): assert code in training, code
    assert 'class FitSettings' not in training   # machinery: a card, no source


# ---------------------------------------------------------------- the Quarto path, publishing, the README's links
def test_quarto_config_in_step():
    """nbs/_quarto.yml (what `nbdev_docs` renders with on GitHub) uses the same offline maths, favicon and page
    furniture as tools/build_site.py: KaTeX from the site's own nbs/katex under the published base URL, Quarto's search,
    previous/next links, a repository link."""
    import yaml
    from build_site import project_config, KATEX, FAVICON
    q, cfg = yaml.safe_load((NBS/'_quarto.yml').read_text()), project_config(NBS)
    math = q['format']['html']['html-math-method']
    assert math['method'] == 'katex' and math['url'] == f"{cfg.doc_baseurl.rstrip('/')}/{KATEX}/", math
    assert all((NBS/KATEX/f).is_file() for f in ('katex.min.js', 'katex.min.css', 'auto-render.min.js'))
    assert f'{KATEX}/**' in q['project']['resources']
    assert q['website']['favicon'] == FAVICON and (NBS/FAVICON).is_file()
    assert q['website']['page-navigation'] is True and q['website']['navbar']['search'] is True
    assert any(i.get('href') == cfg.git_url for i in q['website']['navbar']['right'])


def test_workflows_publish_the_site():
    "nbdev's standard workflows are there: CI on every push, and the docs deployed to gh-pages from main."
    import yaml
    wf = ROOT/'.github'/'workflows'
    test, deploy = (yaml.safe_load((wf/f).read_text()) for f in ('test.yaml', 'deploy.yaml'))
    assert [s['uses'] for s in test['jobs']['test']['steps']] == ['answerdotai/workflows/nbdev-ci@master']
    assert [s['uses'] for s in deploy['jobs']['deploy']['steps']] == ['answerdotai/workflows/quarto-ghp@master']
    assert 'main' in deploy[True]['push']['branches'] and deploy['permissions']['contents'] == 'write'  # YAML reads `on` as True


def test_readme_links_resolve():
    "Every relative link and image in README.md points at a file of the repository (notebooks by path, not site URLs)."
    md = (ROOT/'README.md').read_text(encoding='utf-8')
    refs = re.findall(r'\]\(([^)\s]+)\)', md)
    rel = [r for r in refs if not re.match(r'^[a-z]+:|#', r)]
    assert any(r.endswith('.ipynb') for r in rel), 'the README links no notebook'
    missing = [r for r in rel if not (ROOT/unquote(r.split('#')[0])).exists()]
    assert not missing, missing
    # a link to a whole page (no `#name`, which nbdev's API links to the published docs carry) goes to the notebook
    assert not re.findall(r'\]\(https?://[^)\s]+/[\w/]+\.html\)', md), 'a notebook link points at the site, not the notebook'
