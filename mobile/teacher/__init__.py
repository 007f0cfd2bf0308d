"""The teacher's tablet app: the day, the lesson's roster, offline first (decision 0700)."""
