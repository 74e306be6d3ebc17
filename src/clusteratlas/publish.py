"""The static edition: every page of the observatory written to a folder any web host can serve.

``clusteratlas publish DIR`` renders the web pages through the FastAPI app itself (in-process, on a read-only
atlas), so the static edition shows exactly what the server shows, and whatever pages the app has: it starts
from the home page and the known routes (every region and every cluster at every level, each region with its
peers), follows the links of each page, and writes each page and each JSON or CSV answer it links to (its
"twins") as a file. Links are rewritten to relative file addresses with an HTML parser, so the folder works
from any sub-path of a host; ``app.js`` is told by ``<body data-static-root>`` where the root is, and names
the files it fetches (map shapes) and opens (a click on a map) the same way :func:`file_for` does.

What needs a server (uploads, token forms, comparisons of regions chosen in a form, other map settings) is not
published: such a form is replaced by a note that the static edition is read-only, and a link to an address
that was not published (an Excel download, the API explorer) loses its ``href``. The search page and the home
page's finder (its suggestions as one types) search a JSON index in the browser, with the keys folded as the
server's search folds what is typed (:func:`clusteratlas.queries.lookup.fold`) and the suggestions ranked as
:func:`clusteratlas.queries.lookup.suggest` ranks them (``app.js``: ``CA.suggestIn``).

The edition's manifest (``.clusteratlas-publish.json``) records what it was made from (the atlas version, as
the server's ``X-Atlas-Version``; the languages, levels and base URL; the clusteratlas version and a digest of
its code) and each file it wrote (size, modification time, SHA-256). Re-publishing when all of that is the same
and every file is still as written (same size and modification time) does nothing; otherwise every page is
rendered again and only the files whose content changed are written, and files the previous edition published
that this one does not are removed (other files in the folder are left alone).
"""

from __future__ import annotations

import hashlib
import html
import json
import posixpath
import re
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit
from xml.sax.saxutils import escape as xml_escape

from clusteratlas.errors import InputError
from clusteratlas.i18n import LANGUAGES, _

#: The edition's manifest, in its folder: what it was made from and the files it wrote (what a re-publish may
#: remove, and what it checks to know that nothing needs doing).
MANIFEST = ".clusteratlas-publish.json"
#: The manifest's layout (1: a bare list of files, before the edition recorded what it was made from).
MANIFEST_FORMAT = 2
#: Query parameters a published page may have (besides ``lang``, which is the folder): other variants of a page
#: (map metric, classes, a comparison chosen in a form) need the server.
PAGE_PARAMS = frozenset({"level", "peers"})
#: Query parameters of an API answer that only choose its form, not its content (``format`` is the extension).
FORM_PARAMS = frozenset({"format", "bom", "lang"})
#: The note that replaces a form needing the server (in the pages' catalogue, web.po).
READ_ONLY = "The static edition is read-only: this form needs the server (clusteratlas serve)."
_SAFE = re.compile(r"[A-Za-z0-9-]")
#: Between the folded code and names of a search-index key: a line break, which no typed (one-line, trimmed)
#: query holds, so a query matches within one name as the server's search does, never across two.
KEY_SEPARATOR = "\n"


# ------------------------------------------------------------------ addresses
def safe(text: str) -> str:
    """``text`` as a file-name part: letters, digits and ``-`` kept, every other byte of its UTF-8 as ``_XX``.

    Injective and plain ASCII, so a published name needs no quoting in a link and is valid on any host; app.js
    (``safe`` in static mode) encodes the same way."""
    return "".join(c if _SAFE.fullmatch(c) else "".join(f"_{b:02X}" for b in c.encode()) for c in text)


