"""School meals: the pupil's account (a double-entry ledger), menus, benefits and orders."""
