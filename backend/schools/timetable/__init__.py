"""The timetable: weekly entries, conflicts, generating lessons, lessons and changes, holidays."""
