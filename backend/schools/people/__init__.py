"""People: pupils, guardians and staff, personal files, consent, delegates, movement, import."""
