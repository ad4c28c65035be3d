"""Ready-made plugins; name them in the config by module name (`dice`, `seen`...)."""
