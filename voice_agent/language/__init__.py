"""English as people say it: reading spoken numbers, and phrasing answers for speech."""
