"""School structure: tenancy, settings, the year, classes, groups, subjects, curriculum, bells."""
