"""The pack controller: a pure core (registry, pack state) and its async shell."""
