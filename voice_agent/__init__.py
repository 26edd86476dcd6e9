"""voice-agent: a local-first, multi-agent voice assistant for the terminal."""

__version__ = "0.1.0"