def file_for(path: str, params: dict[str, str], lang: str) -> str:
    """The published file of an address: ``/regions/06085?level=county`` in English is
    ``en/regions/06085~level=county.html``; ``/api/v1/regions/06085?format=csv`` is
    ``api/v1/regions/06085.csv`` (API answers are the same in both languages)."""
    api = path.startswith("/api/")
    parts = [safe(unquote(p)) for p in path.strip("/").split("/") if p] or ["index"]
    if api:
        ext = params.get("format") or "json"
        kept = {k: v for k, v in params.items() if k not in FORM_PARAMS}
    else:
        ext, kept = "html", {k: v for k, v in params.items() if k != "lang"}
        parts.insert(0, lang)
    suffix = "".join(f"~{safe(k)}={safe(v)}" for k, v in sorted(kept.items()))
    return "/".join(parts) + suffix + "." + ext


@dataclass(frozen=True)
class Address:
    """One thing to publish: a page in a language, or an API answer (``lang`` None)."""

    path: str
    query: tuple[tuple[str, str], ...]
    lang: str | None

    @property
    def file(self) -> str:
        return file_for(self.path, dict(self.query), self.lang or "en")

    @property
    def url(self) -> str:
        """The address the app is asked (pages in their language)."""
        params = [*self.query, *((("lang", self.lang),) if self.lang else ())]
        return self.path + ("?" + urlencode(params) if params else "")


@dataclass(frozen=True)
class Scope:
    """What is published: the region levels (None: all), the level of each region or cluster that has
    results at one level only (its page without ``?level=`` is that level's page: one file, not two), and the
    languages."""

    levels: frozenset[str] | None = None
    single: dict[str, str] = field(default_factory=dict)
    langs: frozenset[str] = frozenset(LANGUAGES)


