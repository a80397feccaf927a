"""Review: the gallery (`review`), what changed since a git revision (`diff`), one variant (`show`)."""
