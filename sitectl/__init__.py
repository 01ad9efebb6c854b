"""The site controller: several packs in parallel on one DC bus as one battery (docs/site.md)."""
