"""Built-in bedrock plugin: not built yet (its issue adds the detector); registers nothing."""
