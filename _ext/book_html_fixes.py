"""Small fixes to the HTML that Jupyter Book 1 produces.

sphinx-thebe adds its inline configuration script (``const THEBE_JS_URL = ...``) twice to every
notebook page; the second copy redeclares a ``const`` and logs a console error in the browser.
This extension drops exact duplicate scripts from each page's script list.

The single-page build (``make pdf`` prints it) looks up node visitors under the builder's name,
``singlehtml``, and falls back to the ``html`` ones only when no extension registered any visitor
for ``singlehtml``. sphinx-exercise does, so myst-nb's hidden-cell node (registered for ``html``
only) would have no visitor there and the build would stop; its ``html`` visitors are copied over.

One search box on a wide screen: sphinx-book-theme 1.3 puts its search field in the sidebar and
leaves the top bar's items empty, but pydata-sphinx-theme 0.17 reads an empty ``navbar_persistent``
as unset and adds a second search field in a top bar of its own; the option is set to none here.
(On a phone, the sidebar is folded away and the article header's search button shows instead.)

The header's download menu of every page gets an entry for the whole book as one PDF,
``book.pdf`` at the root of the site: `make book` builds it (`make pdf`, tools/book_pdf.py) right
after the HTML, and the browser test follows the link, so that it is never dead.
"""

from __future__ import annotations

from typing import Any


def _script_key(script: Any) -> tuple[str, str]:
    attributes = getattr(script, "attributes", {}) or {}
    return (getattr(script, "filename", str(script)) or "", attributes.get("body", ""))


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple[str, str]] = set()
    unique = []
    for script in scripts:
        key = _script_key(script)
        if key in seen:
            continue
        seen.add(key)
        unique.append(script)
    context["script_files"] = unique


def _html_visitors_for_singlehtml(app) -> None:
    if app.builder.name != "singlehtml":
        return
    handlers = app.registry.translation_handlers
    single = handlers.setdefault("singlehtml", {})
    for node_name, visitors in handlers.get("html", {}).items():
        single.setdefault(node_name, visitors)


def _one_search_box(app, config) -> None:
    config.html_theme_options.setdefault("navbar_persistent", [])


def _add_book_pdf_to_download_menu(app, pagename, templatename, context, doctree) -> None:
    if app.builder.name != "html":
        return
    for button in context.get("header_buttons", []):
        if button.get("label") == "download-buttons":
            button["buttons"].append(
                {
                    "type": "link",
                    "url": context["pathto"](app.config.book_pdf, 1),
                    "text": "Book (PDF)",
                    "tooltip": "Download the whole book as one PDF",
                    "icon": "fas fa-book",
                    "label": "download-book-pdf-button",
                }
            )


def setup(app) -> dict[str, Any]:
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    app.connect("builder-inited", _html_visitors_for_singlehtml)
    app.connect("config-inited", _one_search_box)
    # A config value, so that its first appearance (or a new name) rewrites every page's header.
    app.add_config_value("book_pdf", "book.pdf", "html")
    # After sphinx-book-theme's add_header_buttons (priority 501), which builds the download menu.
    app.connect("html-page-context", _add_book_pdf_to_download_menu, priority=502)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
