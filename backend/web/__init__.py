"""The staff web: server-rendered pages for school staff under /admin/web (decision 1000).

Litestar renders Jinja2 templates; HTMX (vendored in `static/`) swaps parts of a page; our own
small script drives the journal grid's keyboard. Sign-in is the web admin's (`session.py`): one
cookie for /admin, double-submit CSRF. Pages reach the contexts through their services only.
"""
