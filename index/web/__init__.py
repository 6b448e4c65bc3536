"""Articles from the open web: a guarded, bounded fetcher, RSS/Atom feeds, feed rounds into the index."""