def _address(href: str, lang: str, scope: Scope) -> Address | None:
    """What an internal link of a page in ``lang`` points to, if the static edition publishes it; else None."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    path = quote(unquote(parts.path), safe="/")
    levels = scope.levels
    if path.startswith("/api/"):
        if not path.startswith("/api/v1/") or params.get("format", "json") not in ("json", "csv"):
            return None  # the API explorer, an Excel download
        return Address(path, tuple(sorted((k, v) for k, v in params.items() if k not in ("lang",))), None)
    if path.startswith("/static/"):
        return None
    target = i18n_lang(params.pop("lang", None)) or lang
    if target not in scope.langs:  # the language switch of an edition in one language
        return None
    if path == "/search":
        params = {}  # one search page: the browser searches the index
    if "level" not in params and unquote(path) in scope.single:
        params["level"] = scope.single[unquote(path)]
    if set(params) - PAGE_PARAMS or (levels is not None and params.get("level", "") not in levels | {""}):
        return None
    return Address(path, tuple(sorted(params.items())), target)


def i18n_lang(value: str | None) -> str | None:
    from clusteratlas import i18n

    lang = i18n.normalise(value)
    return lang if lang in LANGUAGES else None


# ------------------------------------------------------------------ the HTML rewriter
class _Rewriter(HTMLParser):
    """Re-writes a page token by token: links to relative files, server-only forms to a note.

    Everything it does not change is written back as it came (tags, text, scripts, comments)."""

    def __init__(self, link: Callable[[str], str | None], note: str, root: str, extra_head: str) -> None:
        super().__init__(convert_charrefs=False)
        self.link, self.note, self.root, self.extra_head = link, note, root, extra_head
        self.out: list[str] = []
        self.skip = 0  # inside a removed form

    def _emit(self, text: str) -> None:
        if not self.skip:
            self.out.append(text)

    def _tag(self, tag: str, attrs: list[tuple[str, str | None]], close: bool) -> str:
        body = "".join(f" {k}" if v is None else f' {k}="{html.escape(v, quote=True)}"' for k, v in attrs)
        return f"<{tag}{body}{' /' if close else ''}>"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, close=False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, close=True)

    def _start(self, tag: str, attrs: list[tuple[str, str | None]], close: bool) -> None:
        if self.skip:
            self.skip += tag == "form"
            return
        given = dict(attrs)
        if tag == "form":
            action = given.get("action")
            if (given.get("method") or "get").lower() != "get" or not action or not action.startswith("/search"):
                # a form needs the server (an upload, a token, a page variant chosen in the form): say so
                self.out.append(f'<p class="note static-note">{html.escape(self.note)}</p>')
                self.skip = 1
                return
        changed = list(attrs)
        for key in ("href", "src", "action"):
            value = given.get(key)
            if value is None or not value.startswith("/"):
                continue
            new = self.link(value)
            changed = [(k, v) for k, v in changed if k != key] if new is None else \
                [(k, new if k == key else v) for k, v in changed]
        if tag == "body":
            changed.append(("data-static-root", self.root))
        self.out.append(self._tag(tag, changed, close) if changed != attrs else self.get_starttag_text() or "")

    def handle_endtag(self, tag: str) -> None:
        if self.skip:
            self.skip -= tag == "form"
            return
        if tag == "head" and self.extra_head:
            self.out.append(self.extra_head)
        self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        self._emit(data)

    def handle_entityref(self, name: str) -> None:
        self._emit(f"&{name};")

    def handle_charref(self, name: str) -> None:
        self._emit(f"&#{name};")

    def handle_comment(self, data: str) -> None:
        self._emit(f"<!--{data}-->")

    def handle_decl(self, decl: str) -> None:
        self._emit(f"<!{decl}>")

    def handle_pi(self, data: str) -> None:
        self._emit(f"<?{data}>")

    def unknown_decl(self, data: str) -> None:
        self._emit(f"<![{data}]>")


def rewrite(page: str, here: str, lang: str, scope: Scope,
            found: Callable[[Address], bool]) -> tuple[str, list[Address]]:
    """A page's HTML with its links relative to its file ``here``, and the addresses it links to.

    ``found(address)`` says whether an address is (or will be) published; a link to one that is not loses its
    ``href`` (it stays as text)."""
    linked: list[Address] = []
    base = posixpath.dirname(here)
    root = posixpath.relpath(".", base) + "/" if base else ""

    def link(href: str) -> str | None:
        if href.startswith("/static/"):
            return posixpath.relpath(href.lstrip("/"), base or ".")
        address = _address(href, lang, scope)
        if address is None or not found(address):
            return None
        linked.append(address)
        fragment = urlsplit(href).fragment
        return posixpath.relpath(address.file, base or ".") + (f"#{fragment}" if fragment else "")

    search = _search_head(root, lang) if here.endswith("/search.html") else ""
    from clusteratlas.server.web import translate

    parser = _Rewriter(link, translate(lang, READ_ONLY), root, search)
    parser.feed(page)
    parser.close()
    return "".join(parser.out), linked


def _search_head(root: str, lang: str) -> str:
    """What the search page of the static edition adds: its labels in ``lang`` and the in-browser search."""
    from clusteratlas.model import REGION_LEVELS
    from clusteratlas.server.web import translate

    labels = {"regions": translate(lang, "Regions"), "clusters": translate(lang, "Clusters"),
              "nothing": translate(lang, "Nothing found."),
              "levels": {level: translate(lang, level) for level in REGION_LEVELS}}
    text = json.dumps(labels, ensure_ascii=False).replace("<", "\\u003c")
    return (f'<script type="application/json" id="search-labels">{text}</script>\n'
            f'<script src="{root}static/search.js" defer></script>\n')


# ------------------------------------------------------------------ writing
@dataclass
class Edition:
    """What a publish did: files written, unchanged and removed, and the pages it could not render.

    ``current`` is True when the edition was already up to date (same atlas version, options and code, every
    file as written): nothing was rendered, and the counts are the edition's as its manifest records them."""

    folder: Path
    written: int = 0
    unchanged: int = 0
    removed: int = 0
    pages: int = 0
    files: int = 0
    size: int = 0
    skipped: list[str] = field(default_factory=list)
    current: bool = False

    def as_dict(self) -> dict:
        return {"folder": str(self.folder), "written": self.written, "unchanged": self.unchanged,
                "removed": self.removed, "pages": self.pages, "files": self.files, "bytes": self.size,
                "skipped": self.skipped, "current": self.current}


