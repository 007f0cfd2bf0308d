"""Schools: tenancy (region > municipality > school), the year, structure, people, timetable."""
