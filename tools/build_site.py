"""Build the nbdev documentation site and README.md without Quarto.

`nbdev_docs`/`nbdev_readme` need Quarto; where Quarto is installed they stay the documented commands.
This script produces an equivalent from the same notebooks:

1. nbdev's own processing (`nbdev.serve.proc_nbs`) writes processed notebooks to `_proc/`
   (`#| hide`, `#| export`, frontmatter, `show_doc` rendered to markdown, doc links, ...);
2. the Quarto cell options nbdev leaves behind (`echo`, `output`, `include`) and Quarto fenced divs
   (`::: {.callout-note}`) are applied here;
3. nbconvert's `lab` template renders each page; a sidebar read from `nbs/sidebar.yml` (Quarto's file),
   a page header and an "On this page" list are added, and links to notebooks become links to pages.
   The template's CSS, the same for every page, is written once (`notebook.css`) and linked;
4. pages work offline and from `file://`: the template's CDN scripts (require.js, MathJax, mermaid) are dropped, maths
   is rendered by KaTeX from `nbs/katex/` (vendored, shared with Quarto), and a full-text search reads
   `search-index.js`, written here from the finished pages. Private names (`_Detector.predict`) stay out of
   "On this page"; pages get previous/next links, the site name in their title, a favicon and a repository link.

    python tools/build_site.py                # site into _docs/ (settings.ini `doc_path`)
    python tools/build_site.py --readme       # README.md from nbs/index.ipynb (settings.ini `readme_nb`)
    python tools/build_site.py --readme --check   # exit 1 if README.md is stale
"""
from __future__ import annotations

import argparse, base64, contextlib, html, io, json, posixpath, re, shutil, sys
from pathlib import Path
from collections.abc import Iterator
from urllib.parse import urlsplit

import nbformat, yaml
from bs4 import BeautifulSoup, Tag
from fastcore.xtras import working_directory
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import markdown2html_mistune
from nbdev.config import get_config
from nbdev.doclinks import _nbpath2html, nbglob
from nbdev import serve_drv
from nbdev.processors import FilterDefaults
from nbdev.quarto import nbdev_sidebar
from nbdev.serve import proc_nbs

ASSETS = Path(__file__).parent/'site_assets'
SHARED_CSS = 'notebook.css'  # nbconvert's template CSS, written once into the site instead of inlined in every page
SITE_JS = 'site.js'  # menu button, KaTeX auto-render, search box (tools/site_assets/site.js)
SEARCH_INDEX = 'search-index.js'  # `window.PUFFIN_SEARCH = [...]`: a script, not JSON, so that file:// pages can load it
KATEX = 'katex'  # folder of nbs/ with the vendored KaTeX (copied like any asset; Quarto's html-math-method points at it)
FAVICON = 'favicon.svg'  # in nbs/, for both builders
PAGE_EXTS = ('.ipynb',)  # only notebooks become pages (no .qmd/.md pages in this project)
SKIP_ASSETS = {'.ipynb', '.yml', '.yaml', '.py', '.qmd', '.md', '.pyc'}
CALLOUT_TITLES = dict(note='Note', tip='Tip', warning='Warning', caution='Caution', important='Important')
_re_opt = re.compile(r'^\s*#\|\s*([\w-]+)\s*:\s*(.*?)\s*$')
_re_fence = re.compile(r'^\s*(:{3,})\s*(.*?)\s*$')
_re_link_attrs = re.compile(r'\[([^\]]*)\]\(([^)\s]+)\)\{([^}]*)\}')  # pandoc `[text](url){target="_blank"}`
_re_md_link = re.compile(r'\[([^\]]+)\]\(([^)\s]+)\)')


# ---------------------------------------------------------------- nbdev processing
def project_config(nbs_path: Path):
    "nbdev config of the project that contains `nbs_path` (settings.ini is searched upwards from it)."
    with working_directory(nbs_path): return get_config()


def source_notebooks(nbs_path: Path) -> list[str]:
    "Notebooks nbdev would render, as posix paths relative to `nbs_path` (same skip rules as `nbdev_sidebar`)."
    with working_directory(nbs_path):
        files = nbglob(nbs_path, func=Path, file_re=r'\.ipynb$', skip_folder_re=r'(?:^[_.]|^www\$)')
    return sorted(Path(f).relative_to(nbs_path).as_posix() for f in files)


def process_notebooks(nbs_path: Path, force: bool = False, only: str | None = None) -> Path:
    """Run nbdev's notebook processing (no Quarto needed) into `_proc/`, which it returns.
    `only`: process just this notebook (relative to `nbs_path`), the way `nbdev_preview` reprocesses one file."""
    with working_directory(nbs_path), contextlib.redirect_stdout(io.StringIO()):
        if only is None: return Path(proc_nbs(str(nbs_path), force=force))
        cache = get_config().config_path/'_proc'
        (cache/only).parent.mkdir(parents=True, exist_ok=True)
        serve_drv.main((nbs_path/only, cache/only, FilterDefaults))
        return cache


