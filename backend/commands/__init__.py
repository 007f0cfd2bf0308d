"""`parta` commands beyond the main ones in `backend.cli`; each starts through the bootstrap."""
