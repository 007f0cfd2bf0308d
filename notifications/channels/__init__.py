"""Delivery channels, each behind one interface (`Channel`), each with its real client library."""