def read_processed(path: Path) -> tuple[nbformat.NotebookNode, dict]:
    "Read a processed notebook and pop the YAML frontmatter cell nbdev put first."
    nb = nbformat.read(path, as_version=4)
    fm = {}
    if nb.cells and nb.cells[0].cell_type == 'raw' and nb.cells[0].source.lstrip().startswith('---'):
        fm = yaml.safe_load(nb.cells.pop(0).source.strip().strip('-')) or {}
    return nb, fm


def page_map(proc: Path, rels: list[str]) -> dict[str, tuple[str, dict]]:
    "Map each notebook path (relative to nbs) to its page path (`output-file`, as Quarto names it) and frontmatter."
    res = {}
    for rel in rels:
        _, fm = read_processed(proc/rel)
        out = posixpath.join(posixpath.dirname(rel), fm['output-file']) if 'output-file' in fm else _nbpath2html(Path(rel)).as_posix()
        res[rel] = (out, fm)
    return res


# ---------------------------------------------------------------- Quarto cell options and fenced divs
def split_options(src: str) -> tuple[dict, str]:
    "Split the leading `#| key: value` Quarto options off a code cell."
    lines, opts = src.splitlines(), {}
    while lines and (m := _re_opt.match(lines[0])):
        opts[m[1]] = m[2].strip('\'"').lower()
        lines.pop(0)
    return opts, '\n'.join(lines).strip('\n')


def _asis(cell) -> str:
    "Markdown of an `output: asis` cell (what Quarto would splice into the page)."
    outs = []
    for o in cell.get('outputs', []):
        d = o.get('data', {})
        if 'text/markdown' in d: outs.append(d['text/markdown'])
        elif o.get('output_type') == 'stream': outs.append(o.get('text', ''))
    return '\n\n'.join(outs)


_WIDGET = 'application/vnd.jupyter.widget-view+json'
_WIDGET_NOTE = '*An interactive widget: it needs a running notebook (open this page as a notebook to use it).*'
_re_ansi = re.compile(r'\x1b\[[0-9;]*[A-Za-z]')
_re_progress = re.compile(r'\d+%\||\d+/\d+ \[\d')  # tqdm's `42%|####` and `2/2 [00:00<...` frames


def is_progress(o) -> bool:
    "A stderr stream that is a progress bar's frames (tqdm redraws with `\\r`): noise on a static page."
    text = o.get('text', '')
    return o.get('output_type') == 'stream' and o.get('name') == 'stderr' and '\r' in text and bool(_re_progress.search(text))


def static_outputs(outputs: list) -> list:
    """Outputs worth a place on a static page: a widget (it needs a live kernel) becomes a note instead of its text repr,
    and streams that hold only terminal control codes (a cleared progress bar, a widget's `clear_output`) or a progress
    bar's frames on stderr are dropped. Other stderr (a warning the page means to show) stays."""
    keep = []
    for o in outputs:
        if _WIDGET in o.get('data', {}):
            keep.append(nbformat.v4.new_output('display_data', data={'text/markdown': _WIDGET_NOTE}))
        elif o.get('output_type') == 'stream' and not _re_ansi.sub('', o.get('text', '')).replace('\r', '').strip(): continue
        elif is_progress(o): continue
        else: keep.append(o)
    return keep


def apply_cell_options(nb) -> list:
    """Apply Quarto cell options left by nbdev: `include: false` drops the cell, `echo: false` hides the code,
    `output: false` drops the outputs, `output: asis` turns markdown outputs (e.g. `show_doc`) into markdown.
    A `show_doc` block seen before on the page is dropped (nbdev adds one for each `@patch`ed method that an explicit
    `show_doc` documents too)."""
    cells, docs = [], set()
    for cell in nb.cells:
        if cell.cell_type != 'code': cells.append(cell); continue
        opts, src = split_options(cell.source)
        if opts.get('include') == 'false': continue
        cell.source = src
        cell.outputs = static_outputs(cell.get('outputs', []))
        echo = opts.get('echo', 'true') != 'false' and bool(src.strip())
        if opts.get('output') == 'false': cell.outputs = []
        if opts.get('output') == 'asis':
            md = nbformat.v4.new_markdown_cell(_asis(cell), id=f"{cell.get('id', len(cells))}-md")  # a fixed id: the same page every build
            md.metadata['api_doc'] = src.lstrip().startswith('show_doc')
            if md.metadata['api_doc']:
                if md.source in docs: continue
                docs.add(md.source)
            if echo: cell.outputs = []; cells.append(cell)
            cells.append(md); continue
        if not echo:
            if not cell.outputs: continue
            cell.metadata.setdefault('transient', {})['remove_source'] = True
        elif opts.get('code-fold', 'false') != 'false':  # nbdev folds `#| exports` source (`show`: open): <details> in finish_page
            cell.metadata['tags'] = cell.metadata.get('tags', []) + ['code-fold'] + (['code-fold-open'] if opts['code-fold'] == 'show' else [])
        cells.append(cell)
    return cells


def _div_attrs(spec: str) -> tuple[list[str], dict]:
    "Classes and key=value attributes of a pandoc fenced div (`{.callout-tip title=\"Hi\"}` or `callout-tip`)."
    spec = spec.strip().strip('{}')
    attrs = dict((k, a or b) for k, a, b in re.findall(r'([\w-]+)=(?:"([^"]*)"|(\S+))', spec))
    spec = re.sub(r'[\w-]+=(?:"[^"]*"|\S+)', '', spec)
    return [c.lstrip('.') for c in spec.split() if not c.startswith('#')], attrs


