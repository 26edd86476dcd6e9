"""Wake words: a detector per engine that gates turns until its word is heard."""
