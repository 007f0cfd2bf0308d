"""Cross-cutting pieces every context uses: errors, storage, Redis, rights, HTTP conventions."""