def fenced_divs(md: str, gfm: bool = False) -> str:
    """Turn Quarto fenced divs into HTML divs (site) or GitHub alerts (README, `gfm=True`).
    Callouts get a title: the `title` attribute, a first `## heading` inside, or the callout type."""
    out, stack, lines = [], [], md.splitlines()
    i = 0
    while i < len(lines):
        line, m = lines[i], _re_fence.match(lines[i])
        i += 1
        if not m: out.append(('> ' + line).rstrip() if gfm and 'callout' in stack else line); continue
        if not m[2]:  # closing fence
            if not stack: out.append(line); continue
            kind = stack.pop()
            if not gfm: out += ['', '</div>' if kind == 'div' else '</div></div>', '']
            else: out.append('')
            continue
        classes, attrs = _div_attrs(m[2])
        callout = next((c[8:] for c in classes if c.startswith('callout-')), None)
        if callout is None:
            stack.append('div')
            if not gfm: out += ['', f'<div class="{html.escape(" ".join(classes))}">', '']
            continue
        title = attrs.get('title')
        if title is None and i < len(lines) and (h := re.match(r'^#{1,6}\s+(.*?)\s*$', lines[i])): title, i = h[1], i + 1
        stack.append('callout')
        if gfm:
            out += ['', f'> [!{callout.upper()}]'] + ([f'> **{title}**', '>'] if title else [])
        else:
            title = html.escape(title or CALLOUT_TITLES.get(callout, callout.title()))
            out += ['', f'<div class="callout callout-{callout}"><div class="callout-title">{title}</div>',
                    '<div class="callout-body">', '']
    return '\n'.join(out)


def link_attrs(md: str, gfm: bool = False) -> str:
    "Pandoc link attributes (nbdev's `[source](url){target=...}`): an HTML link for the site, dropped for GitHub."
    def f(m: re.Match) -> str:
        if gfm: return f'[{m[1]}]({m[2]})'
        classes, attrs = _div_attrs(m[3])
        if classes: attrs['class'] = ' '.join(classes)
        extra = ''.join(f' {k}="{html.escape(v)}"' for k, v in attrs.items())
        return f'<a href="{html.escape(m[2])}"{extra}>{m[1]}</a>'
    return _re_link_attrs.sub(f, md)


def slug(text: str) -> str:
    "Pandoc/Quarto heading id: lowercase, punctuation except `_-.` dropped, spaces to hyphens."
    s = re.sub(r'[^\w\s.-]', '', text.strip().lower())
    s = re.sub(r'^[^a-z]+', '', re.sub(r'\s+', '-', s))
    return s or 'section'


# ---------------------------------------------------------------- sidebar
def load_sidebar(nbs_path: Path) -> list:
    "Sidebar `contents` from `nbs/sidebar.yml` (what Quarto reads), or nbdev's generated one if there is none."
    p = nbs_path/'sidebar.yml'
    if p.exists(): text = p.read_text()
    else:  # nbdev_sidebar(printit=True) prints the YAML instead of writing into nbs/
        with working_directory(nbs_path), contextlib.redirect_stdout(io.StringIO()) as f:
            nbdev_sidebar.__wrapped__(path=str(nbs_path), printit=True, force=True)
        text = f.getvalue()
    sb = (yaml.safe_load(text) or {}).get('website', {}).get('sidebar', {})
    if isinstance(sb, list): sb = sb[0] if sb else {}
    contents = sb.get('contents', [])
    return contents if isinstance(contents, list) else []


def _page_href(target: str, cur: str) -> str:
    "Relative URL from page `cur` to page `target` (both relative to the site root)."
    return posixpath.relpath(target, posixpath.dirname(cur) or '.')


_GITHUB_ICON = ('<svg viewBox="0 0 16 16" width="20" height="20" aria-hidden="true"><path fill="currentColor" d="M8 0C3.58 0 0 '
                '3.58 0 8c0 3.54 2.29 6.53 5.47 7.59.4.07.55-.17.55-.38 0-.19-.01-.82-.01-1.49-2.01.37-2.53-.49-2.69-.94-.09-.23'
                '-.48-.94-.82-1.13-.28-.15-.68-.52-.01-.53.63-.01 1.08.58 1.23.82.72 1.21 1.87.87 2.33.66.07-.52.28-.87.51-1.07-1.78'
                '-.2-3.64-.89-3.64-3.95 0-.87.31-1.59.82-2.15-.08-.2-.36-1.02.08-2.12 0 0 .67-.21 2.2.82.64-.18 1.32-.27 2-.27.68 0 '
                '1.36.09 2 .27 1.53-1.04 2.2-.82 2.2-.82.44 1.1.16 1.92.08 2.12.51.56.82 1.27.82 2.15 0 3.07-1.87 3.75-3.65 3.95.29.25'
                '.54.73.54 1.48 0 1.07-.01 1.93-.01 2.2 0 .21.15.46.55.38A8.013 8.013 0 0016 8c0-4.42-3.58-8-8-8z"/></svg>')


