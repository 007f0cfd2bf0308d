"""`parta gateway`: the on-site process between a school's turnstile controllers and Parta.

Adapters read passes from the controllers; the outbox (SQLite) keeps every pass until the
server has acknowledged it; the uploader sends signed batches whenever the server answers.
Imports nothing from `backend` but the message catalogue: it runs on a small computer at the
school and talks to the server over HTTP only.
"""
