"""The web admin: bulk-task pages of our own (`tasks`), piccolo_admin for system admins."""