def page_order(contents: list, pages: dict) -> list[str]:
    "Page paths (site-relative) in sidebar order, each once: what previous/next links follow."
    order = []
    def walk(items):
        for e in items or []:
            if isinstance(e, str): e = {'href': e}
            href = str(e.get('href', ''))
            if href in pages and pages[href][0] not in order: order.append(pages[href][0])
            walk(e.get('contents'))
    walk(contents)
    return order


def pager_html(order: list[str], titles: dict[str, str], cur_out: str) -> str:
    "Previous/next links at the foot of page `cur_out`, in sidebar order."
    if cur_out not in order: return ''
    i, links = order.index(cur_out), []
    for j, cls, label in ((i - 1, 'prev', 'Previous'), (i + 1, 'next', 'Next')):
        if 0 <= j < len(order):
            links.append(f'<a class="{cls}" rel="{cls}" href="{_page_href(order[j], cur_out)}"><span class="pager-label">{label}</span>'
                         f'<span class="pager-title">{html.escape(titles[order[j]])}</span></a>')
    return f'<nav class="page-nav" aria-label="Previous and next page">{"".join(links)}</nav>' if links else ''


def sidebar_html(contents: list, pages: dict, cur_out: str, title: str, repo_url: str = '') -> str:
    """HTML `<nav>` for the sidebar of page `cur_out`: the site name, a link to the repository, a search box and the
    pages. On a narrow screen the list of pages folds behind a menu button (site.css, site.js)."""
    def entry(e) -> str:
        if isinstance(e, str): e = {'href': e}
        if 'section' in e:
            sec = html.escape(str(e['section']))
            head = f'<a href="{_page_href(pages[e["href"]][0], cur_out)}">{sec}</a>' if e.get('href') in pages else sec
            items = ''.join(entry(x) for x in e.get('contents') or [])
            return f'<li class="sidebar-section"><span class="sidebar-section-title">{head}</span><ul>{items}</ul></li>'
        href = str(e.get('href', ''))
        out, fm = pages.get(href, (_nbpath2html(Path(href)).as_posix() if href.endswith(PAGE_EXTS) else href, {}))
        text = html.escape(str(e.get('text') or fm.get('title') or Path(href).stem))
        cls = ' class="active"' if out == cur_out else ''
        url = href if urlsplit(href).scheme else _page_href(out, cur_out)
        return f'<li><a{cls} href="{html.escape(url)}">{text}</a></li>'
    home = _page_href('index.html', cur_out)
    repo = (f'<a class="site-repo" href="{html.escape(repo_url)}" title="Source on GitHub" aria-label="Source on GitHub">'
            f'{_GITHUB_ICON}</a>') if repo_url else ''
    return (f'<nav class="site-sidebar" id="site-nav" aria-label="Site navigation"><div class="site-brand">'
            f'<a class="site-title" href="{home}">{html.escape(title)}</a>{repo}'
            '<button class="site-menu-button" type="button" aria-expanded="false" aria-controls="site-nav-list">Menu</button></div>'
            '<div class="site-search" role="search"><input type="search" id="site-search-input" placeholder="Search the docs"'
            ' aria-label="Search the docs" autocomplete="off" spellcheck="false"/><ul class="site-search-results" hidden></ul></div>'
            f'<ul class="site-nav-list" id="site-nav-list">{"".join(entry(e) for e in contents)}</ul></nav>')


# ---------------------------------------------------------------- pages
def rewrite_href(href: str, cur_rel: str, pages: dict, site_url: str) -> str:
    "Notebook links (`../api/00_model.ipynb#x`) and absolute links into the published site become relative page URLs."
    cur_out = pages[cur_rel][0]
    if site_url and href.startswith(site_url + '/'):
        return _page_href(href[len(site_url) + 1:] or 'index.html', cur_out)
    u = urlsplit(href)
    if u.scheme or u.netloc or not u.path.endswith(PAGE_EXTS): return href
    target = posixpath.normpath(posixpath.join(posixpath.dirname(cur_rel), u.path))
    out = pages[target][0] if target in pages else _nbpath2html(Path(target)).as_posix()
    return _page_href(out, cur_out) + (f'#{u.fragment}' if u.fragment else '')


def heading_ids(main: Tag) -> None:
    """Quarto-style heading ids, so that `page.html#the-plot` links agree; a repeated slug gets `-1`, `-2`, ...
    API blocks (`show_doc`) get theirs first: nbdev's doc links point at `#name`, so a prose heading with the same text
    (`## AETrainer` above the class's block) is the one that gets the suffix."""
    heads = main.find_all(re.compile('^h[1-6]$'))
    api = [h for h in heads if h.find_parent('div', class_='api-doc')]
    api_ids = {id(h) for h in api}
    taken: set[str] = set()
    for h in api + [h for h in heads if id(h) not in api_ids]:
        a = h.find('a', class_='anchor-link')
        if a: a.extract()
        sid = hid = slug(h.get_text())
        n = 0
        while hid in taken: n += 1; hid = f'{sid}-{n}'
        taken.add(hid)
        h['id'] = hid
        if a: a['href'] = '#' + hid; h.append(a)


