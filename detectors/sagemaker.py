"""Built-in sagemaker plugin: not built yet (its issue adds the detector); registers nothing."""