@dataclass(frozen=True)
class Manifest:
    """An edition's manifest: what it was made from (``source``: atlas version, options, clusteratlas version and
    code digest), its page count, and each file's (size, modification time in ns, SHA-256) as written."""

    source: dict[str, Any]
    pages: int
    files: dict[str, tuple[int, int, str]]

    @classmethod
    def read(cls, folder: Path) -> Manifest | None:
        """The manifest in ``folder`` (one of format 1 lists files only: nothing matches its source), or None."""
        path = folder / MANIFEST
        if not path.is_file():
            return None
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            if doc.get("format") != MANIFEST_FORMAT:
                return cls({}, 0, {str(f): (-1, -1, "") for f in doc.get("files", [])})
            return cls(dict(doc["source"]), int(doc["pages"]), {str(f): (int(a), int(b), str(c)) for f, (a, b, c)
                                                                in doc["files"].items()})
        except (OSError, ValueError, KeyError, TypeError, AttributeError):  # unreadable: as if there were none
            return None

    def write(self, folder: Path) -> None:
        doc = {"format": MANIFEST_FORMAT, "source": self.source, "pages": self.pages,
               "files": {f: list(v) for f, v in sorted(self.files.items())}}
        _write(folder / MANIFEST, json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode())

    def intact(self, folder: Path) -> bool:
        """Whether every file listed is in ``folder`` with the size and modification time it was written with
        (a stat per file, no reading: an edit that keeps both is not seen; ``publish --force`` renders anyway)."""
        for relative, (size, mtime, _sha) in self.files.items():
            try:
                st = (folder / relative).stat()
            except OSError:
                return False
            if (st.st_size, st.st_mtime_ns) != (size, mtime):
                return False
        return True


def source_of(atlas_version: str, langs: list[str], levels: Iterable[str] | None, base_url: str | None,
              code: str) -> dict[str, Any]:
    """What an edition is made from, as its manifest records it: the atlas version, the options, and the
    clusteratlas version with ``code``, the digest of its code (:func:`_code_digest`: templates, scripts,
    catalogues and queries make the pages, so a new version or an edited checkout renders again)."""
    from clusteratlas import __version__

    return {"atlas": atlas_version, "langs": list(langs), "levels": sorted(levels) if levels else None,
            "base_url": base_url, "clusteratlas": __version__, "code": code}


def _code_digest() -> str:
    """SHA-256 of the installed package's files (about 5 MB: milliseconds)."""
    package = Path(__file__).parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(package).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


class _Folder:
    """The edition's folder: writes a file only when its content differs from what is there.

    Whether it differs is known from the previous manifest's SHA-256 when the file still has the size and
    modification time recorded there (no reading), else by reading the file."""

    def __init__(self, root: Path, edition: Edition, before: Manifest | None) -> None:
        self.root, self.edition = root, edition
        self.before = before.files if before is not None else {}
        self.entries: dict[str, tuple[int, int, str]] = {}
        self.written: set[str] = set()

    @property
    def files(self) -> set[str]:
        return set(self.entries)

    def put(self, relative: str, content: bytes, *, again: bool = False) -> None:
        """Write ``content`` to ``relative`` unless it holds it already (or, unless ``again``, was put before)."""
        if relative in self.entries and not again:
            return
        digest = _digest(content)
        target = self.root / relative
        try:
            st = target.stat()
        except OSError:
            st = None
        if st is not None:
            size, mtime, recorded = self.before.get(relative, (-1, -1, ""))
            same = (recorded == digest if (st.st_size, st.st_mtime_ns) == (size, mtime)
                    else st.st_size == len(content) and _digest(target.read_bytes()) == digest)
            if same:
                self.entries[relative] = (st.st_size, st.st_mtime_ns, digest)
                self.written.discard(relative)
                return
        target.parent.mkdir(parents=True, exist_ok=True)
        _write(target, content)
        st = target.stat()
        self.entries[relative] = (st.st_size, st.st_mtime_ns, digest)
        self.written.add(relative)

    def finish(self, source: dict[str, Any]) -> None:
        """Remove what the previous edition published and this one did not; record this edition's manifest."""
        for relative in sorted(set(self.before) - self.files):
            gone = self.root / relative
            if gone.is_file():
                gone.unlink()
                self.edition.removed += 1
                for parent in gone.parents:  # empty folders left behind go too
                    if parent == self.root or any(parent.iterdir()):
                        break
                    parent.rmdir()
        Manifest(source, self.edition.pages, self.entries).write(self.root)
        self.edition.files = len(self.entries)
        self.edition.size = sum(size for size, _mtime, _sha in self.entries.values())
        self.edition.written = len(self.written)
        self.edition.unchanged = len(self.entries) - len(self.written)