def signature_links(soup: BeautifulSoup) -> None:
    """Markdown links in the comments of `show_doc` signatures (nbdev's docments, `x:int, # an [`VAE`](url)`),
    which the markdown renderer leaves as code text, become HTML links; the code around them is kept as it is."""
    for span in soup.select('div.api-doc pre span.c1, div.api-doc pre span.c'):  # pygments comment tokens
        text = span.get_text()
        if not _re_md_link.search(text): continue
        span.clear()
        pos = 0
        for m in _re_md_link.finditer(text):
            a = soup.new_tag('a', href=m[2])
            a.string = m[1].strip('`')
            span.extend([text[pos:m.start()], a])
            pos = m.end()
        span.append(text[pos:])


def link_shared_css(soup: BeautifulSoup, shared: set[str], href: str) -> None:
    "Replace the page's inline copies of the shared CSS with one `<link>` to it, where the first copy was."
    styles = [s for s in soup.head.find_all('style') if s.string in shared]
    if not styles: return
    styles[0].insert_before(soup.new_tag('link', rel='stylesheet', href=href))
    for s in styles: s.decompose()


def template_css(exporter: HTMLExporter) -> list[str]:
    "The `<style>` blocks nbconvert's template puts in every page's head (JupyterLab, pygments, mermaid), in order."
    body, _ = exporter.from_notebook_node(nbformat.v4.new_notebook(), resources={'metadata': {'name': 'css'}})
    return [s.string for s in BeautifulSoup(body, 'html.parser').head.find_all('style')]


def is_private(name: str) -> bool:
    "A private API name: some dotted part starts with `_` (`_Detector.predict`, `VAE._apply`); dunders (`__call__`) are public."
    return any(p.startswith('_') and not (p.startswith('__') and p.endswith('__')) for p in name.strip().split('.'))


def toc_entries(main: Tag) -> list[tuple[str, str, str]]:
    "(level, id, text) of the h2/h3 headings for \"On this page\", without private names (tests of helpers, not the API)."
    toc = [(h.name, h['id'], h.get_text().rstrip('¶').strip()) for h in main.find_all(['h2', 'h3']) if h.get('id')]
    return [t for t in toc if not is_private(t[2])]


def _is_external(url: str) -> bool:
    return url.strip().startswith(('http:', 'https:', '//'))


def drop_external(soup: BeautifulSoup) -> None:
    """Remove what nbconvert's template loads from CDNs: require.js, MathJax and its config, the mermaid and widget
    loaders, and any other script or stylesheet from another host. Maths is KaTeX from the site (`site.js`)."""
    for s in soup.find_all('script'):
        src, text = s.get('src', ''), s.string or ''
        if (src and _is_external(src)) or s.get('type') == 'text/x-mathjax-config' or 'MathJax' in text \
                or re.search(r'import\(\s*["\']https?:', text) or re.search(r'["\']https?://[^"\']+\.m?js', text):
            s.decompose()
    for l in soup.find_all('link', href=True):
        if _is_external(l['href']) and set(l.get('rel', [])) & {'stylesheet', 'preload', 'modulepreload', 'icon'}: l.decompose()


_re_math = re.compile(r'\$\$.+?\$\$|\\\(.+?\\\)|\\\[.+?\\\]|(?<![\\$])\$[^$\s][^$\n]*?\$', re.S)


def _walk(root: Tag, marks) -> Iterator:
    """Every element under `root` in document order (a tag before what it holds), each with `marks(tag)`'s flags OR-ed
    over the tags that enclose it, `root` and above included: one walk down the tree, where asking each string for its
    ancestors costs a walk up per string (it made the search index and the maths check most of the site's build time)."""
    above = [marks(t) for t in [root, *root.parents] if isinstance(t, Tag)]
    stack = [(c, tuple(map(any, zip(*above)))) for c in reversed(root.contents)]
    while stack:
        el, flags = stack.pop()
        yield el, flags
        if isinstance(el, Tag):
            inner = tuple(a or b for a, b in zip(flags, marks(el)))
            stack.extend((c, inner) for c in reversed(el.contents))


def math_spans(main: Tag) -> int:
    "Number of TeX spans (`$...$`, `$$...$$`, `\\(...\\)`) in the page's text outside code: what KaTeX will render."
    code = ('pre', 'code', 'script', 'style')
    text = ' '.join(el for el, (in_code,) in _walk(main, lambda tag: (tag.name in code,)) if not isinstance(el, Tag) and not in_code)
    return len(_re_math.findall(text))


def index_sections(main: Tag, url: str, title: str) -> list[dict]:
    """Search entries of a finished page: one per h2/h3 section (the page's top before the first), with its URL, the
    page and section titles, and the section's text (prose, API docs and code; cell outputs left out)."""
    secs = [{'u': url, 'p': title, 's': '', 't': []}]
    left_out = ('h2', 'h3', 'script', 'style', 'header')   # headings are the sections' titles; cell outputs are left out too
    marks = lambda tag: (tag.name in left_out or 'jp-OutputArea' in (tag.get('class') or []), tag.name == 'pre')   # left out, code
    for el, (out_, pre) in _walk(main, marks):
        if isinstance(el, Tag):
            if el.name in ('h2', 'h3') and el.get('id') and not is_private(el.get_text()):
                secs.append({'u': f'{url}#{el["id"]}', 'p': title, 's': el.get_text().rstrip('¶').strip(), 't': []})
        elif el.strip() and not out_:
            secs[-1]['t'].append(str(el) if pre else f' {el} ')  # code keeps its own spacing
    out = []
    for sec in secs:
        sec['t'] = re.sub(r'\s+', ' ', ''.join(sec['t'])).strip()
        if sec['t'] or sec['s']: out.append(sec)
    return out


