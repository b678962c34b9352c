"""The built-in website: the publisher of record. Every item exists here, off-platform, before it
goes anywhere else, and every post links back to it."""