def _write(target: Path, content: bytes) -> None:
    """Write through a temporary name and rename: a reader of the folder never sees half a file."""
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(content)
    partial.replace(target)


def _digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _check_folder(folder: Path) -> None:
    """A folder to publish into: new, empty, or a previous edition (nothing else is overwritten)."""
    if folder.exists() and not folder.is_dir():
        raise InputError(_("the edition's folder is a file"), value=str(folder), expected=_("a folder"))
    if folder.is_dir() and any(folder.iterdir()) and not (folder / MANIFEST).is_file():
        raise InputError(_("the folder holds files that are not a static edition"), value=str(folder),
                         expected=_("an empty folder, or one that clusteratlas publish wrote"),
                         hint=_("Choose another folder, or empty this one"))


# ------------------------------------------------------------------ publish
def publish(atlas: str | Path, folder: str | Path, *, langs: Iterable[str] = LANGUAGES,
            levels: Iterable[str] | None = None, base_url: str | None = None, force: bool = False,
            progress: Callable[[int, int], None] | None = None) -> Edition:
    """Write the static edition of ``atlas`` to ``folder`` (see the module's docstring).

    Parameters
    ----------
    atlas, folder
        The atlas file (opened read-only: a running server may keep it) and the edition's folder.
    langs
        Languages of the pages (each in its own sub-folder: ``en/``, ``ja/``).
    levels
        Region levels to publish (default: every level the map computed).
    base_url
        The address the folder will be served at; the sitemap's URLs are then absolute (the sitemap protocol
        asks for them), else relative to the folder.
    force
        Render every page even when the edition is up to date (same atlas version, options and code, every
        file as written); only files whose content changed are written all the same.
    progress
        Called with (done, known) as pages are written (the command line's progress bar).
    """
    import warnings

    from clusteratlas.store.access import identity, version_of

    langs = list(dict.fromkeys(langs))
    bad = [x for x in langs if x not in LANGUAGES]
    if bad or not langs:
        raise InputError(_("unknown language"), value=",".join(bad), expected=", ".join(LANGUAGES))
    levels = list(dict.fromkeys(levels)) if levels else None
    atlas, root = Path(atlas), Path(folder)
    if not atlas.is_file():
        raise InputError(_("no atlas file"), value=str(atlas), expected=_("an atlas made by clusteratlas init"))
    _check_folder(root)
    before = Manifest.read(root)
    code = _code_digest()  # of the code that renders this edition (taken before, not after, the rendering)
    if not force and before is not None and before.source == source_of(
            version_of(atlas, identity(atlas)), langs, levels, base_url, code) and before.intact(root):
        return Edition(root, unchanged=len(before.files), pages=before.pages, files=len(before.files),
                       size=sum(size for size, _mtime, _sha in before.files.values()), current=True)

    with warnings.catch_warnings():  # starlette's notice about its own httpx use; nothing to do here
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    from clusteratlas import queries as Q
    from clusteratlas.queries._core import level_counts
    from clusteratlas.server import Settings, create_app

    app = create_app(Settings(atlas=str(atlas), read_only=True, cache_mb=0, warm=False))
    edition = Edition(root)
    out = _Folder(root, edition, before)
    root.mkdir(parents=True, exist_ok=True)
    with TestClient(app, follow_redirects=False) as client:
        # the version the pages are rendered from (a write during the publish moves the file's version past it:
        # the next publish then renders again)
        version = app.state.service.stamp()[0]
        con = app.state.service.reader()
        region_levels, cluster_levels = Q.region_levels(con), Q.cluster_levels(con)
        known = sorted(level_counts(con)) if region_levels else []  # the levels with results
        chosen = levels or known
        unknown = [x for x in chosen if x not in known]
        if unknown:
            raise InputError(_("no results at this level"), value=",".join(unknown),
                             expected=_("one of {levels}").format(levels=", ".join(known) or "–"),
                             hint=_("Run 'clusteratlas map' at that level first"))
        single = {f"/{kind}/{item}": found[0] for kind, items in (("regions", region_levels),
                                                                  ("clusters", cluster_levels))
                  for item, found in items.items() if len(found) == 1}
        scope = Scope(frozenset(chosen) if levels else None, single, frozenset(langs))
        _crawl(client, out, _seeds(chosen, region_levels, cluster_levels), langs, scope, edition, progress)
        for level in Q.geometry_levels(con):  # the maps' shapes, which app.js fetches
            _answer(client, out, Address(f"/api/v1/geometry/{level}", (), None), edition)
        out.put("search-index.json", _search_index(con, out.files, langs[0], scope))
    _copy_static(out)
    out.put("index.html", _root_page(langs))
    out.put("sitemap.xml", _sitemap(sorted(f for f in out.files if f.endswith(".html") and "/" in f), base_url))
    out.finish(source_of(version, langs, levels, base_url, code))
    return edition


