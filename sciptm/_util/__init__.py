"""Small domain-free helpers shared across layers (foundation layer: no sciptm imports above it)."""