def finish_page(body: str, rel: str, pages: dict, sidebar: str, site_url: str, css: list[str],
                shared_css: set[str] | None = None, site_title: str = '', pager: str = '',
                index: list | None = None) -> str:
    """Add sidebar, header, CSS and a table of contents to nbconvert's HTML; fix heading ids and links; drop CDN
    scripts and load KaTeX (when the page has maths) and `site.js` from the site. Inline styles in `shared_css` are
    replaced by a link to `SHARED_CSS`; `pager` (previous/next links) goes at the foot of the page; the page's
    search entries are appended to `index`."""
    soup = BeautifulSoup(body, 'html.parser')
    out, fm = pages[rel]
    main = soup.body.find('main')
    main['class'] = 'site-main'
    heading_ids(main)
    toc = toc_entries(main)
    signature_links(soup)
    for cell in main.select('div.celltag_code-fold'):
        inp = cell.select_one('.jp-Cell-inputWrapper')
        if inp is None: continue
        det = soup.new_tag('details', attrs={'class': 'code-fold'} | ({'open': ''} if 'celltag_code-fold-open' in cell.get('class', []) else {}))
        summary = soup.new_tag('summary'); summary.string = 'Exported source'
        inp.wrap(det); det.insert(0, summary)
    for a in soup.find_all('a', href=True): a['href'] = rewrite_href(a['href'], rel, pages, site_url)
    drop_external(soup)
    if shared_css: link_shared_css(soup, shared_css, _page_href(SHARED_CSS, out))
    page_title = str(fm.get('title', Path(rel).stem))
    if soup.head.title is None: soup.head.append(soup.new_tag('title'))
    soup.head.title.string = page_title if page_title == site_title or not site_title else f'{page_title} – {site_title}'
    if fm.get('description'): soup.head.append(soup.new_tag('meta', attrs={'name': 'description', 'content': str(fm['description'])}))
    soup.head.append(soup.new_tag('link', rel='icon', type='image/svg+xml', href=_page_href(FAVICON, out)))
    js = soup.new_tag('script'); js.string = "document.documentElement.classList.add('js')"  # the menu folds only with JS on
    soup.head.append(js)
    if math_spans(main):
        soup.head.append(soup.new_tag('link', rel='stylesheet', href=_page_href(f'{KATEX}/katex.min.css', out)))
        for f in ('katex.min.js', 'auto-render.min.js'):
            soup.head.append(soup.new_tag('script', src=_page_href(f'{KATEX}/{f}', out), defer=''))
    for c in css:
        soup.head.append(soup.new_tag('link', rel='stylesheet', href=_page_href(c, out)))
    soup.head.append(soup.new_tag('script', src=_page_href(SITE_JS, out), defer=''))
    soup.body['data-root'] = _page_href('index.html', out)[:-len('index.html')]
    header = f'<header class="page-header"><h1 class="title">{html.escape(page_title)}</h1>'
    if fm.get('description'):  # markdown, as in Quarto
        desc = re.sub(r'^<p>|</p>\s*$', '', markdown2html_mistune(str(fm['description'])).strip())
        header += f'<p class="description">{desc}</p>'
    if index is not None: index.extend(index_sections(main, out, page_title))
    main.insert(0, BeautifulSoup(header + '</header>', 'html.parser'))
    if pager: main.append(BeautifulSoup(pager, 'html.parser'))
    main.insert_before(BeautifulSoup(sidebar, 'html.parser'))
    if toc:
        items = ''.join(f'<li class="toc-{n}"><a href="#{i}">{html.escape(t).replace(".", ".<wbr/>")}</a></li>' for n, i, t in toc)  # long names break after a dot
        main.insert_after(BeautifulSoup(f'<aside class="site-toc"><h2>On this page</h2><ul>{items}</ul></aside>', 'html.parser'))
    soup.body['class'] = soup.body.get('class', []) + ['site']
    return str(soup)


def render_page(exporter: HTMLExporter, proc_nb: Path, title: str) -> str:
    "nbconvert HTML for one processed notebook, with cell options and fenced divs applied."
    nb, _ = read_processed(proc_nb)
    nb.cells = apply_cell_options(nb)
    for c in nb.cells:
        if c.cell_type != 'markdown': continue
        c.source = link_attrs(fenced_divs(c.source))
        if c.metadata.pop('api_doc', False): c.source = f'<div class="api-doc">\n\n{c.source}\n\n</div>'
    nb.metadata['title'] = title
    wkey = 'application/vnd.jupyter.widget-state+json'  # nbdev adds an empty widget state: skip the CDN widget loader then
    if not nb.metadata.get('widgets', {}).get(wkey, {}).get('state'): nb.metadata.pop('widgets', None)
    body, _ = exporter.from_notebook_node(nb, resources={'metadata': {'name': title}})
    return body