def _seeds(levels: list[str], region_levels: dict[str, list[str]],
           cluster_levels: dict[str, list[str]]) -> list[str]:
    """The known routes: home, search, comparisons, evaluations, every region and cluster at each level (from
    :func:`~clusteratlas.queries.region_levels` and :func:`~clusteratlas.queries.cluster_levels`), and each
    region compared with its peers."""
    seeds = ["/", "/search", "/compare", "/evaluations"]
    for level in levels:
        regions = [r for r, found in region_levels.items() if level in found]
        clusters = [c for c, found in cluster_levels.items() if level in found]
        seeds += [_page("regions", r, level) for r in regions] + [_page("clusters", c, level) for c in clusters]
        seeds += [f"/compare?peers={_quote(r)}" for r in regions]
    return seeds


def _quote(value: str) -> str:
    return quote(value, safe="")


def _page(kind: str, item: str, level: str) -> str:
    return f"/{kind}/{_quote(item)}?level={_quote(level)}"


def _crawl(client, out: _Folder, seeds: list[str], langs: list[str], scope: Scope, edition: Edition,
           progress: Callable[[int, int], None] | None) -> None:
    """Render every seed page in every language and everything they link to, breadth first.

    A link is written before its target is asked; a target the app then has no page for (a 404) is published
    by no file, so the few pages that link to one are rendered again with that link taken out."""
    queue: deque[Address] = deque()
    seen: set[Address] = set()
    missing: set[Address] = set()
    links: dict[Address, list[Address]] = {}

    def add(address: Address) -> None:
        if address not in seen:
            seen.add(address)
            queue.append(address)

    for lang in langs:
        for href in seeds:
            address = _address(href, lang, scope)
            if address is not None:
                add(address)

    def page(address: Address, again: bool = False) -> bool:
        response = client.get(address.url)
        if response.status_code != 200 or "text/html" not in response.headers.get("content-type", ""):
            edition.skipped.append(f"{address.url} ({response.status_code})")
            return False
        body, linked = rewrite(response.text, address.file, address.lang or "en", scope,
                               lambda a: a not in missing)
        links[address] = linked
        out.put(address.file, body.encode(), again=again)
        return True

    done = 0
    while queue:
        address = queue.popleft()
        if address.lang is None:
            ok = _answer(client, out, address, edition)
        else:
            ok = page(address)
            for target in links.get(address, []):
                add(target)
            done += ok
            if progress is not None:
                progress(done, done + len(queue))
        if not ok:
            missing.add(address)
    for address, linked in links.items():
        if missing.intersection(linked):
            page(address, again=True)
    edition.pages = done


