"""Built-in lstm plugin: not built yet (its issue adds the detector); registers nothing."""