def copy_assets(nbs_path: Path, out_path: Path) -> list[str]:
    "Copy non-notebook files of `nbs/` (images, styles.css, ...) into the site; returns copied CSS files."
    css = []
    for p in sorted(nbs_path.rglob('*')):
        rel = p.relative_to(nbs_path)
        if not p.is_file() or p.suffix in SKIP_ASSETS or any(o[0] in '._' for o in rel.parts): continue
        (out_path/rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(p, out_path/rel)
        if rel.as_posix() == 'styles.css': css.append('styles.css')
    return css


def _unsanitised(html_text: str) -> str:
    """nbconvert's `clean_html` filter, switched off: the pages are this project's own notebooks, and bleach's pass over
    every cell changed no byte of them (checked on all 34 pages) while taking about a tenth of the build's CPU time."""
    return html_text

def build_site(nbs_path: str | Path = 'nbs', out_path: str | Path | None = None, force: bool = False) -> list[Path]:
    "Build the static site for the notebooks in `nbs_path` into `out_path` (default: settings.ini `doc_path`)."
    nbs_path = Path(nbs_path).resolve()
    cfg = project_config(nbs_path)
    out_path = Path(out_path or cfg.doc_path).resolve()
    if out_path in (nbs_path, *nbs_path.parents) or (out_path.is_dir() and any(out_path.iterdir())
                                                       and not (out_path/'index.html').exists()):
        raise ValueError(f'refusing to replace {out_path}: not a site folder')
    proc = process_notebooks(nbs_path, force=force)
    rels = source_notebooks(nbs_path)
    pages = page_map(proc, rels)
    contents = load_sidebar(nbs_path)
    site_title = cfg.get('title') or cfg.get('lib_name', 'docs')
    site_url = (cfg.get('doc_host', '') + cfg.get('doc_baseurl', '')).rstrip('/')
    shutil.rmtree(out_path, ignore_errors=True)
    out_path.mkdir(parents=True)
    for f in ('site.css', SITE_JS): shutil.copy2(ASSETS/f, out_path/f)
    css = ['site.css'] + copy_assets(nbs_path, out_path)
    exporter = HTMLExporter(template_name='lab', exclude_input_prompt=True, exclude_output_prompt=True,
                            filters={'clean_html': _unsanitised})
    shared = template_css(exporter)
    (out_path/SHARED_CSS).write_text('\n'.join(shared + [dark_theme_css()]), encoding='utf-8')
    order = page_order(contents, pages)
    titles = {out: str(fm.get('title', Path(rel).stem)) for rel, (out, fm) in pages.items()}
    written, index = [], []
    for rel in rels:
        out, fm = pages[rel]
        body = render_page(exporter, proc/rel, titles[out])
        sidebar = sidebar_html(contents, pages, out, site_title, cfg.get('git_url', ''))
        dest = out_path/out
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(finish_page(body, rel, pages, sidebar, site_url, css, set(shared), site_title,
                                    pager_html(order, titles, out), index), encoding='utf-8')
        written.append(dest)
    write_search_index(index, out_path/SEARCH_INDEX)
    return written


def dark_theme_css() -> str:
    """JupyterLab's dark theme variables (nbconvert's `lab` template ships them), applied when the reader's system
    prefers a dark scheme: the notebook CSS and code highlighting read these variables, so one block switches both."""
    from jupyter_core.paths import jupyter_path
    for d in jupyter_path('nbconvert', 'templates', 'lab', 'static'):
        if (f := Path(d)/'theme-dark.css').exists():
            return f'@media (prefers-color-scheme: dark) {{\n{f.read_text(encoding="utf-8")}\n}}'
    return ''


def write_search_index(index: list[dict], dest: Path) -> None:
    "Write the search entries as a script (`window.PUFFIN_SEARCH = [...]`), which a page opened from file:// can load."
    data = json.dumps(index, ensure_ascii=False, separators=(',', ':')).replace('</', '<\\/')
    dest.write_text(f'window.PUFFIN_SEARCH = {data};\n', encoding='utf-8')


def read_search_index(path: Path) -> list[dict]:
    "The entries of a `search-index.js` written by `write_search_index`."
    text = path.read_text(encoding='utf-8').strip()
    return json.loads(text[text.index('=') + 1:].rstrip(';'))


# ---------------------------------------------------------------- README
def _indent(text: str) -> str:
    return '\n'.join(('    ' + l).rstrip() for l in text.rstrip('\n').splitlines())


def readme_title(fm: dict) -> list[str]:
    """The README's first blocks: the page title as `# title` and its description (the tagline under the title on the
    site) as a quote, as the notebook writes them (`# title` then `> description`). Quarto's gfm output, which
    `nbdev_readme` uses, keeps only the title; the tagline is kept here so the README opens as the home page does."""
    blocks = [f'# {fm["title"]}'] if fm.get('title') else []
    if fm.get('description'): blocks.append('\n'.join(('> ' + l).rstrip() for l in str(fm['description']).strip().splitlines()))
    return blocks


def render_readme(nbs_path: str | Path = 'nbs') -> tuple[str, dict[str, bytes]]:
    """GitHub markdown for the README notebook (settings.ini `readme_nb`), processed like `nbdev_readme`:
    hidden cells dropped, code as fenced blocks, text outputs indented, figures as files, links to notebooks relative
    (`nbs/api/00_model.ipynb`: the README is read in the repository; the site links to pages). Deterministic.
    Returns the markdown and the figure files (paths relative to the project root)."""
    nbs_path = Path(nbs_path).resolve()
    cfg = project_config(nbs_path)
    readme_nb = cfg.get('readme_nb', 'index.ipynb')
    proc = process_notebooks(nbs_path, only=readme_nb)  # other pages' names are nbdev's `_nbpath2html`
    nb, fm = read_processed(proc/readme_nb)
    stem = Path(readme_nb).stem
    blocks, files = readme_title(fm), {}

    root_rel = nbs_path.relative_to(cfg.config_path).as_posix()

    def link(m: re.Match) -> str:
        "A link to a notebook points at the notebook, relative to the README: it works on GitHub and in a clone."
        u = urlsplit(m[2])
        if u.scheme or u.netloc or not u.path.endswith(PAGE_EXTS): return m[0]
        target = posixpath.normpath(posixpath.join(root_rel, posixpath.dirname(readme_nb), u.path))
        return f'{m[1]}({target}{"#" + u.fragment if u.fragment else ""})'

    for i, cell in enumerate(apply_cell_options(nb)):
        if cell.cell_type == 'markdown':
            md = link_attrs(fenced_divs(cell.source, gfm=True), gfm=True)
            blocks.append(re.sub(r'(\]\s*)\(([^)\s]+)\)', link, md).strip('\n'))
            continue
        if cell.cell_type != 'code': continue
        if not cell.metadata.get('transient', {}).get('remove_source'): blocks.append(f'``` python\n{cell.source}\n```')
        for j, o in enumerate(cell.get('outputs', []), 1):
            d = o.get('data', {})
            if o.get('output_type') == 'stream': blocks.append(_indent(o.get('text', '')))
            elif 'image/png' in d:
                name = f'{stem}_files/figure-commonmark/cell-{i + 1}-output-{j}.png'
                files[name] = base64.b64decode(d['image/png'])
                blocks.append(f'![]({name})')
            elif 'text/markdown' in d: blocks.append(link_attrs(d['text/markdown'], gfm=True).strip('\n'))
            elif 'text/html' in d: blocks.append(d['text/html'].strip('\n'))
            elif 'text/plain' in d: blocks.append(_indent(d['text/plain']))
    md = '\n\n'.join(b for b in blocks if b.strip())
    return re.sub(r'\n{3,}', '\n\n', md).strip('\n') + '\n', files


def write_readme(nbs_path: str | Path = 'nbs', check: bool = False) -> bool:
    "Write README.md (and its figures) at the project root; with `check`, only report whether it is up to date."
    nbs_path = Path(nbs_path).resolve()
    root = project_config(nbs_path).config_path
    md, files = render_readme(nbs_path)
    readme = root/'README.md'
    fresh = readme.exists() and readme.read_text(encoding='utf-8') == md and all(
        (root/n).exists() and (root/n).read_bytes() == b for n, b in files.items())
    if check or fresh: return fresh
    readme.write_text(md, encoding='utf-8')
    for n, b in files.items():
        (root/n).parent.mkdir(parents=True, exist_ok=True)
        (root/n).write_bytes(b)
    return True


def main(argv: list[str] | None = None) -> int:
    "Command line entry point."
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--nbs', default=None, help='notebooks folder (default: settings.ini nbs_path)')
    ap.add_argument('--out', default=None, help='site folder (default: settings.ini doc_path)')
    ap.add_argument('--force', action='store_true', help='reprocess all notebooks, ignoring the _proc cache')
    ap.add_argument('--readme', action='store_true', help='write README.md instead of the site')
    ap.add_argument('--check', action='store_true', help='with --readme: exit 1 if README.md is stale')
    a = ap.parse_args(argv)
    nbs = Path(a.nbs or get_config().nbs_path)
    try: return _run(a, nbs)
    except Exception as e:  # nbdev's processing errors come from worker processes: show the cause, not two tracebacks
        cause = [l for l in str(e.__cause__ or '').splitlines() if re.match(r'^\w+(Error|Exception)\b', l)]
        print(f'build failed: {e}'.rstrip() + (f'\ncaused by: {cause[-1]}' if cause else ''), file=sys.stderr)
        return 1


def _run(a: argparse.Namespace, nbs: Path) -> int:
    if a.readme:
        ok = write_readme(nbs, check=a.check)
        if a.check and not ok: print('README.md is stale: run `python tools/build_site.py --readme`', file=sys.stderr)
        elif not a.check: print('README.md written')
        return 0 if ok else 1
    pages = build_site(nbs, a.out, force=a.force)
    print(f'built {len(pages)} pages into {Path(a.out or project_config(nbs.resolve()).doc_path)}')
    return 0


if __name__ == '__main__': sys.exit(main())