def _answer(client, out: _Folder, address: Address, edition: Edition) -> bool:
    """Write one API answer (JSON or CSV); False when the app has none at that address."""
    response = client.get(address.url)
    if response.status_code != 200:
        edition.skipped.append(f"{address.url} ({response.status_code})")
        return False
    out.put(address.file, response.content)
    return True


def _search_index(con, files: set[str], lang: str, scope: Scope) -> bytes:
    """The search box's index: each published region and cluster page with its names and a key folded as the
    server's search folds what is typed (width, case, kana), so the browser only folds the query."""
    from clusteratlas import queries as Q
    from clusteratlas.queries.lookup import fold

    def page_of(kind: str, item: str) -> str | None:
        address = _address(f"/{kind}/{_quote(item)}", lang, scope)
        return address.file if address is not None and address.file in files else None

    entries = []
    mapped = set(Q.region_levels(con))
    known: dict[str, dict[str, Any]] = {}
    for row in Q.known_regions(con):  # by level and id, as the server's search lists them
        known.setdefault(row["region"], row)
    for region, row in known.items():
        page = page_of("regions", region) if region in mapped else None
        if page is None:
            continue
        en, ja = row["name"], row["name_ja"]
        entries.append({"t": "region", "id": region, "n": en, "j": ja, "l": row["level"],
                        "p": page.split("/", 1)[1], "k": KEY_SEPARATOR.join(fold(x) for x in (region, en, ja) if x)})
    try:
        clusters = Q.list_clusters(con).rows()
    except Q.Missing:
        clusters = []
    for row in clusters:
        page = page_of("clusters", row["cluster"])
        if page is None:
            continue
        entries.append({"t": "cluster", "id": row["cluster"], "n": row.get("cluster_name"),
                        "j": row.get("cluster_name_ja"), "p": page.split("/", 1)[1],
                        "k": KEY_SEPARATOR.join(fold(row.get(k)) for k in ("cluster", "cluster_name",
                                                                           "cluster_name_ja") if row.get(k))})
    return json.dumps({"entries": entries}, ensure_ascii=False, separators=(",", ":")).encode()


def _copy_static(out: _Folder) -> None:
    """The vendored scripts and style sheet (ECharts and its licence included)."""
    from clusteratlas.server.web import HERE

    static = HERE / "static"
    for path in sorted(static.rglob("*")):
        if path.is_file():
            out.put("static/" + path.relative_to(static).as_posix(), path.read_bytes())


def _root_page(langs: list[str]) -> bytes:
    """The folder's own index.html: it sends the visitor to the home page of the first language and links the
    others (relative, so any sub-path works)."""
    names = {"en": "English", "ja": "日本語"}
    target = f"{langs[0]}/index.html"
    links = " · ".join(f'<a href="{x}/index.html" hreflang="{x}">{names.get(x, x)}</a>' for x in langs)
    return (f'<!doctype html>\n<html><head><meta charset="utf-8"><title>Cluster atlas</title>'
            f'<meta http-equiv="refresh" content="0; url={target}"></head>'
            f'<body><p>{links}</p></body></html>\n').encode()


def _sitemap(pages: list[str], base_url: str | None) -> bytes:
    """sitemap.xml of the pages: absolute URLs under ``base_url``, else relative to the folder."""
    base = (base_url.rstrip("/") + "/") if base_url else ""
    rows = "".join(f"<url><loc>{xml_escape(base + p)}</loc></url>\n" for p in pages)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            + rows + "</urlset>\n").encode()
