"""Browser test of the static docs site built by `tools/build_site.py`, and a README freshness test.

Builds the site from `nbs/` into a temp dir (or, with `PUFFIN_SITE_DIR=_docs`, uses a site just built there;
a relative path is relative to the repo root), serves it on localhost and loads every page in headless
Chromium (`--dump-dom`): each page must show the sidebar with links to every page, and no local link or
image may point at a missing file. Screenshots of the home page and a recipe page go to `artifacts/`.
Chromium comes from `tools/ensure_chromium.sh`; if it is missing the browser tests fail in CI (CI=true)
and are skipped locally. Checks of the built HTML need no browser: the notebook CSS is one linked file, no page shows
markdown link syntax as text, and API blocks own their anchors (`#aetrainer`); the README opens with the tagline.
"""
from __future__ import annotations

import functools, os, re, shutil, subprocess, sys, tempfile, threading
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
         '--disable-component-update', '--disable-sync', '--hide-scrollbars']
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


def test_site_pages(site: Path, server: str, chromium: str):
    "Every page loads in Chromium, has the full sidebar, and has no broken local links or images."
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob('*.html'))
    assert 'index.html' in pages and len(pages) > 1, pages
    with ThreadPoolExecutor(2) as ex: doms = dict(zip(pages, ex.map(lambda p: _chrome(chromium, '--dump-dom', server + p), pages)))
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
    "Screenshots of the home page and a recipe page, saved into artifacts/."
    ARTIFACTS.mkdir(exist_ok=True)
    recipes = sorted(p.relative_to(site).as_posix() for p in site.glob('recipes/*.html'))
    others = sorted(p.relative_to(site).as_posix() for p in site.rglob('*.html') if p.name != 'index.html')
    shots = {'home.png': 'index.html', 'recipe.png': (recipes or others)[0]}
    for name, page in shots.items():
        out = ARTIFACTS/name
        out.unlink(missing_ok=True)
        _chrome(chromium, f'--screenshot={out}', '--window-size=1280,1600', server + page)
        assert out.exists() and out.stat().st_size > 10_000, f'screenshot of {page} missing or blank'


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


_re_md_link_text = re.compile(r'\[[^\]\n]+\]\((?:https?:|[\w./-]+\.html)[^)\s]*\)')


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
