"""What both Kivy apps share: API client, typed answers, platform layer, texts, theme."""
