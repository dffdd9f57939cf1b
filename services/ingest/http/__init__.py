"""HTTP plumbing every webhook shares: bodies, forms, Basic auth, problem responses and the registry entry type."""
