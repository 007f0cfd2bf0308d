"""The family app (Kivy, phones): a parent's or pupil's diary, marks, homework and inbox."""
